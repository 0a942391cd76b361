/**
 * `PromptedSegmenter`: a frozen CLIPSeg + a context learner + the learnable upsampler
 * (TuneVLSeg's `BaseCLIPSeg` wrappers: COOPCLIPSeg, VPTCLIPSeg, MapleCLIPSeg,
 * SharedSeparateCLIPSeg, SharedAttnCLIPSeg), implementing the trainer's `Segmenter` contract.
 *
 * Module tree and parameter names are the reference wrapper's: `model.*` (the frozen HF
 * CLIPSeg), `context_learner.*`, `additive_decoder_layer.1.{weight,bias}` (index 0 is the
 * parameter-free Upsample) and `residual_ratio`, so learnable tensors carry the reference's
 * names with no translation table.
 *
 * Forward (docs/learners.md): image features first when the learner needs them (CoCoOp: the
 * unprompted vision tower, quirk 7), then every layer's prompts once, the vision tower (prompt
 * tokens appended before pre_layrnorm and overwritten after layer i < depth, quirk 3; run only
 * up to the deepest extract layer), the text tower (prompts after BOS, quirks 4-5), the decoder
 * (prompt tokens dropped before the transposed convolution), and the upsampler mix. Frozen
 * branches that no prompt reaches run without autograd; with a cache budget their
 * prompt-independent per-image results are reused across calls.
 *
 * Reference: github.com/naamiinepal/tunevlseg @ 7956bcd, src/models/core_models/coop/*.py.
 */
import { Tensor, cat, nn, noGrad, ones, scalarTensor, stack, tensor, tidy, type optim } from '../torch/index.js';
import type { CLIPSegForImageSegmentation } from '../models/clipseg/model.js';
import type { ClipTokenizer } from '../models/clip/tokenizer.js';
import type { LayerHook } from '../models/clip/layers.js';
import { createLearner } from '../learners/classes.js';
import { learnerEntry } from '../learners/registry.js';
import type { ContextLearner, LearnerHost, LearnerName, PromptPair, QuirkMode } from '../learners/types.js';
import type { Segmenter, SegmenterInfo, TextInputs } from './segmenter.js';
import {
  CLIPSEG_IMAGE_MEAN, CLIPSEG_IMAGE_STD, FrozenFeatureCache, decayGroups, imageKey, loadStateStrict, mixLogits, textInputsFrom, type MixRule,
} from './common.js';
import { UpsampleConvPlan } from './upsampler.js';

export interface BaseModelInfo {
  /** What the user named (hub id, folder, preset). */
  id: string;
  /** Content fingerprint of the weights (see docs/learners.md), or "random:<preset>". */
  fingerprint: string;
  /** Fingerprint of the architecture config. */
  configHash?: string;
}

export interface PromptedSegmenterOptions {
  /** Learner name, or 'none' (no prompts: the plain model + upsampler, e.g. with e2e). */
  learner: LearnerName | 'none';
  /** Learner options (numContext, depth, ... see src/learners). */
  learnerOptions?: Record<string, unknown>;
  /** Reproduce the reference's quirks (default) or do what the paper says. */
  quirks?: QuirkMode;
  /** The learnable upsampler (reference `use_new_last_layer`, default true). */
  useNewLastLayer?: boolean;
  /** Its conv kernel (default 5). */
  newLastLayerKernelSize?: number;
  /** Initial r of (1 - r)·logits + r·upsampler (default 0.5). */
  residualRatio?: number;
  /** Without the upsampler: train the transposed convolution's last layer (reference `no_freeze_last_layer`). */
  noFreezeLastLayer?: boolean;
  /** Train everything (the frozen model too). */
  e2e?: boolean;
  /** Square input side (default: 352 for a 224-config ViT-B/16, else the config's image size). */
  imageSize?: number;
  /** Tokenizer for prompts and the context initializer (default: the model's). */
  tokenizer?: ClipTokenizer | null;
  /** Base-model identity recorded by describe(). */
  base?: BaseModelInfo;
  /** The factory config it was built from (recorded by describe(); see src/tuning/factory.ts). */
  factoryConfig?: Record<string, unknown>;
  /** Byte budget of the frozen per-image feature cache (0 = off, default). */
  frozenCacheBytes?: number;
  /**
   * How the upsampler is computed: 'factored' (default: the same arithmetic as small matrix
   * products, src/tuning/upsampler.ts) or 'direct' (Upsample then Conv2d, as the reference).
   */
  upsamplerImpl?: 'factored' | 'direct';
}

/** Everything one forward produces (the parity kind compares these with the fixtures). */
export interface PromptedOutput {
  /** [B, 1, H, W] */
  logits: Tensor;
  /** Decoder features before the transposed convolution [B, R, h, w]. */
  decoderFeatures: Tensor;
  conditionalEmbeddings: Tensor;
  /** Decoder inputs (prompt tokens included), extract-layer order; null when served from the cache. */
  visionActivations: Tensor[] | null;
  /** Text final_layer_norm output and pooled token (null when the text side was cached). */
  textLastHiddenState: Tensor | null;
  textPooledOutput: Tensor | null;
}

export class PromptedSegmenter extends nn.Module implements Segmenter {
  readonly info: SegmenterInfo;
  readonly model: CLIPSegForImageSegmentation;
  readonly context_learner: ContextLearner | null;
  readonly additive_decoder_layer: nn.Sequential | null;
  readonly residual_ratio: Tensor | null;
  readonly learnerName: LearnerName | 'none';
  readonly quirks: QuirkMode;
  readonly e2e: boolean;
  readonly useNewLastLayer: boolean;
  readonly noFreezeLastLayer: boolean;
  readonly mix: MixRule;
  readonly tokenizer: ClipTokenizer | null;
  readonly base: BaseModelInfo;
  readonly factoryConfig: Record<string, unknown> | null;
  readonly frozenCache: FrozenFeatureCache;
  readonly #options: Required<Omit<PromptedSegmenterOptions, 'tokenizer' | 'base' | 'learnerOptions' | 'factoryConfig' | 'upsamplerImpl'>>;
  readonly upsamplerImpl: 'factored' | 'direct';
  readonly #plan = new UpsampleConvPlan();

  constructor(model: CLIPSegForImageSegmentation, o: PromptedSegmenterOptions) {
    super();
    const c = model.config;
    this.quirks = o.quirks ?? 'reference';
    this.e2e = o.e2e ?? false;
    this.useNewLastLayer = o.useNewLastLayer ?? true;
    this.noFreezeLastLayer = o.noFreezeLastLayer ?? false;
    this.learnerName = o.learner;
    this.tokenizer = o.tokenizer !== undefined ? o.tokenizer : model.tokenizer;
    this.base = o.base ?? { id: 'unknown', fingerprint: 'unknown' };
    this.factoryConfig = o.factoryConfig ?? null;
    const imageSize = o.imageSize ?? (c.visionConfig.imageSize === 224 && c.visionConfig.patchSize === 16 ? 352 : c.visionConfig.imageSize);
    this.#options = {
      learner: o.learner, quirks: this.quirks, useNewLastLayer: this.useNewLastLayer, newLastLayerKernelSize: o.newLastLayerKernelSize ?? 5,
      residualRatio: o.residualRatio ?? 0.5, noFreezeLastLayer: this.noFreezeLastLayer, e2e: this.e2e, imageSize, frozenCacheBytes: o.frozenCacheBytes ?? 0,
    };
    this.info = { imageSize, mean: [...CLIPSEG_IMAGE_MEAN], std: [...CLIPSEG_IMAGE_STD] };
    this.upsamplerImpl = o.upsamplerImpl ?? 'factored';

    // The frozen model (reference: freeze_all -> eval() + requires_grad_(False)).
    this.model = this.registerModule('model', model);
    if (this.e2e) model.requiresGrad_(true);
    else {
      model.requiresGrad_(false);
      model.eval();
    }

    // The learnable upsampler, or (reference `elif no_freeze_last_layer`) the last transposed conv.
    if (this.useNewLastLayer) {
      const P = c.visionConfig.patchSize;
      this.additive_decoder_layer = this.registerModule('additive_decoder_layer', new nn.Sequential(
        new nn.Upsample({ scaleFactor: P, mode: 'bilinear', alignCorners: false }),
        new nn.Conv2d(c.reduceDim, 1, this.#options.newLastLayerKernelSize, { padding: 'same', paddingMode: 'replicate' }),
      ));
      this.residual_ratio = this.registerParameter('residual_ratio', scalarTensor(this.#options.residualRatio));
    } else {
      this.additive_decoder_layer = null;
      this.residual_ratio = null;
      if (this.noFreezeLastLayer && !this.e2e) {
        const tc = model.decoder.transposed_convolution;
        const last = tc instanceof nn.Sequential ? tc.at(tc.length - 1) : tc;
        last.requiresGrad_(true);
      }
    }

    // The learner.
    if (o.learner === 'none') this.context_learner = null;
    else {
      const host: LearnerHost = {
        family: 'clipseg',
        textDim: c.textConfig.hiddenSize,
        visionDim: c.visionConfig.hiddenSize,
        imageFeatureDim: c.projectionDim,
        maxDepth: Math.min(c.textConfig.numHiddenLayers, c.visionConfig.numHiddenLayers),
        maxDepthWhy: `min of the text (${c.textConfig.numHiddenLayers}) and vision (${c.visionConfig.numHiddenLayers}) layers`,
        tokenEmbedding: model.clip.text_model.embeddings.token_embedding.weight,
        tokenize: this.tokenizer ? (t) => this.tokenizer!.encode(t, { addSpecialTokens: false }).inputIds : null,
        quirks: this.quirks,
      };
      this.context_learner = this.registerModule('context_learner', createLearner(o.learner, o.learnerOptions ?? {}, host));
    }

    // How the upsampler output joins the logits (quirks 1 and 2).
    const L = this.context_learner;
    if (!this.useNewLastLayer) this.mix = 'none';
    else if (this.quirks === 'reference' && L && !L.usesVision) this.mix = 'none'; // quirk 1: CoOp/CoCoOp call HF's decoder
    else if (this.quirks === 'reference' && L && learnerEntry(L.name).referenceWrappers.clipseg === 'VPTCLIPSeg') this.mix = 'add'; // quirk 2: VPTCLIPSeg adds
    else this.mix = 'residual';
    this.frozenCache = new FrozenFeatureCache(this.#options.frozenCacheBytes);
  }

  // ------------------------------------------------------------------------ Segmenter

  tokenize(prompts: string[]): TextInputs {
    if (!this.tokenizer) throw new Error('PromptedSegmenter: no tokenizer (the model folder has no vocab.json/merges.txt; pass one)');
    return textInputsFrom(this.tokenizer.encodeBatch(prompts));
  }

  forward(pixelValues: Tensor, text: TextInputs): Tensor {
    return tidy(() => this.run(pixelValues, text, false).logits);
  }

  /** The forward with every intermediate (tidy'd: only the returned tensors survive). */
  forwardDetailed(pixelValues: Tensor, text: TextInputs): PromptedOutput {
    return tidy(() => this.run(pixelValues, text, true));
  }

  parameterGroups(weightDecay: number): optim.ParamGroupInput[] {
    return decayGroups(this, weightDecay).groups;
  }

  /** Names of the decayed and non-decayed trainable parameters. */
  decayNames(): { decayed: string[]; other: string[] } {
    const { decayed, other } = decayGroups(this, 0);
    return { decayed, other };
  }

  learnableState(): Map<string, Tensor> {
    return new Map(this.namedTrainable());
  }

  loadLearnableState(state: Map<string, Tensor>, source?: string): void {
    loadStateStrict(this.learnableState(), state, 'PromptedSegmenter', source,
      `this segmenter is ${this.learnerName}${this.context_learner ? ` depth ${this.context_learner.depth}` : ''}, quirks ${this.quirks}${this.e2e ? ', e2e' : ''}: ` +
      'the checkpoint was made with another learner configuration or base model');
  }

  describe(): Record<string, unknown> {
    const c = this.model.config;
    return {
      kind: 'prompted',
      family: 'clipseg',
      base: { ...this.base },
      learner: this.context_learner ? this.context_learner.describe() : { name: 'none' },
      quirks: this.quirks,
      useNewLastLayer: this.useNewLastLayer,
      newLastLayerKernelSize: this.#options.newLastLayerKernelSize,
      residualRatio: this.#options.residualRatio,
      noFreezeLastLayer: this.noFreezeLastLayer,
      e2e: this.e2e,
      imageSize: this.info.imageSize,
      architecture: {
        textHidden: c.textConfig.hiddenSize, textLayers: c.textConfig.numHiddenLayers, visionHidden: c.visionConfig.hiddenSize,
        visionLayers: c.visionConfig.numHiddenLayers, patchSize: c.visionConfig.patchSize, projectionDim: c.projectionDim,
        extractLayers: c.extractLayers.slice(), reduceDim: c.reduceDim,
      },
      trainableParams: this.numParameters(true),
      ...(this.factoryConfig ? { config: this.factoryConfig } : {}),
    };
  }

  /**
   * Lightning's `net.train()` reaches the frozen model too (quirk 16; CLIPSeg has no active
   * dropout so nothing changes numerically); with `quirks: 'fixed'` frozen parts stay in eval mode.
   */
  override train(mode = true): this {
    super.train(mode);
    if (!this.e2e && this.quirks === 'fixed') this.model.eval();
    return this;
  }

  override dispose(): void {
    this.frozenCache.clear();
    this.#plan.dispose();
    super.dispose();
  }

  // -------------------------------------------------------------------------- forward

  /** The frozen branches run without autograd unless e2e. */
  #frozen<T>(fn: () => T): T {
    return this.e2e ? fn() : noGrad(fn);
  }

  /** Caching is sound only when the frozen model is deterministic and not trained. */
  get #cacheable(): boolean {
    const c = this.model.config;
    return this.frozenCache.enabled && !this.e2e && (!this.model.training || (c.visionConfig.attentionDropout === 0 && c.decoderAttentionDropout === 0));
  }

  private run(pixels: Tensor, text: TextInputs, detailed: boolean): PromptedOutput {
    const model = this.model;
    const L = this.context_learner;
    const B = pixels.size(0);
    if (text.inputIds.ndim !== 2 || text.inputIds.size(0) !== B) {
      throw new Error(`PromptedSegmenter: ${text.inputIds.shape[0]} prompts for ${B} images (inputIds [${text.inputIds.shape.join(', ')}])`);
    }
    const usesVision = L?.usesVision ?? false;
    const usesText = L?.usesText ?? false;
    const n = L?.numContext ?? 0;

    // 1. Frozen, prompt-free vision (text-only learners): decoder-ready reduced activations and,
    //    for CoCoOp, the image features; cached per image when a budget is set.
    let frozenVision: { reduced: Tensor[]; activations: Tensor[] | null; imageFeatures: Tensor | null } | null = null;
    if (!usesVision) frozenVision = this.frozenVision(pixels, L?.needsImageFeatures ?? false, detailed);

    // 2. Every layer's prompts, once.
    const prompts: PromptPair[] = L ? Array.from({ length: L.depth }, (_, l) => L.prompts(l, frozenVision?.imageFeatures ?? undefined)) : [];

    // 3. Vision with prompts.
    let activations: Tensor[] | null = frozenVision?.activations ?? null;
    if (usesVision) {
      const depth = L!.depth;
      const vp = (l: number): Tensor => prompts[l]!.vision!;
      const afterLayer: LayerHook = (l, h) => (l + 1 < depth
        ? cat([h.narrow(1, 0, h.size(1) - n), vp(l + 1).unsqueeze(0).expand(h.size(0), n, -1)], 1)
        : h);
      activations = model.visionActivations(pixels, { extraTokens: vp(0).unsqueeze(0), afterLayer }).activations;
    }

    // 4. Text: prompted, or frozen.
    let conditional: Tensor;
    let lastHidden: Tensor | null = null;
    let pooled: Tensor | null = null;
    if (usesText) {
      const t = this.promptedText(text, prompts);
      conditional = t.conditional;
      lastHidden = t.lastHiddenState;
      pooled = t.pooledOutput;
    } else {
      const t = this.#frozen(() => model.textConditional(text.inputIds, text.attentionMask));
      conditional = t.conditionalEmbeddings;
      lastHidden = t.text.lastHiddenState;
      pooled = t.text.pooledOutput;
    }

    // 5. Decoder (prompt tokens ride along and are dropped before the transposed conv).
    const dec = model.decoder;
    const tokens = frozenVision
      ? this.decoderTokensFromReduced(frozenVision.reduced, conditional)
      : dec.tokens(activations!, conditional);
    const features = dec.grid(tokens, usesVision ? n : 0);
    const logits = dec.head(features).unsqueeze(1);

    // 6. The upsampler.
    const out = mixLogits(this.mix, logits, () => this.upsampler(features), this.residual_ratio!);
    return {
      logits: out, decoderFeatures: features, conditionalEmbeddings: conditional,
      visionActivations: activations, textLastHiddenState: lastHidden, textPooledOutput: pooled,
    };
  }

  /** additive_decoder_layer(features): Upsample(patch, bilinear) -> Conv2d(k, 'same', replicate). */
  upsampler(features: Tensor): Tensor {
    const seq = this.additive_decoder_layer!;
    if (this.upsamplerImpl === 'direct') return seq.forward(features);
    const conv = seq.at(1) as nn.Conv2d;
    return this.#plan.forward(features, conv.weight, conv.bias, { scaleFactor: this.model.config.visionConfig.patchSize });
  }

  /**
   * The reference text path (quirks 4, 5): [BOS, ctx_1..ctx_n, tokens[1:end], last] with the
   * middle cut so at most 77 positions remain, the mask prepended with n ones, pooling at
   * eos_index + n (clamped to 76) on the original ids; after layer i (0-based) with i + 1 < depth
   * positions 1..n are overwritten by the prompts of layer i + 1.
   */
  private promptedText(text: TextInputs, prompts: PromptPair[]): { conditional: Tensor; lastHiddenState: Tensor; pooledOutput: Tensor } {
    const tm = this.model.clip.text_model;
    const L = this.context_learner!;
    const { inputIds: ids, attentionMask: mask } = text;
    const maxLen = tm.config.maxPositionEmbeddings;
    const [B, Ltok] = [ids.size(0), ids.size(1)];
    const n = L.numContext;
    const D = tm.config.hiddenSize;
    const emb = this.#frozen(() => tm.embedTokens(ids));
    const end = Math.min(maxLen - n, Ltok) - 1;
    const p = (l: number): Tensor => {
      const t = prompts[l]!.text!;
      return t.ndim === 2 ? t.unsqueeze(0).expand(B, n, D) : t;
    };
    const embeds = cat([emb.narrow(1, 0, 1), p(0), emb.slice(1, 1, end), emb.narrow(1, Ltok - 1, 1)], 1);
    const fullMask = cat([ones([B, n], { dtype: mask.dtype, device: mask.device }), mask], 1).slice(1, 0, maxLen);
    const pool = tm.eosPoolIndex(ids).add(n).clamp(null, maxLen - 1);
    const afterLayer: LayerHook = (l, h) => (l + 1 < L.depth ? cat([h.narrow(1, 0, 1), p(l + 1), h.slice(1, 1 + n)], 1) : h);
    const out = tm.forwardEmbeds(embeds, { attentionMask: fullMask, poolIndex: pool, afterLayer });
    return { conditional: this.model.clip.text_projection.forward(out.pooledOutput!), lastHiddenState: out.lastHiddenState, pooledOutput: out.pooledOutput! };
  }

  /**
   * Prompt-free vision for text-only learners: per extract layer the decoder's `reduces[i]`
   * applied to the activation (what the decoder consumes), plus CoCoOp's image features
   * (visual_projection(post_layernorm(CLS)) of the full tower), from the cache when possible.
   */
  private frozenVision(pixels: Tensor, needFeatures: boolean, keepActivations: boolean): { reduced: Tensor[]; activations: Tensor[] | null; imageFeatures: Tensor | null } {
    const model = this.model;
    const depth = model.extractLayers.length;
    const compute = (px: Tensor): { reduced: Tensor[]; activations: Tensor[]; imageFeatures: Tensor | null } => this.#frozen(() => {
      const vis = model.visionActivations(px, { full: needFeatures });
      // decoder order: reduces[i] reads activations[depth - 1 - i]
      const reduced = Array.from({ length: depth }, (_, i) => model.decoder.reduces.at(i).forward(vis.activations[depth - 1 - i]!));
      const f = needFeatures ? model.clip.visual_projection.forward(vis.pooledOutput!) : null;
      return { reduced, activations: vis.activations, imageFeatures: f };
    });
    if (!this.#cacheable || keepActivations) return compute(pixels);
    const B = pixels.size(0);
    const keys = Array.from({ length: B }, (_, b) => imageKey(pixels, b));
    const found = keys.map((k) => this.frozenCache.get(k));
    const missing = found.flatMap((f, b) => (f ? [] : [b]));
    if (missing.length > 0) {
      const sub = missing.length === B ? pixels : pixels.indexSelect(0, tensor(BigInt64Array.from(missing, (b) => BigInt(b)), [missing.length]).to(pixels.device));
      const r = compute(sub);
      missing.forEach((b, j) => {
        const entry = [...r.reduced.map((t) => t.select(0, j)), ...(r.imageFeatures ? [r.imageFeatures.select(0, j)] : [])];
        this.frozenCache.set(keys[b]!, entry);
        found[b] = entry;
      });
      if (missing.length === B) return { reduced: r.reduced, activations: null, imageFeatures: r.imageFeatures };
    }
    const reduced = Array.from({ length: depth }, (_, i) => stack(found.map((f) => f![i]!), 0));
    const imageFeatures = needFeatures ? stack(found.map((f) => f![depth]!), 0) : null;
    return { reduced, activations: null, imageFeatures };
  }

  /** CLIPSegDecoder.tokens from activations already passed through `reduces` (same arithmetic). */
  private decoderTokensFromReduced(reduced: Tensor[], conditional: Tensor): Tensor {
    const dec = this.model.decoder;
    let out: Tensor | null = null;
    for (let i = 0; i < reduced.length; i++) {
      const r = reduced[i]!;
      out = out === null ? r : r.add(out);
      if (i === dec.conditionalLayer) {
        out = dec.film_mul.forward(conditional).unsqueeze(1).mul(out).add(dec.film_add.forward(conditional).unsqueeze(1));
      }
      out = dec.layers.at(i).forward(out);
    }
    return out!;
  }
}
