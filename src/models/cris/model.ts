// CRIS: CLIP-Driven Referring Image Segmentation (Wang et al., CVPR 2022), as the TuneVLSeg
// reference builds it: CLIP ModifiedResNet + text transformer (`backbone`), multi-modal FPN
// (`neck`), transformer decoder (`decoder`) and dynamic-convolution projector (`proj`).
//
// Reference: github.com/naamiinepal/tunevlseg @ 7956bcd, src/models/components/cris_model/__init__.py
// (CRIS) and src/models/core_models/coop/coop_cris.py (COOPCRIS, whose text path the hooks below
// reproduce). Shapes in comments are for the paper's RN50 at 416x416.
import { Tensor, tidy } from '../../torch/index.js';
import { F, nn } from '../../torch/index.js';
import { ClipResNet, type VisualFeatures } from './clip.js';
import { FPN, Projector, TransformerDecoder } from './layers.js';
import { checkCrisConfig, type CrisConfig } from './config.js';

export interface CrisInputs {
  /** [B, C, S, S] normalised images. */
  pixelValues: Tensor;
  /** [B, L] int64 CLIP token ids (BOS 49406 ... EOS 49407, padding 49407 or 0). */
  inputIds: Tensor;
  /** [B, L] 1 = token, 0 = padding. Without it the pad mask is `inputIds == 0` (reference). */
  attentionMask?: Tensor | null;
}

/** What a text learner sees before the text encoder runs (see CrisTextHooks.prepare). */
export interface CrisTextContext {
  /** [B, L] the original token ids. */
  inputIds: Tensor;
  /** token_embedding(inputIds), [B, L, width], no positional embedding. */
  tokenEmbeds: Tensor;
  /** [B, L] bool, true = padding (~attention_mask). */
  padMask: Tensor;
  /** [B] int64 argmax(inputIds): the plain EOS position. */
  eosIndex: Tensor;
  /**
   * [B, embedDim]: mean over H, W of the attention-pool output (vis_c5), the image feature
   * COOPCRIS gives CoCoOp (quirk 14). Computed from the same forward's image encoder.
   */
  imageFeatures: Tensor;
}

/** What `prepare` returns: the text encoder's input. */
export interface CrisTextInput {
  /** [B, L', width] input embeddings (no positional embedding), L' <= maxLength. */
  inputEmbeds: Tensor;
  /** [B, L'] bool, true = padding: key_padding_mask of every text block AND of the decoder's cross-attention. */
  padMask: Tensor;
  /** [B] int64 pooling position in [0, L'). */
  eosIndex: Tensor;
}

/**
 * Hook points for text prompt learners (CoOp, CoCoOp). Both run inside CRIS.forward's tidy scope.
 * - prepare(ctx): called once per forward, after the image encoder; returns the text encoder's input.
 * - afterBlock(i, hidden, imageFeatures): called after EVERY text block i = 0 .. layers-1 (0 = first
 *   block), hidden batch-first [B, L', width]; its return value feeds block i+1 (after the last block:
 *   ln_final). COOPCRIS overwrites positions 1..n with context i when i < prompt_depth (quirk 12).
 */
export interface CrisTextHooks {
  prepare?(ctx: CrisTextContext): CrisTextInput;
  afterBlock?(blockIndex: number, hidden: Tensor, imageFeatures: Tensor): Tensor;
}

export interface CrisDecodeOutput {
  /** Neck output [B, visDim, S/16, S/16]. */
  fpnOut: Tensor;
  /** Decoder output [B, visDim, h*w] (after its final LayerNorm). */
  decoderOut: Tensor;
  /** decoderOut viewed as [B, visDim, h, w]: the map COOPCRIS's additive layer reads (quirk 15). */
  decoderMap: Tensor;
  /** Projector output [B, 1, S/4, S/4]. */
  projOut: Tensor;
  /** bicubic (align_corners=True) upsampling of projOut to [B, 1, imgSize, imgSize]. */
  logits: Tensor;
}

export interface CrisOutput extends CrisDecodeOutput {
  visC3: Tensor;
  visC4: Tensor;
  visC5: Tensor;
  /** ln_final output [B, L', width]. */
  textFeatures: Tensor;
  /** Pooled, projected text [B, embedDim]. */
  textState: Tensor;
  /** [B, L'] bool, true = padding (what the decoder used). */
  padMask: Tensor;
  /** [B, embedDim] mean of visC5 over H, W: only when hooks were given. */
  imageFeatures?: Tensor;
}

/** CRIS with the reference's parameter names (backbone.*, neck.*, decoder.*, proj.*). Built in eval mode. */
export class CRIS extends nn.Module {
  readonly config: CrisConfig;
  readonly backbone: ClipResNet;
  readonly neck: FPN;
  readonly decoder: TransformerDecoder;
  readonly proj: Projector;

  constructor(config: CrisConfig) {
    super();
    this.config = checkCrisConfig(config);
    const c = this.config;
    this.backbone = this.registerModule('backbone', new ClipResNet(c.clip));
    this.neck = this.registerModule('neck', new FPN(c.fpnIn, c.fpnOut));
    this.decoder = this.registerModule('decoder', new TransformerDecoder(c.numLayers, c.visDim, c.numHead, c.dimFfn, c.dropout));
    this.proj = this.registerModule('proj', new Projector(c.wordDim, c.visDim / 2, 3));
    if (c.freezeEncoder) this.backbone.requiresGrad_(false);
    // Parity and frozen use: BatchNorm running statistics, no dropout (quirk 16: call train() to get the reference's training-mode behaviour).
    this.eval();
  }

  get maxLength(): number {
    return this.config.maxLength;
  }

  /** Reference get_pad_mask: ~attention_mask.bool(), or inputIds == 0 without a mask. Bool [B, L]. */
  padMask(inputIds: Tensor, attentionMask?: Tensor | null): Tensor {
    return attentionMask ? attentionMask.eq(0) : inputIds.eq(0);
  }

  /** C3, C4, C5 of the image encoder (tidy'd). */
  encodeImage(pixelValues: Tensor): VisualFeatures {
    return this.backbone.encodeImage(pixelValues);
  }

  /** COOPCRIS's CoCoOp image feature (quirk 14): mean over H, W of C5 (the attention-pool output), [B, embedDim]. */
  static imageFeatures(vis: VisualFeatures): Tensor {
    return vis.c5.mean([2, 3]);
  }

  /** Neck, decoder and projector from the encoders' outputs (tidy'd). */
  decode(vis: VisualFeatures, textFeatures: Tensor, textState: Tensor, padMask: Tensor): CrisDecodeOutput {
    return tidy(() => {
      const fpnOut = this.neck.forward(vis.c3, vis.c4, vis.c5, textState);
      const [b, c, h, w] = fpnOut.shape as [number, number, number, number];
      const decoderOut = this.decoder.forward(fpnOut, textFeatures, padMask);
      const decoderMap = decoderOut.reshape(b, c, h, w);
      const projOut = this.proj.forward(decoderMap, textState);
      const s = this.config.imgSize;
      const logits = F.interpolate(projOut, { size: [s, s], mode: 'bicubic', alignCorners: true });
      return { fpnOut, decoderOut, decoderMap, projOut, logits };
    });
  }

  /**
   * CRIS.forward: logits [B, 1, imgSize, imgSize] and every intermediate. Without hooks this is
   * the reference's plain CRIS; with hooks the text path is the learner's (see CrisTextHooks).
   */
  forward(inputs: CrisInputs, hooks?: CrisTextHooks): CrisOutput {
    return tidy(() => {
      const { pixelValues, inputIds } = inputs;
      if (inputIds.ndim !== 2) throw new Error(`CRIS.forward: inputIds must be [B, L], got [${inputIds.shape.join(', ')}]`);
      if (inputIds.size(1) > this.config.maxLength)
        throw new Error(`CRIS.forward: ${inputIds.size(1)} tokens exceed maxLength ${this.config.maxLength}`);
      if (inputs.attentionMask && inputs.attentionMask.shape.join() !== inputIds.shape.join()) {
        throw new Error(
          `CRIS.forward: attentionMask [${inputs.attentionMask.shape.join(', ')}] must match inputIds [${inputIds.shape.join(', ')}]`,
        );
      }
      const vis = this.encodeImage(pixelValues);
      let padMask = this.padMask(inputIds, inputs.attentionMask);
      let text;
      let imageFeatures: Tensor | undefined;
      if (!hooks) {
        text = this.backbone.encodeText(inputIds, padMask);
      } else {
        imageFeatures = CRIS.imageFeatures(vis);
        const ctx: CrisTextContext = {
          inputIds,
          tokenEmbeds: this.backbone.embedTokens(inputIds),
          padMask,
          eosIndex: inputIds.argmax(-1),
          imageFeatures,
        };
        const ti: CrisTextInput = hooks.prepare ? hooks.prepare(ctx) : { inputEmbeds: ctx.tokenEmbeds, padMask, eosIndex: ctx.eosIndex };
        if (ti.inputEmbeds.size(1) > this.config.maxLength) {
          throw new Error(
            `CRIS.forward: prepare() returned ${ti.inputEmbeds.size(1)} positions, more than maxLength ${this.config.maxLength}`,
          );
        }
        padMask = ti.padMask.dtype === 'bool' ? ti.padMask : ti.padMask.ne(0);
        const f = imageFeatures;
        const after = hooks.afterBlock;
        text = this.backbone.encodeTextFromEmbeddings(ti.inputEmbeds, {
          padMask,
          eosIndex: ti.eosIndex,
          afterBlock: after ? (i, h) => after.call(hooks, i, h, f) : undefined,
        });
      }
      const dec = this.decode(vis, text.features, text.state, padMask);
      const out: CrisOutput = {
        ...dec,
        visC3: vis.c3,
        visC4: vis.c4,
        visC5: vis.c5,
        textFeatures: text.features,
        textState: text.state,
        padMask,
      };
      if (imageFeatures) out.imageFeatures = imageFeatures;
      return out;
    });
  }
}

// The text learners' input layout helpers live with the CLIP text tower (one module for both models).
export { eosIndexForContext, extendPadMaskForContext, insertContextAfterBos } from '../clip/prompt-layout.js';
