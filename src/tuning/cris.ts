/**
 * `PromptedCris`: a frozen CRIS + a text context learner (CoOp or CoCoOp) + CRIS's learnable
 * upsampler: the reference's `COOPCRIS`, implementing the trainer's `Segmenter` contract.
 *
 * Parameter names are COOPCRIS's (a CRIS subclass): the frozen `backbone.*`, `neck.*`,
 * `decoder.*`, `proj.*`, and the learnable `context_learner.*`, `additive_decoder_layer.{0,2}.*`,
 * `residual_ratio`.
 *
 * Text path (fixtures README quirks 12-15): `[BOS, ctx, tokens[1:end], last]` (at most 77
 * positions), pad mask extended by prepending n `false` columns (used by the text blocks and the
 * decoder's cross-attention), pooling at argmax(ids) + n clamped to 76. Quirk 12: the reference
 * overwrites positions 1..n with ctx[i] after text block i for i < depth (blocks see ctx[0],
 * ctx[0], ctx[1], ...); `quirks: 'fixed'` overwrites with ctx[i + 1] after block i for
 * i + 1 < depth, as CLIPSeg does. CoCoOp's image feature is the attention-pool output averaged
 * over H, W (quirk 14). Upsampler (quirk 15): Conv1x1(visDim -> 64, no bias) -> Upsample(imgSize,
 * bilinear) -> Conv5x5(64 -> 1, replicate), mixed (1 - r)·logits + r·upsampler.
 *
 * Reference: github.com/naamiinepal/tunevlseg @ 7956bcd, src/models/core_models/coop/coop_cris.py.
 */
import { Tensor, cat, nn, noGrad, scalarTensor, stack, tensor, tidy, type optim } from '../torch/index.js';
import {
  CRIS, CRIS_IMAGE_MEAN, CRIS_IMAGE_STD, eosIndexForContext, extendPadMaskForContext, insertContextAfterBos, type CrisDecodeOutput,
} from '../models/cris/index.js';
import type { VisualFeatures } from '../models/cris/clip.js';
import type { ClipTokenizer } from '../models/clip/tokenizer.js';
import { learnerEntry, learnersFor } from '../learners/registry.js';
import { createLearner } from '../learners/classes.js';
import { LearnerConfigError, type ContextLearner, type LearnerHost, type LearnerName, type PromptPair, type QuirkMode } from '../learners/types.js';
import type { Segmenter, SegmenterInfo, TextInputs } from './segmenter.js';
import type { BaseModelInfo } from './clipseg.js';
import { FrozenFeatureCache, decayGroups, imageKey, loadStateStrict, mixLogits, textInputsFrom, type MixRule } from './common.js';
import { UpsampleConvPlan } from './upsampler.js';

export interface PromptedCrisOptions {
  /** coop, cocoop or 'none' (vision-prompt learners are refused: CRIS's image encoder is a CNN). */
  learner: LearnerName | 'none';
  learnerOptions?: Record<string, unknown>;
  quirks?: QuirkMode;
  useNewLastLayer?: boolean;
  newLastLayerKernelSize?: number;
  residualRatio?: number;
  /** Without the upsampler: train proj.txt and proj.vis's last conv (reference `no_freeze_last_layer`). */
  noFreezeLastLayer?: boolean;
  /** Train the neck, decoder and projector (and the backbone unless config.freezeEncoder). */
  e2e?: boolean;
  /** CLIP tokenizer for prompts and the context initializer (the reference uses CIDAS/clipseg-rd64's). */
  tokenizer?: ClipTokenizer | null;
  base?: BaseModelInfo;
  /** The factory config it was built from (recorded by describe(); see src/tuning/factory.ts). */
  factoryConfig?: Record<string, unknown>;
  /** Byte budget of the frozen per-image image-encoder cache (0 = off, default). */
  frozenCacheBytes?: number;
  /** 'factored' (default, src/tuning/upsampler.ts) or 'direct' (the reference's layers in order). */
  upsamplerImpl?: 'factored' | 'direct';
}

export interface PromptedCrisOutput extends CrisDecodeOutput {
  visC3: Tensor;
  visC4: Tensor;
  visC5: Tensor;
  textFeatures: Tensor;
  textState: Tensor;
  /** [B, L'] bool, true = padding. */
  padMask: Tensor;
  /** The final logits [B, 1, S, S] after the upsampler mix (`logits` is CRIS's own). */
  output: Tensor;
}

export class PromptedCris extends nn.Module implements Segmenter {
  readonly info: SegmenterInfo;
  readonly cris: CRIS;
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
  readonly #kernel: number;
  readonly upsamplerImpl: 'factored' | 'direct';
  readonly #plan = new UpsampleConvPlan();
  readonly #ratio: number;

  constructor(cris: CRIS, o: PromptedCrisOptions) {
    super();
    if (o.learner !== 'none') {
      const e = learnerEntry(o.learner);
      if (!e.models.includes('cris')) {
        throw new LearnerConfigError(`learner ${o.learner} prompts the vision encoder's tokens, but CRIS's image encoder is a CNN (ResNet): ` +
          `only the text learners ${learnersFor('cris').join(' and ')} apply to CRIS (as in the paper)`);
      }
    }
    const c = cris.config;
    this.cris = cris;
    this.quirks = o.quirks ?? 'reference';
    this.e2e = o.e2e ?? false;
    this.useNewLastLayer = o.useNewLastLayer ?? true;
    this.noFreezeLastLayer = o.noFreezeLastLayer ?? false;
    this.learnerName = o.learner;
    this.tokenizer = o.tokenizer ?? null;
    this.base = o.base ?? { id: 'unknown', fingerprint: 'unknown' };
    this.factoryConfig = o.factoryConfig ?? null;
    this.#kernel = o.newLastLayerKernelSize ?? 5;
    this.#ratio = o.residualRatio ?? 0.5;
    this.upsamplerImpl = o.upsamplerImpl ?? 'factored';
    this.info = { imageSize: c.imgSize, mean: [...CRIS_IMAGE_MEAN] as [number, number, number], std: [...CRIS_IMAGE_STD] as [number, number, number] };

    // COOPCRIS is a CRIS subclass: its modules sit at the top level.
    for (const [name, m] of cris.children()) this.registerModule(name, m);
    if (this.e2e) {
      cris.requiresGrad_(true);
      if (c.freezeEncoder) cris.backbone.requiresGrad_(false);
    } else {
      cris.requiresGrad_(false);
    }
    cris.eval();

    if (this.useNewLastLayer) {
      this.additive_decoder_layer = this.registerModule('additive_decoder_layer', new nn.Sequential(
        new nn.Conv2d(c.visDim, 64, 1, { bias: false }),
        new nn.Upsample({ size: c.imgSize, mode: 'bilinear', alignCorners: false }),
        new nn.Conv2d(64, 1, this.#kernel, { padding: 'same', paddingMode: 'replicate' }),
      ));
      this.residual_ratio = this.registerParameter('residual_ratio', scalarTensor(this.#ratio));
    } else {
      this.additive_decoder_layer = null;
      this.residual_ratio = null;
      if (this.noFreezeLastLayer && !this.e2e) {
        cris.proj.txt.requiresGrad_(true);
        cris.proj.vis.at(cris.proj.vis.length - 1).requiresGrad_(true);
      }
    }

    if (o.learner === 'none') this.context_learner = null;
    else {
      const host: LearnerHost = {
        family: 'cris',
        textDim: c.clip.transformerWidth,
        visionDim: null,
        imageFeatureDim: c.clip.embedDim,
        maxDepth: c.clip.transformerLayers,
        maxDepthWhy: `the text transformer's ${c.clip.transformerLayers} blocks`,
        tokenEmbedding: cris.backbone.token_embedding.weight,
        tokenize: this.tokenizer ? (t) => this.tokenizer!.encode(t, { addSpecialTokens: false }).inputIds : null,
        quirks: this.quirks,
        referenceContextDim: c.wordDim,
      };
      this.context_learner = this.registerModule('context_learner', createLearner(o.learner, o.learnerOptions ?? {}, host));
    }
    this.mix = this.useNewLastLayer ? 'residual' : 'none';
    this.frozenCache = new FrozenFeatureCache(o.frozenCacheBytes ?? 0);
  }

  // ------------------------------------------------------------------------ Segmenter

  tokenize(prompts: string[]): TextInputs {
    if (!this.tokenizer) {
      throw new Error('PromptedCris: no tokenizer: set the model config\'s "tokenizer" to a folder with vocab.json + merges.txt ' +
        '(or a hub id; the reference uses CIDAS/clipseg-rd64\'s CLIP tokenizer)');
    }
    return textInputsFrom(this.tokenizer.encodeBatch(prompts, { maxLength: this.cris.config.maxLength }));
  }

  forward(pixelValues: Tensor, text: TextInputs): Tensor {
    return tidy(() => this.run(pixelValues, text, false).output);
  }

  forwardDetailed(pixelValues: Tensor, text: TextInputs): PromptedCrisOutput {
    return tidy(() => this.run(pixelValues, text, true));
  }

  parameterGroups(weightDecay: number): optim.ParamGroupInput[] {
    return decayGroups(this, weightDecay).groups;
  }

  decayNames(): { decayed: string[]; other: string[] } {
    const { decayed, other } = decayGroups(this, 0);
    return { decayed, other };
  }

  /**
   * The trainable tensors; with `quirks: 'reference'` also CRIS's BatchNorm running statistics,
   * which Lightning's train mode updates during training (quirk 16), so that a checkpoint
   * reproduces the model it was scored with.
   */
  learnableState(): Map<string, Tensor> {
    const m = new Map(this.namedTrainable());
    if (this.quirks === 'reference') for (const [k, t] of this.namedBuffers('', true)) m.set(k, t);
    return m;
  }

  loadLearnableState(state: Map<string, Tensor>, source?: string): void {
    loadStateStrict(this.learnableState(), state, 'PromptedCris', source,
      `this segmenter is CRIS + ${this.learnerName}${this.context_learner ? ` depth ${this.context_learner.depth}` : ''}, quirks ${this.quirks}${this.e2e ? ', e2e' : ''}: ` +
      'the checkpoint was made with another learner configuration or base model');
  }

  describe(): Record<string, unknown> {
    const c = this.cris.config;
    return {
      kind: 'prompted',
      family: 'cris',
      base: { ...this.base },
      learner: this.context_learner ? this.context_learner.describe() : { name: 'none' },
      quirks: this.quirks,
      useNewLastLayer: this.useNewLastLayer,
      newLastLayerKernelSize: this.#kernel,
      residualRatio: this.#ratio,
      noFreezeLastLayer: this.noFreezeLastLayer,
      e2e: this.e2e,
      imageSize: this.info.imageSize,
      architecture: {
        textWidth: c.clip.transformerWidth, textLayers: c.clip.transformerLayers, embedDim: c.clip.embedDim, visDim: c.visDim,
        wordDim: c.wordDim, visionLayers: c.clip.visionLayers.slice(), decoderLayers: c.numLayers,
      },
      trainableParams: this.numParameters(true),
      ...(this.factoryConfig ? { config: this.factoryConfig } : {}),
    };
  }

  /**
   * Quirk 16: Lightning's `net.train()` also switches the frozen CRIS to training mode (BatchNorm
   * batch statistics, dropout); with `quirks: 'fixed'` frozen parts stay in eval mode.
   */
  override train(mode = true): this {
    super.train(mode);
    this.cris.training = mode;
    if (!this.e2e && this.quirks === 'fixed') {
      this.cris.eval();
    }
    return this;
  }

  /** additive_decoder_layer(map): Conv1x1 -> Upsample(imgSize, bilinear) -> Conv2d(k, 'same', replicate). */
  upsampler(map: Tensor): Tensor {
    const seq = this.additive_decoder_layer!;
    if (this.upsamplerImpl === 'direct') return seq.forward(map);
    return tidy(() => {
      const reduced = (seq.at(0) as nn.Conv2d).forward(map);
      const conv = seq.at(2) as nn.Conv2d;
      return this.#plan.forward(reduced, conv.weight, conv.bias, { size: this.cris.config.imgSize });
    });
  }

  override dispose(): void {
    this.frozenCache.clear();
    this.#plan.dispose();
    super.dispose();
  }

  // -------------------------------------------------------------------------- forward

  #frozen<T>(fn: () => T): T {
    return this.e2e ? fn() : noGrad(fn);
  }

  private encodeImage(pixels: Tensor, detailed: boolean): VisualFeatures {
    const cris = this.cris;
    const compute = (px: Tensor): VisualFeatures => this.#frozen(() => cris.encodeImage(px));
    const cacheable = this.frozenCache.enabled && !detailed && !this.e2e && !cris.backbone.training;
    if (!cacheable) return compute(pixels);
    const B = pixels.size(0);
    const keys = Array.from({ length: B }, (_, b) => imageKey(pixels, b));
    const found = keys.map((k) => this.frozenCache.get(k));
    const missing = found.flatMap((f, b) => (f ? [] : [b]));
    if (missing.length > 0) {
      const sub = missing.length === B ? pixels : pixels.indexSelect(0, tensor(BigInt64Array.from(missing, (b) => BigInt(b)), [missing.length]).to(pixels.device));
      const r = compute(sub);
      missing.forEach((b, j) => {
        const e = [r.c3.select(0, j), r.c4.select(0, j), r.c5.select(0, j)];
        this.frozenCache.set(keys[b]!, e);
        found[b] = e;
      });
      if (missing.length === B) return r;
    }
    return { c3: stack(found.map((f) => f![0]!), 0), c4: stack(found.map((f) => f![1]!), 0), c5: stack(found.map((f) => f![2]!), 0) };
  }

  private run(pixels: Tensor, text: TextInputs, detailed: boolean): PromptedCrisOutput {
    const cris = this.cris;
    const bb = cris.backbone;
    const { inputIds: ids, attentionMask: mask } = text;
    const maxLen = cris.config.maxLength;
    if (ids.ndim !== 2 || ids.size(0) !== pixels.size(0)) throw new Error(`PromptedCris: ${ids.shape[0]} prompts for ${pixels.size(0)} images`);
    if (ids.size(1) > maxLen) throw new Error(`PromptedCris: ${ids.size(1)} tokens exceed maxLength ${maxLen}`);
    const vis = this.encodeImage(pixels, detailed);
    let padMask = cris.padMask(ids, mask);
    const L = this.context_learner;
    let textOut: { features: Tensor; state: Tensor };
    if (!L) {
      textOut = this.#frozen(() => bb.encodeText(ids, padMask));
    } else {
      const imageFeatures = L.needsImageFeatures ? CRIS.imageFeatures(vis) : undefined;
      const prompts: PromptPair[] = Array.from({ length: L.depth }, (_, l) => L.prompts(l, imageFeatures));
      const n = L.numContext;
      const [B, W] = [ids.size(0), cris.config.clip.transformerWidth];
      const p = (l: number): Tensor => {
        const t = prompts[l]!.text!;
        return t.ndim === 2 ? t.unsqueeze(0).expand(B, n, W) : t;
      };
      const tokenEmbeds = this.#frozen(() => bb.embedTokens(ids));
      const inputEmbeds = insertContextAfterBos(tokenEmbeds, p(0), maxLen);
      padMask = extendPadMaskForContext(padMask, n, maxLen);
      const eosIndex = eosIndexForContext(ids, n, maxLen);
      const shift = this.quirks === 'reference' ? 0 : 1; // quirk 12
      const depth = L.depth;
      textOut = bb.encodeTextFromEmbeddings(inputEmbeds, {
        padMask,
        eosIndex,
        afterBlock: (i, h) => (i + shift < depth ? cat([h.narrow(1, 0, 1), p(i + shift), h.slice(1, n + 1)], 1) : h),
      });
    }
    const dec = cris.decode(vis, textOut.features, textOut.state, padMask);
    const output = mixLogits(this.mix, dec.logits, () => this.upsampler(dec.decoderMap), this.residual_ratio!);
    return {
      ...dec, output, visC3: vis.c3, visC4: vis.c4, visC5: vis.c5, textFeatures: textOut.features, textState: textOut.state, padMask,
    };
  }
}
