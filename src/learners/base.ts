/**
 * Pieces shared by the learners (each learner's own folder holds its options schema, its class and
 * its registry entry; the option groups they share are in options.ts): the constructors' common
 * opening (options, vision tower, depth), context-vector initialisation (random or from a context
 * initializer text, quirk 6), the MLP / LoRA-style projection builders, and the base class.
 *
 * Reference: github.com/naamiinepal/tunevlseg @ 7956bcd, src/models/core_models/coop/context_learner/
 * (base_unimodal_learner.py, coop_context_learner.py, base_projector_learner.py).
 */
import { z } from 'zod';
import { Tensor, cat, empty, nn, noGrad, tensor, tidy } from '../torch/index.js';
import { formatIssues, type IntermediateDim } from './options.js';
import {
  LearnerConfigError,
  type ContextLearner,
  type EncoderLayout,
  type LearnerHost,
  type LearnerName,
  type PromptPair,
} from './types.js';

/** Parses learner options with a strict zod schema; errors name the learner and every bad key. */
export function parseOptions<S extends z.ZodType>(schema: S, name: LearnerName, raw: unknown): z.output<S> {
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw new LearnerConfigError(formatIssues(r.error.issues as never, `learner ${name}`));
  return r.data;
}

// ------------------------------------------------------------------------------ validation

export function checkDepth(depth: number, host: LearnerHost, name: LearnerName): void {
  if (!Number.isInteger(depth) || depth < 1) throw new LearnerConfigError(`learner ${name}: depth must be an integer >= 1, got ${depth}`);
  if (depth > host.maxDepth) {
    throw new LearnerConfigError(`learner ${name}: depth ${depth} exceeds the encoders' depth ${host.maxDepth} (${host.maxDepthWhy})`);
  }
}

/** The vision tower's width for a learner that prompts its tokens, or an error saying the model's image encoder is a CNN. */
export function requireVision(host: LearnerHost, name: string): number {
  if (host.visionDim === null) {
    throw new LearnerConfigError(
      `learner ${name} prompts the vision encoder's tokens, but ${host.family}'s image encoder is a CNN (no tokens to prompt): ` +
        'use a text learner (coop, cocoop) with this model',
    );
  }
  return host.visionDim;
}

/**
 * The opening every prompt learner's constructor shares: its options parsed by its schema
 * (unknown keys are errors) and its depth checked against the encoders.
 */
export function openPromptLearner<S extends z.ZodType<{ depth: number }>>(
  schema: S,
  name: LearnerName,
  raw: unknown,
  host: LearnerHost,
): z.output<S> {
  const o = parseOptions(schema, name, raw);
  checkDepth(o.depth, host, name);
  return o;
}

/** The same opening for a learner that prompts the vision tower: `dv` is its width (the CNN error comes before the depth's). */
export function openVisionPromptLearner<S extends z.ZodType<{ depth: number }>>(
  schema: S,
  name: LearnerName,
  raw: unknown,
  host: LearnerHost,
): { o: z.output<S>; dv: number } {
  const o = parseOptions(schema, name, raw);
  const dv = requireVision(host, name);
  checkDepth(o.depth, host, name);
  return { o, dv };
}

/** The CLIP encoders' layout for a method that hooks into them, or an error saying it needs CLIPSeg. */
export function requireEncoders(host: LearnerHost, name: LearnerName): EncoderLayout {
  if (!host.encoders)
    throw new LearnerConfigError(
      `learner ${name} acts inside CLIPSeg's encoders; ${host.family} has no such encoders (it applies to clipseg only)`,
    );
  return host.encoders;
}

// ------------------------------------------------------------------------ context vectors

/** N(0, std) vectors of a shape (CoOp's init). */
export function randomVectors(shape: number[], std: number): Tensor {
  return noGrad(() => empty(shape).normal_(0, std));
}

/**
 * CLIP BPE ids (no BOS/EOS) of the paper's initializer, so that the default configuration
 * needs no tokenizer files (CRIS folders and random-weight presets have none).
 */
export const KNOWN_INITIALIZER_IDS: Readonly<Record<string, readonly number[]>> = Object.freeze({ 'a photo of a': [320, 1125, 539, 320] });

/** Token ids of the initializer phrase(s) (no special tokens), one row per phrase. */
export function initializerIds(
  o: { contextInitializer: string | string[] | null; contextInitializerIds?: number[] | number[][] | undefined },
  host: LearnerHost,
  name: LearnerName,
  depth: number,
): number[][] | null {
  let rows: number[][];
  if (o.contextInitializerIds !== undefined) {
    const ids = o.contextInitializerIds;
    rows = typeof ids[0] === 'number' ? [ids as number[]] : (ids as number[][]);
  } else if (o.contextInitializer === null) {
    return null;
  } else {
    const phrases = typeof o.contextInitializer === 'string' ? [o.contextInitializer] : o.contextInitializer;
    const known = phrases.every((p) => KNOWN_INITIALIZER_IDS[p] !== undefined);
    if (!host.tokenize && !known) {
      throw new LearnerConfigError(
        `learner ${name}: contextInitializer ${JSON.stringify(o.contextInitializer)} needs a tokenizer ` +
          '(the model folder has no vocab.json/merges.txt: give a tokenizer folder, contextInitializerIds, or contextInitializer: null)',
      );
    }
    // The reference tokenises `context_initializer[:prompt_depth]` in one call without padding.
    rows = phrases.slice(0, depth).map((p) => (host.tokenize ? host.tokenize(p) : KNOWN_INITIALIZER_IDS[p]!.slice()));
  }
  rows = rows.slice(0, depth);
  const n = rows[0]!.length;
  if (n === 0) throw new LearnerConfigError(`learner ${name}: the context initializer has no tokens`);
  if (rows.some((r) => r.length !== n)) {
    throw new LearnerConfigError(
      `learner ${name}: every context initializer phrase must have the same token count, got ${rows.map((r) => r.length).join(', ')}`,
    );
  }
  if (n > 75) throw new LearnerConfigError(`learner ${name}: the context initializer has ${n} tokens; at most 75 fit in a 77-token text`);
  const vocab = host.tokenEmbedding.size(0);
  for (const r of rows)
    for (const id of r)
      if (id >= vocab) throw new LearnerConfigError(`learner ${name}: initializer token id ${id} is outside the vocabulary (${vocab})`);
  return rows;
}

/**
 * The width of randomly initialised text context vectors. The reference passes CRIS's word_dim
 * (quirk 14): it only works with an initializer, so `reference` refuses random init there.
 */
export function textContextDim(host: LearnerHost, name: string, random: boolean): number {
  const ref = host.referenceContextDim;
  if (random && ref !== undefined && ref !== host.textDim && host.quirks === 'reference') {
    throw new LearnerConfigError(
      `learner ${name}: random context vectors on ${host.family} (contextInitializer: null) are broken in the reference ` +
        `(quirk 14: it sizes them with word_dim ${ref}, but the text transformer is ${host.textDim} wide); ` +
        "give a contextInitializer, or set quirks: 'fixed' to size them with the text width",
    );
  }
  return host.textDim;
}

/**
 * The context vectors [depth, n, dim] of a text learner (CoOp, CoCoOp, MaPLe): the initializer's
 * frozen token embeddings for the first rows (quirk 6: n = its token count, num_context is
 * ignored), then N(0, std) rows for the remaining depths; or all random [depth, numContext, dim]
 * with dim = textContextDim.
 */
export function textContextVectors(
  o: {
    depth: number;
    numContext: number;
    vectorStd: number;
    contextInitializer: string | string[] | null;
    contextInitializerIds?: number[] | number[][] | undefined;
  },
  host: LearnerHost,
  name: LearnerName,
): { vectors: Tensor; initializerIds: number[][] | null } {
  // Its quirk-14 error comes before any initializer error (the order the learners always had).
  const randomDim = textContextDim(host, name, o.contextInitializer === null && o.contextInitializerIds === undefined);
  const ids = initializerIds(o, host, name, o.depth);
  if (ids === null) return { vectors: randomVectors([o.depth, o.numContext, randomDim], o.vectorStd), initializerIds: null };
  const vectors = noGrad(() =>
    tidy(() => {
      const k = ids.length,
        n = ids[0]!.length;
      const flat = tensor(
        BigInt64Array.from(ids.flat(), (x) => BigInt(x)),
        [k * n],
      );
      const emb = host.tokenEmbedding
        .indexSelect(0, flat.to(host.tokenEmbedding.device))
        .view(k, n, host.textDim)
        .to('cpu')
        .contiguous()
        .clone();
      if (k === o.depth) return emb;
      return cat([emb, empty([o.depth - k, n, host.textDim]).normal_(0, o.vectorStd)], 0);
    }),
  );
  return { vectors, initializerIds: ids };
}

// ----------------------------------------------------------------------------- projections

/**
 * The reference's `get_mlp_projection`: a plain Linear(in, out) when intermediateDim is null
 * (useFinalNorm is then ignored: quirk 9), else Linear(in, d0) -> ReLU -> [Linear(di, dj) -> ReLU]...
 * (kaiming_normal weights) -> Linear(dk, out, bias = !useFinalNorm && useFinalBias) -> [LayerNorm(out, bias = useFinalBias)].
 * Sequential indices are the reference's (`0` Linear, `1` ReLU, `2` Linear, `3` LayerNorm for one intermediate).
 */
export function mlpProjection(
  inDim: number,
  outDim: number,
  intermediate: IntermediateDim,
  useFinalNorm: boolean,
  useFinalBias = true,
): nn.Module & { forward(x: Tensor): Tensor } {
  if (intermediate === null) return new nn.Linear(inDim, outDim);
  const dims = typeof intermediate === 'number' ? [intermediate] : intermediate;
  const layers: nn.Module[] = [new nn.Linear(inDim, dims[0]!), new nn.ReLU()];
  for (let i = 0; i + 1 < dims.length; i++) layers.push(new nn.Linear(dims[i]!, dims[i + 1]!), new nn.ReLU());
  for (const l of layers) if (l instanceof nn.Linear) nn.init.kaimingNormal_(l.weight, 0, 'fan_in', 'relu');
  layers.push(new nn.Linear(dims[dims.length - 1]!, outDim, !useFinalNorm && useFinalBias));
  if (useFinalNorm) layers.push(new nn.LayerNorm(outDim, 1e-5, true, useFinalBias));
  return new nn.Sequential(...layers);
}

/**
 * The reference's `get_lora_projection`: Linear(in, min(out, r), no bias), then Linear(r, out,
 * bias = !useFinalNorm && useFinalBias) only when r <= out, then [LayerNorm(out, bias = useFinalBias)].
 */
export function loraProjection(inDim: number, outDim: number, rank: number, useFinalNorm: boolean, useFinalBias = true): nn.Sequential {
  const layers: nn.Module[] = [new nn.Linear(inDim, Math.min(outDim, rank), false)];
  if (rank <= outDim) layers.push(new nn.Linear(rank, outDim, !useFinalNorm && useFinalBias));
  if (useFinalNorm) layers.push(new nn.LayerNorm(outDim, 1e-5, true, useFinalBias));
  return new nn.Sequential(...layers);
}

export type Projection = nn.Module & { forward(x: Tensor): Tensor };

/** Picks the LoRA or MLP builder as BaseProjectorLearner does (LoRA needs a single intermediate dim). */
export function buildProjection(
  name: LearnerName,
  inDim: number,
  outDim: number,
  o: { intermediateDim: IntermediateDim; useProjNorm: boolean; useLoraProj: boolean },
  useFinalBias = true,
): Projection {
  if (o.useLoraProj && o.intermediateDim !== null) {
    if (typeof o.intermediateDim !== 'number') {
      if (o.intermediateDim.length !== 1)
        throw new LearnerConfigError(
          `learner ${name}: LoRA projection is only available for a single intermediate layer, got intermediateDim [${o.intermediateDim.join(', ')}]`,
        );
      return loraProjection(inDim, outDim, o.intermediateDim[0]!, o.useProjNorm, useFinalBias);
    }
    return loraProjection(inDim, outDim, o.intermediateDim, o.useProjNorm, useFinalBias);
  }
  return mlpProjection(inDim, outDim, o.intermediateDim, o.useProjNorm, useFinalBias);
}

/** Copies every parameter of `from` into `to` (same architecture): the reference's deepcopy'd per-layer modules. */
export function copyParameters(from: nn.Module, to: nn.Module): void {
  const src = from.stateDict();
  noGrad(() => {
    for (const [k, t] of to.stateDict()) t.copy_(src.get(k)!);
  });
}

/**
 * `depth` projection modules: one module registered `depth` times when unified (its parameters
 * appear once, under index 0, as with PyTorch's shared ModuleList entries), else one per layer.
 * `sameInit` copies the first module's initial values into the others (the reference deep-copies).
 */
export function projectionList<M extends nn.Module>(depth: number, unified: boolean, make: () => M, sameInit: boolean): nn.ModuleList<M> {
  const first = make();
  const items: M[] = [first];
  for (let i = 1; i < depth; i++) {
    if (unified) items.push(first);
    else {
      const m = make();
      if (sameInit) copyParameters(first, m);
      items.push(m);
    }
  }
  return new nn.ModuleList<M>(items);
}

// ---------------------------------------------------------------------------- base class

export abstract class BaseLearner extends nn.Module implements ContextLearner {
  abstract readonly name: LearnerName;
  abstract readonly usesText: boolean;
  abstract readonly usesVision: boolean;
  readonly needsImageFeatures: boolean = false;
  readonly depth: number;
  readonly numContext: number;
  /** Width of the context vectors. */
  readonly contextDim: number;
  readonly context_vectors: Tensor;

  protected constructor(vectors: Tensor) {
    super();
    const [depth, n, dim] = vectors.shape as [number, number, number];
    this.depth = depth;
    this.numContext = n;
    this.contextDim = dim;
    this.context_vectors = this.registerParameter('context_vectors', vectors);
  }

  /** context_vectors[layer], [n, dim]. */
  protected ctx(layer: number): Tensor {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.depth)
      throw new RangeError(`${this.name}: layer ${layer} is outside 0..${this.depth - 1}`);
    return this.context_vectors.select(0, layer);
  }

  abstract prompts(layer: number, imageFeatures?: Tensor): PromptPair;
  abstract describe(): Record<string, unknown>;
}

export {
  commonOptions,
  initializerOptions,
  projectionOptions,
  intermediateDimSchema,
  formatIssues,
  type IntermediateDim,
} from './options.js';
