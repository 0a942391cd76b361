/**
 * The prompted-segmenter base: a frozen VLSM + a context learner + the learnable upsampler,
 * implementing the trainer's `Segmenter` contract. It holds what every model shares: the
 * options, the learner host, the `Segmenter` methods, `describe()`, the frozen-feature cache, the
 * upsampler's place in the module tree and the logit mix. A subclass per model (clipseg.ts:
 * PromptedClipSeg, cris.ts: PromptedCris) says how its frozen model is attached, what the
 * upsampler's layers are, and runs the forward.
 *
 * Module tree (the reference wrappers'): the frozen model's modules (registered by the subclass),
 * then `additive_decoder_layer.*` and `residual_ratio` (when the upsampler is on), then
 * `context_learner.*`, so learnable tensors carry the reference's names with no translation.
 *
 * For src/export (ONNX): `forward(pixels, text)` is the whole computation; `describe()` names the
 * base model, learner and wrapper settings; checkpoint.ts loads tuned weights into a built one.
 */
import { Tensor, nn, noGrad, scalarTensor, tidy, type optim } from '../torch/index.js';
import type { ClipTokenizer } from '../models/clip/tokenizer.js';
import { createLearner } from '../learners/classes.js';
import { learnerEntry, learnersFor } from '../learners/registry.js';
import {
  LearnerConfigError,
  type BaseFamily,
  type ContextLearner,
  type LearnerHost,
  type LearnerName,
  type QuirkMode,
} from '../learners/types.js';
import type { Segmenter, SegmenterInfo, TextInputs } from './segmenter.js';
import { FrozenFeatureCache, decayGroups, loadStateStrict, mixLogits, textInputsFrom, type MixRule } from './common.js';
import { warnAboutPrompts } from './prompt-check.js';
import { UpsampleConvPlan } from './upsampler.js';

export interface BaseModelInfo {
  /** What the user named (hub id, folder, preset). */
  id: string;
  /** Content fingerprint of the weights (see docs/learners.md), or "random:<preset>". */
  fingerprint: string;
  /** Fingerprint of the architecture config. */
  configHash?: string;
}

export interface PromptedOptions {
  /** Learner name, or 'none' (no prompts: the plain model + upsampler, e.g. with e2e). */
  learner: LearnerName | 'none';
  /** Learner options (numContext, depth, ... see src/learners). */
  learnerOptions?: Record<string, unknown>;
  /** Reproduce the reference's quirks (default) or do what the paper says. */
  quirks?: QuirkMode;
  /** The learnable upsampler (reference `use_new_last_layer`; default: the learner's, true for the prompt learners). */
  useNewLastLayer?: boolean;
  /** Its last conv's kernel (default 5). */
  newLastLayerKernelSize?: number;
  /** Initial r of (1 - r)·logits + r·upsampler (default 0.5). */
  residualRatio?: number;
  /** Without the upsampler: train the model's last layer (reference `no_freeze_last_layer`). */
  noFreezeLastLayer?: boolean;
  /** Train everything (the frozen model too); always for a learner that trains the base (full_finetune). */
  e2e?: boolean;
  /** Tokenizer for prompts and the context initializer (default: the model's, if it has one). */
  tokenizer?: ClipTokenizer | null;
  /** Base-model identity recorded by describe(). */
  base?: BaseModelInfo;
  /** The factory config it was built from (recorded by describe(); see src/tuning/factory.ts). */
  factoryConfig?: Record<string, unknown>;
  /** Byte budget of the frozen per-image feature cache (0 = off, default). */
  frozenCacheBytes?: number;
  /**
   * How the upsampler is computed: 'factored' (default: the same arithmetic as small matrix
   * products, src/tuning/upsampler.ts) or 'direct' (the reference's layers in order).
   */
  upsamplerImpl?: 'factored' | 'direct';
}

/** What a model subclass tells the base before anything is registered. */
export interface FrozenModelSpec {
  family: BaseFamily;
  /** The frozen model (its modules are registered on the segmenter by `attach`). */
  model: nn.Module;
  /** The frozen model's architecture, recorded by describe(). */
  architecture: Record<string, unknown>;
  /** Input size and normalisation. */
  info: SegmenterInfo;
  /** The model's own tokenizer, used when the options give none. */
  defaultTokenizer: ClipTokenizer | null;
  /** Registers the frozen model's modules under the reference wrapper's names and sets what trains (e2e or not). */
  attach(self: nn.Module, e2e: boolean): void;
  /** The layers of the learnable upsampler (reference `additive_decoder_layer`), given its last conv's kernel. */
  upsamplerLayers(kernel: number): nn.Module[];
  /** Without the upsampler (and not e2e): make the model's last layer trainable (reference `no_freeze_last_layer`). */
  unfreezeLastLayer(): void;
  /** The learner host, less what the base adds (tokenize, quirks). */
  host: Omit<LearnerHost, 'tokenize' | 'quirks'>;
  /** How the upsampler output joins the logits when the upsampler is on (quirks 1, 2). */
  mixRule(learner: ContextLearner | null, quirks: QuirkMode): MixRule;
  /** Message when no tokenizer is available. */
  noTokenizer: string;
  /** Longest tokenised prompt (CRIS: its maxLength); undefined = the tokenizer's. */
  maxTokens?: number;
}

export abstract class PromptedSegmenterBase<Output> extends nn.Module implements Segmenter {
  readonly info: SegmenterInfo;
  readonly family: BaseFamily;
  /** The frozen model (its modules are registered on this segmenter). */
  readonly frozenModel: nn.Module;
  readonly context_learner: ContextLearner | null;
  readonly additive_decoder_layer: nn.Sequential | null;
  readonly residual_ratio: Tensor | null;
  readonly learnerName: LearnerName | 'none';
  readonly quirks: QuirkMode;
  readonly e2e: boolean;
  readonly useNewLastLayer: boolean;
  readonly newLastLayerKernelSize: number;
  readonly residualRatio: number;
  readonly noFreezeLastLayer: boolean;
  readonly mix: MixRule;
  readonly tokenizer: ClipTokenizer | null;
  readonly base: BaseModelInfo;
  readonly factoryConfig: Record<string, unknown> | null;
  readonly frozenCache: FrozenFeatureCache;
  readonly upsamplerImpl: 'factored' | 'direct';
  /** The factored upsampler's cached interpolation matrices. */
  protected readonly plan = new UpsampleConvPlan();
  readonly #spec: FrozenModelSpec;

  protected constructor(o: PromptedOptions, spec: FrozenModelSpec) {
    super();
    if (o.learner !== 'none' && !learnerEntry(o.learner).models.includes(spec.family)) {
      const e = learnerEntry(o.learner);
      throw new LearnerConfigError(
        spec.family === 'cris' && e.vision
          ? `learner ${o.learner} prompts the vision encoder's tokens, but CRIS's image encoder is a CNN (ResNet): ` +
              `only the text learners ${learnersFor('cris').join(' and ')} apply to CRIS (as in the paper)`
          : `learner ${o.learner} does not apply to ${spec.family} (it supports ${e.models.join(', ')})`,
      );
    }
    this.#spec = spec;
    this.family = spec.family;
    this.frozenModel = spec.model;
    this.quirks = o.quirks ?? 'reference';
    // A method that trains the base model (full fine-tuning) is e2e; methods whose original has no
    // upsampler (adapters, LoRA) default to none.
    const entry = o.learner === 'none' ? null : learnerEntry(o.learner);
    this.e2e = entry?.trainsBase === true || (o.e2e ?? false);
    this.useNewLastLayer = o.useNewLastLayer ?? entry?.upsampler ?? true;
    this.newLastLayerKernelSize = o.newLastLayerKernelSize ?? 5;
    this.residualRatio = o.residualRatio ?? 0.5;
    this.noFreezeLastLayer = o.noFreezeLastLayer ?? false;
    this.learnerName = o.learner;
    this.tokenizer = o.tokenizer !== undefined ? o.tokenizer : spec.defaultTokenizer;
    this.base = o.base ?? { id: 'unknown', fingerprint: 'unknown' };
    this.factoryConfig = o.factoryConfig ?? null;
    this.upsamplerImpl = o.upsamplerImpl ?? 'factored';
    this.info = spec.info;

    // The frozen model (reference: freeze_all -> eval() + requires_grad_(False)).
    spec.attach(this, this.e2e);

    // The learnable upsampler, or (reference `elif no_freeze_last_layer`) the model's last layer.
    if (this.useNewLastLayer) {
      this.additive_decoder_layer = this.registerModule(
        'additive_decoder_layer',
        new nn.Sequential(...spec.upsamplerLayers(this.newLastLayerKernelSize)),
      );
      this.residual_ratio = this.registerParameter('residual_ratio', scalarTensor(this.residualRatio));
    } else {
      this.additive_decoder_layer = null;
      this.residual_ratio = null;
      if (this.noFreezeLastLayer && !this.e2e) spec.unfreezeLastLayer();
    }

    // The learner.
    if (o.learner === 'none') this.context_learner = null;
    else {
      const tok = this.tokenizer;
      const host: LearnerHost = {
        ...spec.host,
        tokenize: tok ? (t) => tok.encode(t, { addSpecialTokens: false }).inputIds : null,
        quirks: this.quirks,
      };
      this.context_learner = this.registerModule('context_learner', createLearner(o.learner, o.learnerOptions ?? {}, host));
    }
    this.mix = this.useNewLastLayer ? spec.mixRule(this.context_learner, this.quirks) : 'none';
    this.frozenCache = new FrozenFeatureCache(o.frozenCacheBytes ?? 0);
  }

  // ------------------------------------------------------------------ what a model adds

  /** The forward with every intermediate; `detailed` keeps what the cache would skip. */
  protected abstract run(pixels: Tensor, text: TextInputs, detailed: boolean): Output;
  /** The final logits [B, 1, S, S] of a forward's output. */
  protected abstract logitsOf(out: Output): Tensor;
  /** The upsampler as small matrix products (src/tuning/upsampler.ts), same arithmetic as its layers. */
  protected abstract factoredUpsampler(x: Tensor): Tensor;
  /** Whether the frozen model computes the same thing twice (no active dropout / batch statistics). */
  protected abstract get frozenDeterministic(): boolean;

  // ------------------------------------------------------------------------ Segmenter

  tokenize(prompts: string[]): TextInputs {
    if (!this.tokenizer) throw new Error(this.#spec.noTokenizer);
    const max = this.#spec.maxTokens;
    const contextLearner = this.context_learner;
    warnAboutPrompts(this.tokenizer, prompts, {
      maxLength: max ?? this.tokenizer.modelMaxLength,
      contextTokens: contextLearner?.usesText ? contextLearner.numContext : 0,
    });
    return textInputsFrom(
      max === undefined ? this.tokenizer.encodeBatch(prompts) : this.tokenizer.encodeBatch(prompts, { maxLength: max }),
    );
  }

  forward(pixelValues: Tensor, text: TextInputs): Tensor {
    return tidy(() => this.logitsOf(this.run(pixelValues, text, false)));
  }

  /** The forward with every intermediate (tidy'd: only the returned tensors survive). */
  forwardDetailed(pixelValues: Tensor, text: TextInputs): Output {
    return tidy(() => this.run(pixelValues, text, true));
  }

  parameterGroups(weightDecay: number): optim.ParamGroupInput[] {
    if (this.decaysEveryTensor) return [{ params: this.parameters().filter((p) => p.requiresGrad), weightDecay }];
    return decayGroups(this, weightDecay).groups;
  }

  /** The learner's original decays every trainable tensor by the configured amount (its recipe), not Linear/Conv weights only. */
  get decaysEveryTensor(): boolean {
    return this.learnerName !== 'none' && learnerEntry(this.learnerName).recipe?.[this.quirks]?.decayEveryTensor === true;
  }

  /** Names of the decayed and non-decayed trainable parameters. */
  decayNames(): { decayed: string[]; other: string[] } {
    if (this.decaysEveryTensor) return { decayed: this.namedTrainable().map(([n]) => n), other: [] };
    const { decayed, other } = decayGroups(this, 0);
    return { decayed, other };
  }

  learnableState(): Map<string, Tensor> {
    return new Map(this.namedTrainable());
  }

  loadLearnableState(state: Map<string, Tensor>, source?: string): void {
    const contextLearner = this.context_learner;
    loadStateStrict(
      this.learnableState(),
      state,
      this.constructor.name,
      source,
      `this segmenter is ${this.family === 'cris' ? 'CRIS + ' : ''}${this.learnerName}${contextLearner ? ` depth ${contextLearner.depth}` : ''}, quirks ${this.quirks}${this.e2e ? ', e2e' : ''}: ` +
        'the checkpoint was made with another learner configuration or base model',
    );
  }

  describe(): Record<string, unknown> {
    return {
      kind: 'prompted',
      family: this.family,
      base: { ...this.base },
      learner: this.context_learner ? this.context_learner.describe() : { name: 'none' },
      quirks: this.quirks,
      useNewLastLayer: this.useNewLastLayer,
      newLastLayerKernelSize: this.newLastLayerKernelSize,
      residualRatio: this.residualRatio,
      noFreezeLastLayer: this.noFreezeLastLayer,
      e2e: this.e2e,
      imageSize: this.info.imageSize,
      architecture: structuredClone(this.#spec.architecture),
      trainableParams: this.numParameters(true),
      ...(this.factoryConfig ? { config: this.factoryConfig } : {}),
    };
  }

  /**
   * Quirk 16: Lightning's `net.train()` reaches the frozen model too (CRIS: BatchNorm batch
   * statistics and dropout; CLIPSeg has none active); with `quirks: 'fixed'` frozen parts stay
   * in eval mode.
   */
  override train(mode = true): this {
    super.train(mode);
    this.frozenModel.training = mode;
    if (!this.e2e && this.quirks === 'fixed') this.frozenModel.eval();
    return this;
  }

  override dispose(): void {
    this.frozenCache.clear();
    this.plan.dispose();
    super.dispose();
  }

  // -------------------------------------------------------------------------- helpers

  /** additive_decoder_layer(x): the reference's layers in order ('direct') or factored (default). */
  upsampler(x: Tensor): Tensor {
    return this.upsamplerImpl === 'direct' ? this.additive_decoder_layer!.forward(x) : this.factoredUpsampler(x);
  }

  /** The model's logits joined with the upsampler's output of `features` (quirks 1 and 2). */
  protected mixed(logits: Tensor, features: Tensor): Tensor {
    return mixLogits(this.mix, logits, () => this.upsampler(features), this.residual_ratio!);
  }

  /** Frozen branches run without autograd unless e2e. */
  protected runFrozen<T>(fn: () => T): T {
    return this.e2e ? fn() : noGrad(fn);
  }

  /**
   * A frozen, prompt-free per-image computation, from the cache when it is on and sound (the
   * frozen model deterministic, not e2e, and no intermediates asked for); else computed.
   */
  protected frozenPerImage(pixels: Tensor, detailed: boolean, compute: (pixels: Tensor) => Tensor[]): Tensor[] {
    const run = (px: Tensor): Tensor[] => this.runFrozen(() => compute(px));
    if (!this.frozenCache.enabled || detailed || this.e2e || !this.frozenDeterministic) return run(pixels);
    return this.frozenCache.perImage(pixels, run);
  }
}
