/**
 * `PromptedClipSeg`: a frozen CLIPSeg + a context learner + the learnable upsampler
 * (TuneVLSeg's `BaseCLIPSeg` wrappers: COOPCLIPSeg, VPTCLIPSeg, MapleCLIPSeg,
 * SharedSeparateCLIPSeg, SharedAttnCLIPSeg). What every prompted model shares is in prompted.ts;
 * this file keeps CLIPSeg's own: how the model is attached, the upsampler's layers, the forward.
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
import { Tensor, cat, nn } from '../torch/index.js';
import { CLIPSEG_IMAGE_MEAN, CLIPSEG_IMAGE_STD, type CLIPSegConfig } from '../models/clipseg/config.js';
import type { CLIPSegForImageSegmentation } from '../models/clipseg/model.js';
import type { LayerHook } from '../models/clip/layers.js';
import {
  batchedPrompts,
  deepPromptHook,
  extendAttentionMaskForContext,
  insertContextAfterBos,
  shiftPoolIndex,
} from '../models/clip/prompt-layout.js';
import { learnerEntry } from '../learners/registry.js';
import type { PromptPair } from '../learners/types.js';
import type { TextInputs } from './segmenter.js';
import { PromptedSegmenterBase, type BaseModelInfo, type FrozenModelSpec, type PromptedOptions } from './prompted.js';

export type { BaseModelInfo };

export interface PromptedClipSegOptions extends PromptedOptions {
  /** Square input side (default: 352 for a 224-config ViT-B/16, else the config's image size). */
  imageSize?: number;
}

/** Everything one forward produces (the parity kind compares these with the fixtures). */
export interface PromptedOutput {
  /** [B, 1, H, W] */
  logits: Tensor;
  /** Decoder features before the transposed convolution [B, R, h, w]. */
  decoderFeatures: Tensor;
  conditionalEmbeddings: Tensor;
  /** text_projection(pooled text): the conditional embedding before a learner's conditional hook (adapters). */
  textProjectionOutput: Tensor;
  /** Decoder inputs (prompt tokens included, after a learner's activation hook), extract-layer order; null when served from the cache. */
  visionActivations: Tensor[] | null;
  /** Text final_layer_norm output and pooled token (null when the text side was cached). */
  textLastHiddenState: Tensor | null;
  textPooledOutput: Tensor | null;
}

/** CLIPSeg's side of the base: the reference wrapper's module names, upsampler and mix rules. */
function clipsegSpec(model: CLIPSegForImageSegmentation, o: PromptedClipSegOptions): FrozenModelSpec {
  const c = model.config;
  const imageSize = o.imageSize ?? (c.visionConfig.imageSize === 224 && c.visionConfig.patchSize === 16 ? 352 : c.visionConfig.imageSize);
  return {
    family: 'clipseg',
    model,
    architecture: {
      textHidden: c.textConfig.hiddenSize,
      textLayers: c.textConfig.numHiddenLayers,
      visionHidden: c.visionConfig.hiddenSize,
      visionLayers: c.visionConfig.numHiddenLayers,
      patchSize: c.visionConfig.patchSize,
      projectionDim: c.projectionDim,
      extractLayers: c.extractLayers.slice(),
      reduceDim: c.reduceDim,
    },
    info: { imageSize, mean: [...CLIPSEG_IMAGE_MEAN] as [number, number, number], std: [...CLIPSEG_IMAGE_STD] as [number, number, number] },
    defaultTokenizer: model.tokenizer,
    attach(self, e2e) {
      self.registerModule('model', model);
      if (e2e) model.requiresGrad_(true);
      else {
        model.requiresGrad_(false);
        model.eval();
      }
    },
    upsamplerLayers: (kernel) => [
      new nn.Upsample({ scaleFactor: c.visionConfig.patchSize, mode: 'bilinear', alignCorners: false }),
      new nn.Conv2d(c.reduceDim, 1, kernel, { padding: 'same', paddingMode: 'replicate' }),
    ],
    unfreezeLastLayer() {
      const tc = model.decoder.transposed_convolution;
      (tc instanceof nn.Sequential ? tc.at(tc.length - 1) : tc).requiresGrad_(true);
    },
    host: {
      family: 'clipseg',
      textDim: c.textConfig.hiddenSize,
      visionDim: c.visionConfig.hiddenSize,
      imageFeatureDim: c.projectionDim,
      ...clipsegDepthLimit(c),
      tokenEmbedding: model.clip.text_model.embeddings.token_embedding.weight,
      encoders: {
        textLayers: c.textConfig.numHiddenLayers,
        visionLayers: c.visionConfig.numHiddenLayers,
        visionLayersRun: model.visionLayersNeeded,
        extractLayers: c.extractLayers.slice(),
        projectionDim: c.projectionDim,
        textIntermediate: c.textConfig.intermediateSize,
        visionIntermediate: c.visionConfig.intermediateSize,
      },
    },
    mixRule(contextLearner, quirks) {
      if (quirks === 'reference' && contextLearner && contextLearner.usesText && !contextLearner.usesVision) return 'none'; // quirk 1: COOPCLIPSeg calls HF's decoder
      if (quirks === 'reference' && contextLearner && learnerEntry(contextLearner.name).referenceWrappers.clipseg === 'VPTCLIPSeg')
        return 'add'; // quirk 2: VPTCLIPSeg adds
      return 'residual';
    },
    noTokenizer: 'PromptedClipSeg: no tokenizer (the model folder has no vocab.json/merges.txt; pass one)',
  };
}

/** The deepest prompt a CLIPSeg takes (the sweep clamps its depth range to it, the learners refuse more). */
export function clipsegDepthLimit(c: CLIPSegConfig): { maxDepth: number; maxDepthWhy: string } {
  return {
    maxDepth: Math.min(c.textConfig.numHiddenLayers, c.visionConfig.numHiddenLayers),
    maxDepthWhy: `min of the text (${c.textConfig.numHiddenLayers}) and vision (${c.visionConfig.numHiddenLayers}) layers`,
  };
}

export class PromptedClipSeg extends PromptedSegmenterBase<PromptedOutput> {
  readonly model: CLIPSegForImageSegmentation;

  constructor(model: CLIPSegForImageSegmentation, o: PromptedClipSegOptions) {
    super(o, clipsegSpec(model, o));
    this.model = model;
  }

  protected logitsOf(out: PromptedOutput): Tensor {
    return out.logits;
  }

  /** The frozen model is deterministic when not training or when its dropouts are off. */
  protected get frozenDeterministic(): boolean {
    const c = this.model.config;
    return !this.model.training || (c.visionConfig.attentionDropout === 0 && c.decoderAttentionDropout === 0);
  }

  /** Upsample(patch, bilinear) -> Conv2d(k, 'same', replicate) as small matrix products. */
  protected factoredUpsampler(features: Tensor): Tensor {
    const conv = this.additive_decoder_layer!.at(1) as nn.Conv2d;
    return this.plan.forward(features, conv.weight, conv.bias, { scaleFactor: this.model.config.visionConfig.patchSize });
  }

  // -------------------------------------------------------------------------- forward

  protected run(pixels: Tensor, text: TextInputs, detailed: boolean): PromptedOutput {
    const model = this.model;
    const contextLearner = this.context_learner;
    const B = pixels.size(0);
    if (text.inputIds.ndim !== 2 || text.inputIds.size(0) !== B) {
      throw new Error(`PromptedClipSeg: ${text.inputIds.shape[0]} prompts for ${B} images (inputIds [${text.inputIds.shape.join(', ')}])`);
    }
    const usesVision = contextLearner?.usesVision ?? false;
    const usesText = contextLearner?.usesText ?? false;
    const n = contextLearner?.numContext ?? 0;
    // Methods that are not prompts act through hooks (adapters, LoRA): inside the encoders' layers,
    // on the decoder's inputs, on the conditional embedding.
    const hooks = contextLearner?.hooks;

    // 1. Frozen vision (no prompt and no hook inside the tower): decoder-ready reduced activations
    //    (or the raw ones for an activation hook) and, for CoCoOp, the image features; cached per
    //    image when a budget is set.
    const frozenVision =
      usesVision || hooks?.vision
        ? null
        : this.frozenVision(pixels, contextLearner?.needsImageFeatures ?? false, detailed, hooks?.visionActivations ?? null);

    // 2. Every layer's prompts, once.
    const prompts: PromptPair[] = contextLearner
      ? Array.from({ length: contextLearner.depth }, (_, l) => contextLearner.prompts(l, frozenVision?.imageFeatures ?? undefined))
      : [];

    // 3. Vision with prompts: appended after the patch tokens, the last n overwritten per layer (quirk 3).
    let activations: Tensor[] | null = frozenVision?.activations ?? null;
    if (usesVision) {
      const depth = contextLearner!.depth;
      const vp = (l: number): Tensor => prompts[l]!.vision!;
      const afterLayer: LayerHook = (l, h) =>
        l + 1 < depth
          ? cat(
              [
                h.narrow(1, 0, h.size(1) - n),
                vp(l + 1)
                  .unsqueeze(0)
                  .expand(h.size(0), n, -1),
              ],
              1,
            )
          : h;
      activations = model.visionActivations(pixels, {
        extraTokens: vp(0).unsqueeze(0),
        afterLayer,
        hooks: hooks?.vision ?? null,
      }).activations;
    } else if (hooks?.vision) {
      activations = model.visionActivations(pixels, { hooks: hooks.vision }).activations;
    }
    if (!frozenVision && hooks?.visionActivations) activations = hooks.visionActivations(activations!);

    // 4. Text: prompted, hooked (with autograd), or frozen; then a conditional-embedding hook.
    let projected: Tensor,
      lastHidden: Tensor,
      pooled: Tensor,
      hiddenStates: Tensor[] | null = null;
    if (usesText) {
      ({ conditional: projected, lastHidden, pooled } = this.promptedText(text, prompts));
    } else {
      const encode = (): ReturnType<typeof model.textConditional> =>
        model.textConditional(text.inputIds, text.attentionMask, {
          hooks: hooks?.text ?? null,
          outputHiddenStates: hooks?.readsTextHiddenStates ?? false,
        });
      const t = hooks?.text ? encode() : this.runFrozen(encode);
      projected = t.conditionalEmbeddings;
      lastHidden = t.text.lastHiddenState;
      pooled = t.text.pooledOutput!;
      hiddenStates = t.text.hiddenStates;
    }
    const conditional = hooks?.conditional ? hooks.conditional(projected, { inputIds: text.inputIds, hiddenStates }) : projected;

    // 5. Decoder (prompt tokens ride along and are dropped before the transposed conv), 6. the upsampler.
    const dec = frozenVision?.reduced
      ? model.decoder.forwardFromReduced(frozenVision.reduced, conditional)
      : model.decoder.forward(activations!, conditional, { numExtraTokens: usesVision ? n : 0 });
    const out = this.mixed(dec.logits.unsqueeze(1), dec.features);
    return {
      logits: out,
      decoderFeatures: dec.features,
      conditionalEmbeddings: conditional,
      textProjectionOutput: projected,
      visionActivations: activations,
      textLastHiddenState: lastHidden,
      textPooledOutput: pooled,
    };
  }

  /**
   * The reference text path (quirks 4, 5; prompt-layout.ts): [BOS, ctx_1..ctx_n, tokens[1:end], last]
   * with at most 77 positions, the mask prepended with n ones, pooling at eos_index + n (clamped
   * to 76) on the original ids; after layer i with i + 1 < depth positions 1..n get layer i + 1's prompts.
   */
  private promptedText(text: TextInputs, prompts: PromptPair[]): { conditional: Tensor; lastHidden: Tensor; pooled: Tensor } {
    const tm = this.model.clip.text_model;
    const contextLearner = this.context_learner!;
    const { inputIds: ids, attentionMask: mask } = text;
    const maxLen = tm.config.maxPositionEmbeddings;
    const n = contextLearner.numContext;
    const p = (l: number): Tensor => batchedPrompts(prompts[l]!.text!, ids.size(0));
    const emb = this.runFrozen(() => tm.embedTokens(ids));
    const out = tm.forwardEmbeds(insertContextAfterBos(emb, p(0), maxLen), {
      attentionMask: extendAttentionMaskForContext(mask, n, maxLen),
      poolIndex: shiftPoolIndex(tm.eosPoolIndex(ids), n, maxLen),
      afterLayer: deepPromptHook(p, n, contextLearner.depth),
      hooks: contextLearner.hooks?.text ?? null,
    });
    return {
      conditional: this.model.clip.text_projection.forward(out.pooledOutput!),
      lastHidden: out.lastHiddenState,
      pooled: out.pooledOutput!,
    };
  }

  /**
   * Prompt-free vision for text-only learners: the decoder's `reduce` of the activations (what the
   * decoder consumes) and CoCoOp's image features (visual_projection(post_layernorm(CLS)) of the
   * full tower), per image from the cache when possible; the activations themselves only when
   * `detailed` (never cached). With an activation hook (shallow adapter) the frozen activations
   * themselves are what is kept, and the decoder gets `adapt(activations)` (reduced: null).
   */
  private frozenVision(
    pixels: Tensor,
    needFeatures: boolean,
    detailed: boolean,
    adapt: ((a: Tensor[]) => Tensor[]) | null,
  ): { reduced: Tensor[] | null; activations: Tensor[] | null; imageFeatures: Tensor | null } {
    const model = this.model;
    const depth = model.extractLayers.length;
    let activations: Tensor[] | null = null;
    const out = this.frozenPerImage(pixels, detailed, (px) => {
      const vis = model.visionActivations(px, { full: needFeatures });
      if (detailed) activations = vis.activations;
      const kept = adapt ? vis.activations : model.decoder.reduce(vis.activations);
      return needFeatures ? [...kept, model.clip.visual_projection.forward(vis.pooledOutput!)] : kept;
    });
    const imageFeatures = needFeatures ? out[depth]! : null;
    if (adapt) return { reduced: null, activations: adapt(out.slice(0, depth)), imageFeatures };
    return { reduced: out.slice(0, depth), activations, imageFeatures };
  }
}
