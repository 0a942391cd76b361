/**
 * `PromptedCris`: a frozen CRIS + a text context learner (CoOp or CoCoOp) + CRIS's learnable
 * upsampler: the reference's `COOPCRIS`. What every prompted model shares is in prompted.ts; this
 * file keeps CRIS's own: how the model is attached, the upsampler's layers, the forward.
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
import { Tensor, nn, tidy } from '../torch/index.js';
import { CRIS, CRIS_IMAGE_MEAN, CRIS_IMAGE_STD, type CrisConfig, type CrisDecodeOutput } from '../models/cris/index.js';
import type { VisualFeatures } from '../models/cris/clip.js';
import {
  batchedPrompts,
  deepPromptHook,
  eosIndexForContext,
  extendPadMaskForContext,
  insertContextAfterBos,
} from '../models/clip/prompt-layout.js';
import type { PromptPair } from '../learners/types.js';
import type { TextInputs } from './segmenter.js';
import { PromptedSegmenterBase, type FrozenModelSpec, type PromptedOptions } from './prompted.js';

/**
 * coop, cocoop or 'none' (vision-prompt learners are refused: CRIS's image encoder is a CNN);
 * without the upsampler `noFreezeLastLayer` trains proj.txt and proj.vis's last conv; `e2e` trains
 * the neck, decoder and projector (and the backbone unless config.freezeEncoder). The tokenizer
 * (prompts, context initializer) must be given: the reference uses CIDAS/clipseg-rd64's.
 */
export type PromptedCrisOptions = PromptedOptions;

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

/** CRIS's side of the base: COOPCRIS is a CRIS subclass, so its modules sit at the top level. */
function crisSpec(cris: CRIS): FrozenModelSpec {
  const c = cris.config;
  return {
    family: 'cris',
    model: cris,
    architecture: {
      textWidth: c.clip.transformerWidth,
      textLayers: c.clip.transformerLayers,
      embedDim: c.clip.embedDim,
      visDim: c.visDim,
      wordDim: c.wordDim,
      visionLayers: c.clip.visionLayers.slice(),
      decoderLayers: c.numLayers,
    },
    info: {
      imageSize: c.imgSize,
      mean: [...CRIS_IMAGE_MEAN] as [number, number, number],
      std: [...CRIS_IMAGE_STD] as [number, number, number],
    },
    defaultTokenizer: null,
    attach(self, e2e) {
      for (const [name, m] of cris.children()) self.registerModule(name, m);
      if (e2e) {
        cris.requiresGrad_(true);
        if (c.freezeEncoder) cris.backbone.requiresGrad_(false);
      } else {
        cris.requiresGrad_(false);
      }
      cris.eval();
    },
    upsamplerLayers: (kernel) => [
      new nn.Conv2d(c.visDim, 64, 1, { bias: false }),
      new nn.Upsample({ size: c.imgSize, mode: 'bilinear', alignCorners: false }),
      new nn.Conv2d(64, 1, kernel, { padding: 'same', paddingMode: 'replicate' }),
    ],
    unfreezeLastLayer() {
      cris.proj.txt.requiresGrad_(true);
      cris.proj.vis.at(cris.proj.vis.length - 1).requiresGrad_(true);
    },
    host: {
      family: 'cris',
      textDim: c.clip.transformerWidth,
      visionDim: null,
      imageFeatureDim: c.clip.embedDim,
      ...crisDepthLimit(c),
      tokenEmbedding: cris.backbone.token_embedding.weight,
      referenceContextDim: c.wordDim,
    },
    mixRule: () => 'residual',
    noTokenizer:
      'PromptedCris: no tokenizer: set the model config\'s "tokenizer" to a folder with vocab.json + merges.txt ' +
      "(or a hub id; the reference uses CIDAS/clipseg-rd64's CLIP tokenizer)",
    maxTokens: c.maxLength,
  };
}

/**
 * The config a CRIS is built with for tuning. Prompt tuning (not `e2e`) runs CRIS's decoder
 * with dropout 0 whatever its config says: every prompt-learning experiment of the original
 * sets it (`configs/experiment/coop/cris.yaml`: `model.net.model_cfg.dropout: 0`, over the
 * model yaml's 0.2, issue 24 row 5), and Lightning's `net.train()` would otherwise make it
 * active in `quirks: reference` (quirk 16; `fixed` keeps the frozen CRIS in eval mode, where
 * dropout does nothing). End-to-end fine-tuning keeps the config's value
 * (`configs/experiment/e2e_cris.yaml`: `dropout: 0.2`).
 */
export function tuningCrisConfig(c: CrisConfig, o: { e2e?: boolean }): CrisConfig {
  return o.e2e ? c : { ...c, dropout: 0 };
}

/** The deepest prompt a CRIS takes (the sweep clamps its depth range to it, the learners refuse more). */
export function crisDepthLimit(c: CrisConfig): { maxDepth: number; maxDepthWhy: string } {
  return { maxDepth: c.clip.transformerLayers, maxDepthWhy: `the text transformer's ${c.clip.transformerLayers} blocks` };
}

export class PromptedCris extends PromptedSegmenterBase<PromptedCrisOutput> {
  readonly cris: CRIS;

  constructor(cris: CRIS, o: PromptedCrisOptions) {
    super(o, crisSpec(cris));
    this.cris = cris;
  }

  protected logitsOf(out: PromptedCrisOutput): Tensor {
    return out.output;
  }

  /** The ResNet's BatchNorm uses batch statistics in training mode (quirk 16). */
  protected get frozenDeterministic(): boolean {
    return !this.cris.backbone.training;
  }

  /**
   * The trainable tensors; with `quirks: 'reference'` also CRIS's BatchNorm running statistics,
   * which Lightning's train mode updates during training (quirk 16), so that a checkpoint
   * reproduces the model it was scored with.
   */
  override learnableState(): Map<string, Tensor> {
    const m = super.learnableState();
    if (this.quirks === 'reference') for (const [k, t] of this.namedBuffers('', true)) m.set(k, t);
    return m;
  }

  /** Conv1x1 -> Upsample(imgSize, bilinear) -> Conv2d(k, 'same', replicate), the last two as small matrix products. */
  protected factoredUpsampler(map: Tensor): Tensor {
    const seq = this.additive_decoder_layer!;
    return tidy(() => {
      const reduced = (seq.at(0) as nn.Conv2d).forward(map);
      const conv = seq.at(2) as nn.Conv2d;
      return this.plan.forward(reduced, conv.weight, conv.bias, { size: this.cris.config.imgSize });
    });
  }

  // -------------------------------------------------------------------------- forward

  /** C3, C4, C5 of the frozen image encoder, per image from the cache when possible. */
  private encodeImage(pixels: Tensor, detailed: boolean): VisualFeatures {
    const [c3, c4, c5] = this.frozenPerImage(pixels, detailed, (px) => {
      const v = this.cris.encodeImage(px);
      return [v.c3, v.c4, v.c5];
    }) as [Tensor, Tensor, Tensor];
    return { c3, c4, c5 };
  }

  protected run(pixels: Tensor, text: TextInputs, detailed: boolean): PromptedCrisOutput {
    const cris = this.cris;
    const bb = cris.backbone;
    const { inputIds: ids, attentionMask: mask } = text;
    const maxLen = cris.config.maxLength;
    if (ids.ndim !== 2 || ids.size(0) !== pixels.size(0))
      throw new Error(`PromptedCris: ${ids.shape[0]} prompts for ${pixels.size(0)} images`);
    if (ids.size(1) > maxLen) throw new Error(`PromptedCris: ${ids.size(1)} tokens exceed maxLength ${maxLen}`);
    const vis = this.encodeImage(pixels, detailed);
    let padMask = cris.padMask(ids, mask);
    const contextLearner = this.context_learner;
    let textOut: { features: Tensor; state: Tensor };
    if (!contextLearner) {
      textOut = this.runFrozen(() => bb.encodeText(ids, padMask));
    } else {
      // Text path (quirks 12-15; prompt-layout.ts): [BOS, ctx, tokens[1:end], last], pad mask with n
      // `false` columns prepended, pooling at argmax(ids) + n; quirk 12: the reference overwrites
      // positions 1..n with ctx[i] after block i (shift 0), `fixed` with ctx[i + 1] as CLIPSeg does.
      const imageFeatures = contextLearner.needsImageFeatures ? CRIS.imageFeatures(vis) : undefined;
      const prompts: PromptPair[] = Array.from({ length: contextLearner.depth }, (_, l) => contextLearner.prompts(l, imageFeatures));
      const n = contextLearner.numContext;
      const p = (l: number): Tensor => batchedPrompts(prompts[l]!.text!, ids.size(0));
      const tokenEmbeds = this.runFrozen(() => bb.embedTokens(ids));
      padMask = extendPadMaskForContext(padMask, n, maxLen);
      textOut = bb.encodeTextFromEmbeddings(insertContextAfterBos(tokenEmbeds, p(0), maxLen), {
        padMask,
        eosIndex: eosIndexForContext(ids, n, maxLen),
        afterBlock: deepPromptHook(p, n, contextLearner.depth, this.quirks === 'reference' ? 0 : 1),
      });
    }
    const dec = cris.decode(vis, textOut.features, textOut.state, padMask);
    const output = this.mixed(dec.logits, dec.decoderMap);
    return {
      ...dec,
      output,
      visC3: vis.c3,
      visC4: vis.c4,
      visC5: vis.c5,
      textFeatures: textOut.features,
      textState: textOut.state,
      padMask,
    };
  }
}
