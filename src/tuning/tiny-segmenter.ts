/**
 * `TinySegmenter`: a few-thousand-parameter text-conditioned conv net implementing the
 * `Segmenter` contract, with a hashing word tokenizer. It stands in for a real prompted VLSM in
 * the trainer's tests, benchmarks and smoke runs (it trains in seconds on 32-64 px synthetic
 * data); it is not a model anyone should tune for results.
 *
 * Layout, mirroring a prompted VLSM: a frozen "backbone" (stem conv + word embeddings, not
 * trainable, not in the learnable state) and a learnable part (context vectors added to the
 * text embedding, a FiLM projection, a head conv and an output conv).
 */
import { type Tensor, nn, optim, tensor, tidy, F, noGrad } from '../torch/index.js';
import type { Segmenter, SegmenterInfo, TextInputs } from './segmenter.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../data/image.js';
import { Rng, hashSeed } from '../data/rng.js';

export interface TinySegmenterOptions {
  /** Square input side. Default 32. */
  imageSize?: number;
  /** Feature channels. Default 8. */
  channels?: number;
  /** Hashed vocabulary size (id 0 is padding). Default 97. */
  vocab?: number;
  /** Word/context embedding width. Default 8. */
  embedDim?: number;
  /** Learnable context vectors. Default 2. */
  numContext?: number;
  /** Dropout on the features in training mode (exercises libtorch's generator). Default 0. */
  dropout?: number;
  /**
   * Seed of the frozen part (stem and word embeddings), drawn with a JS generator so that it
   * does not depend on libtorch's: like pretrained weights, it is the same in every process.
   * Default 0.
   */
  frozenSeed?: number;
  /** The quirks mode the trainer follows for this model (loss targets, weight decay, augmentation). Default 'reference'. */
  quirks?: 'reference' | 'fixed';
  /**
   * A frozen BatchNorm after the stem that, like the frozen CRIS with `quirks: reference`,
   * normalises with batch statistics in training mode (`fixed`: running statistics). Default false.
   */
  batchNorm?: boolean;
}

/** FNV-1a of a word, mapped to 1..vocab-1. */
function wordId(word: string, vocab: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193) >>> 0;
  return 1 + (h % (vocab - 1));
}

export class TinySegmenter extends nn.Module implements Segmenter {
  readonly info: SegmenterInfo;
  readonly options: Required<TinySegmenterOptions>;
  readonly stem: nn.Conv2d;
  readonly embed: nn.Embedding;
  readonly context: Tensor;
  readonly film: nn.Linear;
  readonly head: nn.Conv2d;
  readonly out: nn.Conv2d;
  readonly norm: nn.BatchNorm2d | null;
  readonly quirks: 'reference' | 'fixed';

  constructor(o: TinySegmenterOptions = {}) {
    super();
    this.options = {
      imageSize: o.imageSize ?? 32,
      channels: o.channels ?? 8,
      vocab: o.vocab ?? 97,
      embedDim: o.embedDim ?? 8,
      numContext: o.numContext ?? 2,
      dropout: o.dropout ?? 0,
      frozenSeed: o.frozenSeed ?? 0,
      quirks: o.quirks ?? 'reference',
      batchNorm: o.batchNorm ?? false,
    };
    this.quirks = this.options.quirks;
    const { channels: ch, vocab, embedDim: d, numContext: n } = this.options;
    this.info = {
      imageSize: this.options.imageSize,
      mean: [...IMAGENET_MEAN] as [number, number, number],
      std: [...IMAGENET_STD] as [number, number, number],
    };
    this.stem = this.registerModule('stem', new nn.Conv2d(3, ch, 3, { padding: 1 }));
    this.embed = this.registerModule('embed', new nn.Embedding(vocab, d));
    this.stem.requiresGrad_(false);
    this.embed.requiresGrad_(false);
    const rng = new Rng(hashSeed(this.options.frozenSeed, 0x7171));
    noGrad(() => {
      for (const t of [this.stem.weight, this.stem.bias!, this.embed.weight]) {
        const fanIn = t.ndim > 1 && t !== this.embed.weight ? t.numel / t.size(0) : 1;
        const v = Float32Array.from({ length: t.numel }, () => rng.normal() / Math.sqrt(fanIn));
        const src = tensor(v, t.shape);
        t.copy_(src);
        src.dispose();
      }
    });
    this.context = this.registerParameter(
      'context',
      noGrad(() => tensor(new Float32Array(n * d), [n, d]).normal_(0, 0.02)),
    );
    this.film = this.registerModule('film', new nn.Linear(d, 2 * ch));
    this.head = this.registerModule('head', new nn.Conv2d(ch, ch, 3, { padding: 1 }));
    this.out = this.registerModule('out', new nn.Conv2d(ch, 1, 3, { padding: 1 }));
    this.norm = this.options.batchNorm ? this.registerModule('norm', new nn.BatchNorm2d(ch)) : null;
    this.norm?.requiresGrad_(false);
  }

  /** With `quirks: fixed` the frozen BatchNorm keeps its running statistics in training. */
  override train(mode = true): this {
    super.train(mode);
    if (this.quirks === 'fixed') this.norm?.eval();
    return this;
  }

  tokenize(prompts: string[]): TextInputs {
    const rows = prompts.map((p) =>
      p
        .toLowerCase()
        .split(/[^a-z0-9]+/)
        .filter((w) => w !== '')
        .map((w) => wordId(w, this.options.vocab)),
    );
    const seqLen = Math.max(1, ...rows.map((r) => r.length));
    const ids = new BigInt64Array(prompts.length * seqLen);
    const mask = new BigInt64Array(prompts.length * seqLen);
    rows.forEach((r, i) =>
      r.forEach((id, j) => {
        ids[i * seqLen + j] = BigInt(id);
        mask[i * seqLen + j] = 1n;
      }),
    );
    return { inputIds: tensor(ids, [prompts.length, seqLen]), attentionMask: tensor(mask, [prompts.length, seqLen]) };
  }

  forward(pixelValues: Tensor, text: TextInputs): Tensor {
    return tidy(() => {
      const ch = this.options.channels;
      const m = text.attentionMask.to('float32').unsqueeze(-1); // [B, L, 1]
      const words = this.embed.forward(text.inputIds).mul(m).sum(1).div(m.sum(1).clamp(1)); // [B, d]
      const t = words.add(this.context.mean(0, true)); // [B, d]
      const [gamma, beta] = this.film.forward(t).chunk(2, 1) as [Tensor, Tensor]; // [B, ch] each
      const stem = this.stem.forward(pixelValues);
      const feats = F.relu(this.norm ? this.norm.forward(stem) : stem);
      const mod = feats.mul(gamma.view(-1, ch, 1, 1).add(1)).add(beta.view(-1, ch, 1, 1));
      return this.out.forward(F.dropout(F.relu(this.head.forward(mod)), this.options.dropout, this.training));
    });
  }

  parameterGroups(weightDecay: number): optim.ParamGroupInput[] {
    const decay = [this.film.weight, this.head.weight, this.out.weight];
    const rest = this.namedTrainable()
      .map(([, t]) => t)
      .filter((t) => !decay.includes(t));
    return [
      { params: decay, weightDecay },
      { params: rest, weightDecay: 0 },
    ];
  }

  /**
   * The trainable tensors; with a batch-statistic BatchNorm (`quirks: reference`) also its running
   * statistics, which training moves (as the prompted CRIS keeps them: src/tuning/cris.ts).
   */
  learnableState(): Map<string, Tensor> {
    const m = new Map(this.namedTrainable());
    if (this.norm && this.quirks === 'reference') for (const [k, t] of this.norm.namedBuffers('norm', true)) m.set(k, t);
    return m;
  }

  loadLearnableState(state: Map<string, Tensor>, source?: string): void {
    const own = this.learnableState();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    const bad = [...own].filter(([k, t]) => state.has(k) && state.get(k)!.shape.join(',') !== t.shape.join(','));
    if (missing.length || unexpected.length || bad.length) {
      throw new Error(
        `TinySegmenter: cannot load learnable state${source ? ` from ${source}` : ''}: ` +
          [
            missing.length ? `missing ${missing.join(', ')}` : '',
            unexpected.length ? `unexpected ${unexpected.join(', ')}` : '',
            ...bad.map(([k, t]) => `${k}: expected [${t.shape.join(', ')}], got [${state.get(k)!.shape.join(', ')}]`),
          ]
            .filter(Boolean)
            .join('; '),
      );
    }
    noGrad(() => {
      for (const [k, t] of own) t.copy_(state.get(k)!);
    });
  }

  describe(): Record<string, unknown> {
    return { kind: 'tiny', ...this.options, trainableParams: this.numParameters(true) };
  }
}
