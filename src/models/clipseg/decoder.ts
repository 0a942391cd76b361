/**
 * The CLIPSeg decoder (HF transformers 4.38.2 `CLIPSegDecoder`, `CLIPSegDecoderLayer`;
 * Lüddecke & Ecker, "Image Segmentation Using Text and Image Prompts", CVPR 2022).
 * Parameter names: film_mul.*, film_add.*, reduces.N.*, layers.N.{self_attn.*, layer_norm1.*,
 * mlp.fc1.*, mlp.fc2.*, layer_norm2.*}, transposed_convolution.{0,2,4}.* (complex head) or
 * transposed_convolution.* (simple head).
 *
 * Per decoder step i (activations deepest first): out = reduces[i](act) + out; at
 * i == conditional_layer, FiLM: out = film_mul(c) * out + film_add(c); then a post-LN
 * transformer layer (ReLU MLP: HF forces hidden_act="relu" in the decoder). Finally the CLS
 * token (and any trailing prompt tokens) is dropped, the patch tokens become a grid and the
 * transposed convolution upsamples by patch_size.
 */
import { Tensor, nn, tidy } from '../../torch/index.js';
import { CLIPAttention, CLIPMLP } from '../clip/layers.js';
import type { CLIPSegConfig } from './config.js';

/** Post-LN layer: ln1(x + attn(x)), then ln2(h + mlp(h)). */
export class CLIPSegDecoderLayer extends nn.Module {
  readonly self_attn: CLIPAttention;
  readonly layer_norm1: nn.LayerNorm;
  readonly mlp: CLIPMLP;
  readonly layer_norm2: nn.LayerNorm;
  constructor(hidden: number, heads: number, intermediate: number, eps: number, attentionDropout: number) {
    super();
    this.self_attn = this.registerModule('self_attn', new CLIPAttention(hidden, heads, attentionDropout));
    this.layer_norm1 = this.registerModule('layer_norm1', new nn.LayerNorm(hidden, eps));
    this.mlp = this.registerModule('mlp', new CLIPMLP(hidden, intermediate, 'relu'));
    this.layer_norm2 = this.registerModule('layer_norm2', new nn.LayerNorm(hidden, eps));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.layer_norm1.forward(x.add(this.self_attn.forward(x)));
      return this.layer_norm2.forward(h.add(this.mlp.forward(h)));
    });
  }
}

export interface DecoderOptions {
  /** Trailing prompt tokens carried through the decoder and dropped before the transposed conv (VPT-style learners). */
  numExtraTokens?: number;
}

export interface DecoderOutput {
  /** Transposed-conv output with the channel squeezed: [B, H, W]. */
  logits: Tensor;
  /** Patch-token grid before the transposed convolution: [B, reduce_dim, h, w]. */
  features: Tensor;
}

export class CLIPSegDecoder extends nn.Module {
  readonly film_mul: nn.Linear;
  readonly film_add: nn.Linear;
  readonly transposed_convolution: nn.Sequential | nn.ConvTranspose2d;
  readonly reduces: nn.ModuleList<nn.Linear>;
  readonly layers: nn.ModuleList<CLIPSegDecoderLayer>;
  readonly conditionalLayer: number;

  constructor(readonly config: CLIPSegConfig) {
    super();
    const R = config.reduceDim,
      P = config.visionConfig.patchSize;
    this.conditionalLayer = config.conditionalLayer;
    this.film_mul = this.registerModule('film_mul', new nn.Linear(config.projectionDim, R));
    this.film_add = this.registerModule('film_add', new nn.Linear(config.projectionDim, R));
    if (config.useComplexTransposedConvolution) {
      const k = Math.floor(P / 4);
      this.transposed_convolution = this.registerModule(
        'transposed_convolution',
        new nn.Sequential(
          new nn.Conv2d(R, R, 3, { padding: 1 }),
          new nn.ReLU(),
          new nn.ConvTranspose2d(R, Math.floor(R / 2), k, { stride: k }),
          new nn.ReLU(),
          new nn.ConvTranspose2d(Math.floor(R / 2), 1, k, { stride: k }),
        ),
      );
    } else {
      this.transposed_convolution = this.registerModule('transposed_convolution', new nn.ConvTranspose2d(R, 1, P, { stride: P }));
    }
    const depth = config.extractLayers.length;
    this.reduces = this.registerModule('reduces', new nn.ModuleList<nn.Linear>());
    for (let i = 0; i < depth; i++) this.reduces.push(new nn.Linear(config.visionConfig.hiddenSize, R));
    // HF deep-copies the vision config for the decoder: its layer_norm_eps is the vision one.
    this.layers = this.registerModule('layers', new nn.ModuleList<CLIPSegDecoderLayer>());
    for (let i = 0; i < depth; i++) {
      this.layers.push(
        new CLIPSegDecoderLayer(
          R,
          config.decoderNumAttentionHeads,
          config.decoderIntermediateSize,
          config.visionConfig.layerNormEps,
          config.decoderAttentionDropout,
        ),
      );
    }
  }

  /**
   * The `reduces` projections of the vision activations, in decoder order: reduced[i] =
   * reduces[i](activations[depth - 1 - i]) ([B, S, vision_hidden] -> [B, S, reduce_dim]).
   * activations: one per extract layer, in extract_layers order (shallowest first, as HF passes them).
   * Prompt-free activations reduced once can be kept and fed to `tokensFromReduced` again.
   */
  reduce(activations: Tensor[]): Tensor[] {
    const depth = this.layers.length;
    if (activations.length !== depth)
      throw new Error(`CLIPSegDecoder: expected ${depth} activations (one per extract layer), got ${activations.length}`);
    return tidy(() => Array.from({ length: depth }, (_, i) => this.reduces.at(i).forward(activations[depth - 1 - i]!)));
  }

  /**
   * Decoder token states before the grid, [B, S, reduce_dim], from `reduce`'s output: out =
   * reduced[i] + out; FiLM at conditional_layer; then decoder layer i. conditional: [B, projection_dim].
   */
  tokensFromReduced(reduced: Tensor[], conditional: Tensor): Tensor {
    const depth = this.layers.length;
    if (reduced.length !== depth)
      throw new Error(`CLIPSegDecoder: expected ${depth} reduced activations (one per extract layer), got ${reduced.length}`);
    const B = reduced[0]!.size(0);
    if (conditional.ndim !== 2 || conditional.size(0) !== B || conditional.size(1) !== this.config.projectionDim) {
      throw new Error(
        `CLIPSegDecoder: conditional embeddings must be [${B}, ${this.config.projectionDim}], got [${conditional.shape.join(', ')}]`,
      );
    }
    return tidy(() => {
      let out: Tensor | null = null;
      for (let i = 0; i < depth; i++) {
        const r = reduced[i]!;
        out = out === null ? r : r.add(out);
        if (i === this.conditionalLayer) {
          out = this.film_mul.forward(conditional).unsqueeze(1).mul(out).add(this.film_add.forward(conditional).unsqueeze(1));
        }
        out = this.layers.at(i).forward(out);
      }
      return out!;
    });
  }

  /**
   * Decoder token states before the grid: [B, S, reduce_dim] (CLS + patches + extra tokens).
   * activations: one [B, S, vision_hidden] per extract layer, in extract_layers order
   * (shallowest first, as HF passes them); conditional: [B, projection_dim].
   */
  tokens(activations: Tensor[], conditional: Tensor): Tensor {
    return tidy(() => this.tokensFromReduced(this.reduce(activations), conditional));
  }

  /** Drops CLS (+ numExtraTokens trailing tokens) and folds the patch tokens into [B, R, s, s]. */
  grid(tokens: Tensor, numExtraTokens = 0): Tensor {
    return tidy(() => {
      const [B, S, R] = [tokens.size(0), tokens.size(1), tokens.size(2)];
      const N = S - 1 - numExtraTokens;
      const s = Math.floor(Math.sqrt(N));
      if (N <= 0 || s * s !== N)
        throw new Error(`CLIPSegDecoder: ${N} patch tokens (of ${S}, ${numExtraTokens} extra) do not form a square grid`);
      return tokens.narrow(1, 1, N).permute(0, 2, 1).reshape(B, R, s, s);
    });
  }

  /** The transposed-convolution head: [B, R, s, s] -> logits [B, s*P, s*P] (channel squeezed). */
  head(features: Tensor): Tensor {
    return tidy(() => this.transposed_convolution.forward(features).squeeze(1));
  }

  forward(activations: Tensor[], conditional: Tensor, o: DecoderOptions = {}): DecoderOutput {
    return tidy(() => this.forwardFromReduced(this.reduce(activations), conditional, o));
  }

  /** `forward` from activations already passed through `reduce` (e.g. cached prompt-free ones). */
  forwardFromReduced(reduced: Tensor[], conditional: Tensor, o: DecoderOptions = {}): DecoderOutput {
    return tidy(() => {
      const features = this.grid(this.tokensFromReduced(reduced, conditional), o.numExtraTokens ?? 0);
      return { logits: this.head(features), features };
    });
  }
}
