/**
 * Pieces shared by the prompted segmenters: the weight-decay grouping, strict learnable-state
 * loading, the upsampler mixing rule, and an LRU cache of frozen per-image features.
 */
import { createHash } from 'node:crypto';
import { Tensor, nn, noGrad, keep, stack, tensor, type optim } from '../torch/index.js';
import type { QuirkMode } from '../learners/types.js';

export type { QuirkMode };

/** The reference `ImageTextMaskModule.get_optim_groups` whitelist: Linear and Conv weights decay. */
function isDecayModule(m: nn.Module): boolean {
  return m instanceof nn.Linear || m instanceof nn.Conv2d || m instanceof nn.ConvTranspose2d;
}

/**
 * AdamW groups over the trainable parameters of `root`: weight decay on Linear / Conv /
 * ConvTranspose weights and on `*proj_weight` (attention in-projections), none on biases,
 * norms, embeddings, prompt vectors, residual_ratio (the reference's get_optim_groups).
 * Returns the decayed names too (tests, `inspect`).
 */
export function decayGroups(root: nn.Module, weightDecay: number): { groups: optim.ParamGroupInput[]; decayed: string[]; other: string[] } {
  const decay = new Map<Tensor, string>();
  const rest = new Map<Tensor, string>();
  const names = new Map(root.namedParameters().map(([n, t]) => [t, n] as const));
  for (const [, m] of root.namedModules()) {
    for (const [pn, t] of m._parameters) {
      if (t === null || !t.requiresGrad || decay.has(t) || rest.has(t)) continue;
      const full = names.get(t) ?? pn;
      if (pn.endsWith('proj_weight') || (pn === 'weight' && isDecayModule(m))) decay.set(t, full);
      else rest.set(t, full);
    }
  }
  return {
    groups: [
      { params: [...decay.keys()], weightDecay },
      { params: [...rest.keys()], weightDecay: 0 },
    ],
    decayed: [...decay.values()],
    other: [...rest.values()],
  };
}

export class LearnableStateError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: string[],
  ) {
    super(message);
    this.name = 'LearnableStateError';
  }
}

/** Strict copy of `state` into `own` (same names and shapes); nothing is modified on error. */
export function loadStateStrict(own: Map<string, Tensor>, state: Map<string, Tensor>, who: string, source?: string, hint?: string): void {
  const missing = [...own.keys()].filter((k) => !state.has(k));
  const unexpected = [...state.keys()].filter((k) => !own.has(k));
  const mismatched: string[] = [];
  for (const [k, t] of own) {
    const s = state.get(k);
    if (s && s.shape.join(',') !== t.shape.join(','))
      mismatched.push(`${k}: expected [${t.shape.join(', ')}], got [${s.shape.join(', ')}]`);
  }
  if (missing.length || unexpected.length || mismatched.length) {
    const list = (xs: string[]): string => (xs.length > 12 ? [...xs.slice(0, 12), `... (${xs.length - 12} more)`] : xs).join(', ');
    const parts = [
      missing.length ? `missing (${missing.length}): ${list(missing)}` : '',
      unexpected.length ? `unexpected (${unexpected.length}): ${list(unexpected)}` : '',
      mismatched.length ? `shape mismatch: ${list(mismatched)}` : '',
    ].filter(Boolean);
    throw new LearnableStateError(
      `${who}: cannot load the learnable state${source ? ` from ${source}` : ''}: ${parts.join('; ')}` + (hint ? ` (${hint})` : ''),
      missing,
      unexpected,
      mismatched,
    );
  }
  noGrad(() => {
    for (const [k, t] of own) {
      const s = state.get(k)!;
      if (s.dtype === t.dtype && s.device === t.device) t.copy_(s);
      else {
        const c = s.to(t.dtype, t.device);
        t.copy_(c);
        c.dispose();
      }
    }
  });
}

/** How logits and the additive (upsampler) output combine. */
export type MixRule = 'none' | 'add' | 'residual';

/** (1 - r)·logits + r·additive, logits + additive, or logits alone. */
export function mixLogits(rule: MixRule, logits: Tensor, additive: () => Tensor, r: Tensor): Tensor {
  if (rule === 'none') return logits;
  const a = additive();
  if (rule === 'add') return logits.add(a);
  return logits.mul(r.rsub(1)).add(a.mul(r));
}

// ------------------------------------------------------------------------ frozen cache

/** A content key for one image of a batch (sha1 of its float32 bytes and shape). */
export function imageKey(pixels: Tensor, index: number): string {
  const img = pixels.select(0, index);
  const c = img.device === 'cpu' && img.isContiguous ? img : img.contiguous().to('cpu');
  try {
    const h = createHash('sha1');
    h.update(c.shape.join('x'));
    h.update(c.dataView() as unknown as Uint8Array);
    return h.digest('hex');
  } finally {
    if (c !== img) c.dispose();
    img.dispose();
  }
}

/**
 * LRU cache of frozen, prompt-independent per-image features (tensors owned by the cache).
 * `maxBytes` 0 disables it. Entries are dropped oldest-first when the budget is exceeded.
 */
export class FrozenFeatureCache {
  readonly #entries = new Map<string, { tensors: Tensor[]; bytes: number }>();
  #bytes = 0;
  hits = 0;
  misses = 0;
  constructor(readonly maxBytes: number) {}

  get enabled(): boolean {
    return this.maxBytes > 0;
  }
  get bytes(): number {
    return this.#bytes;
  }
  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Tensor[] | undefined {
    const e = this.#entries.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.tensors;
  }

  /** Stores detached copies (kept alive) of `tensors` under key. */
  set(key: string, tensors: Tensor[]): void {
    if (!this.enabled) return;
    const bytes = tensors.reduce((s, t) => s + t.numel * 4, 0);
    if (bytes > this.maxBytes) return;
    const old = this.#entries.get(key);
    if (old) this.#drop(key, old);
    const owned = noGrad(() => tensors.map((t) => keep(t.detach().contiguous().clone())));
    this.#entries.set(key, { tensors: owned, bytes });
    this.#bytes += bytes;
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#drop(k, e);
    }
  }

  #drop(key: string, e: { tensors: Tensor[]; bytes: number }): void {
    for (const t of e.tensors) t.dispose();
    this.#bytes -= e.bytes;
    this.#entries.delete(key);
  }

  clear(): void {
    for (const [k, e] of [...this.#entries]) this.#drop(k, e);
  }

  /**
   * A frozen, prompt-independent computation over a batch, served per image from the cache:
   * `compute` runs only on the images not cached yet (all of them on a miss of the whole batch)
   * and returns batch-first tensors; their rows are cached by image content. Returns the tensors
   * for the whole batch (compute's own when nothing was cached, else rows stacked in batch order).
   */
  perImage(pixels: Tensor, compute: (pixels: Tensor) => Tensor[]): Tensor[] {
    const B = pixels.size(0);
    const keys = Array.from({ length: B }, (_, b) => imageKey(pixels, b));
    const found = keys.map((k) => this.get(k));
    const missing = found.flatMap((f, b) => (f ? [] : [b]));
    if (missing.length > 0) {
      const sub =
        missing.length === B
          ? pixels
          : pixels.indexSelect(
              0,
              tensor(
                BigInt64Array.from(missing, (b) => BigInt(b)),
                [missing.length],
              ).to(pixels.device),
            );
      const r = compute(sub);
      missing.forEach((b, j) => {
        const entry = r.map((t) => t.select(0, j));
        this.set(keys[b]!, entry);
        found[b] = entry;
      });
      if (missing.length === B) return r;
    }
    return found[0]!.map((_, i) =>
      stack(
        found.map((f) => f![i]!),
        0,
      ),
    );
  }
}

/** A tokenizer's batch (padded to the longest) as the int64 [B, L] tensors a Segmenter takes. */
export function textInputsFrom(enc: { inputIds: number[][]; attentionMask: number[][] }): { inputIds: Tensor; attentionMask: Tensor } {
  const B = enc.inputIds.length;
  const seqLen = enc.inputIds[0]?.length ?? 0;
  const flat = (rows: number[][]): BigInt64Array => BigInt64Array.from(rows.flat(), (x) => BigInt(x));
  return { inputIds: tensor(flat(enc.inputIds), [B, seqLen]), attentionMask: tensor(flat(enc.attentionMask), [B, seqLen]) };
}
