/**
 * CLIP vision transformer (HF transformers 4.38.2 `CLIPVisionTransformer` /
 * `CLIPSegVisionTransformer`): patch conv + class token + position embeddings (bicubically
 * interpolated for other input sizes exactly as CLIPSeg's `interpolate_position_embeddings`),
 * pre_layrnorm (HF's spelling), pre-LN encoder, post_layernorm on the CLS token.
 * Parameter names: embeddings.{class_embedding, patch_embedding.weight, position_embedding.weight},
 * pre_layrnorm.*, encoder.layers.N.*, post_layernorm.*.
 *
 * Hook points (context learners): `extraTokens` are appended after the patch tokens *before*
 * pre_layrnorm; `afterLayer` runs after every encoder layer; `hooks` act inside each layer
 * (adapters, LoRA); `numLayers` stops early.
 */
import { Tensor, cat, nn, tidy, F, randn } from '../../torch/index.js';
import type { CLIPVisionConfig } from './config.js';
import { CLIPEncoder, type EncoderLayerHooks, type LayerHook } from './layers.js';

export class CLIPVisionEmbeddings extends nn.Module {
  readonly class_embedding: Tensor;
  readonly patch_embedding: nn.Conv2d;
  readonly position_embedding: nn.Embedding;
  readonly numPatches: number;
  readonly numPositions: number;

  constructor(readonly config: CLIPVisionConfig) {
    super();
    const D = config.hiddenSize;
    this.class_embedding = this.registerParameter('class_embedding', randn([D]));
    this.patch_embedding = this.registerModule(
      'patch_embedding',
      new nn.Conv2d(config.numChannels, D, config.patchSize, { stride: config.patchSize, bias: false }),
    );
    this.numPatches = Math.floor(config.imageSize / config.patchSize) ** 2;
    this.numPositions = this.numPatches + 1;
    this.position_embedding = this.registerModule('position_embedding', new nn.Embedding(this.numPositions, D));
  }

  /**
   * Position embeddings [1 + gh*gw, D] for a gh x gw patch grid: the table itself when the
   * token count matches (HF's test), else the patch rows resized bicubically
   * (align_corners=False) from the trained sqrt(P) x sqrt(P) grid, CLS row kept.
   */
  positionEmbeddings(gh: number, gw: number): Tensor {
    const w = this.position_embedding.weight;
    if (1 + gh * gw === this.numPositions) return w;
    return tidy(() => {
      const D = this.config.hiddenSize;
      const n0 = Math.round(Math.sqrt(this.numPatches));
      if (n0 * n0 !== this.numPatches)
        throw new Error(`CLIP vision: cannot interpolate a non-square ${this.numPatches}-patch position table`);
      const grid = w.narrow(0, 1, this.numPatches).transpose(0, 1).reshape(1, D, n0, n0);
      const resized = F.interpolate(grid, { size: [gh, gw], mode: 'bicubic', alignCorners: false })
        .reshape(D, gh * gw)
        .transpose(0, 1);
      return cat([w.narrow(0, 0, 1), resized], 0);
    });
  }

  /** pixelValues [B, C, H, W] -> [B, 1 + gh*gw, D] (CLS first, then patches row-major). */
  forward(pixelValues: Tensor): Tensor {
    if (pixelValues.ndim !== 4 || pixelValues.size(1) !== this.config.numChannels) {
      throw new Error(`CLIP vision: pixel_values must be [B, ${this.config.numChannels}, H, W], got [${pixelValues.shape.join(', ')}]`);
    }
    return tidy(() => {
      const B = pixelValues.size(0);
      const patches = this.patch_embedding.forward(pixelValues); // [B, D, gh, gw]
      const [gh, gw] = [patches.size(2), patches.size(3)];
      const tokens = patches.flatten(2).transpose(1, 2); // [B, gh*gw, D]
      const cls = this.class_embedding.expand(B, 1, -1);
      return cat([cls, tokens], 1).add(this.positionEmbeddings(gh, gw));
    });
  }
}

export interface VisionForwardOptions {
  /**
   * Tokens appended after the patch tokens before pre_layrnorm: [B, n, D] or [1, n, D]
   * (broadcast over the batch). The sequence becomes [CLS, patches..., extra_1..extra_n].
   */
  extraTokens?: Tensor | null;
  /** Run only the first `numLayers` encoder layers (default: all). */
  numLayers?: number;
  /** Called after each encoder layer that runs; see LayerHook. */
  afterLayer?: LayerHook | null;
  /** Hook points inside each encoder layer that runs (adapters, LoRA); see EncoderLayerHooks. */
  hooks?: EncoderLayerHooks | null;
  /** Compute post_layernorm(CLS of the last hidden state) (default: only when every layer runs). */
  pool?: boolean;
}

export interface CLIPVisionOutput {
  /** Output of the last layer run [B, S, D] (no post_layernorm: HF applies it to CLS only). */
  lastHiddenState: Tensor;
  /** HF's hidden_states: [0] = encoder input (after pre_layrnorm), [i + 1] = after layer i (after afterLayer). */
  hiddenStates: Tensor[];
  /** post_layernorm(lastHiddenState[:, 0]) [B, D], or null. */
  pooledOutput: Tensor | null;
}

export class CLIPVisionTransformer extends nn.Module {
  readonly embeddings: CLIPVisionEmbeddings;
  readonly pre_layrnorm: nn.LayerNorm;
  readonly encoder: CLIPEncoder;
  readonly post_layernorm: nn.LayerNorm;

  constructor(readonly config: CLIPVisionConfig) {
    super();
    this.embeddings = this.registerModule('embeddings', new CLIPVisionEmbeddings(config));
    this.pre_layrnorm = this.registerModule('pre_layrnorm', new nn.LayerNorm(config.hiddenSize, config.layerNormEps));
    this.encoder = this.registerModule('encoder', new CLIPEncoder(config));
    this.post_layernorm = this.registerModule('post_layernorm', new nn.LayerNorm(config.hiddenSize, config.layerNormEps));
  }

  /** With no options this is HF's forward (all layers, pooled output). */
  forward(pixelValues: Tensor, o: VisionForwardOptions = {}): CLIPVisionOutput {
    const total = this.encoder.layers.length;
    const n = o.numLayers ?? total;
    return tidy(() => {
      let h = this.embeddings.forward(pixelValues);
      if (o.extraTokens) {
        const e = o.extraTokens;
        const B = h.size(0),
          D = h.size(2);
        if (e.ndim !== 3 || e.size(2) !== D || (e.size(0) !== B && e.size(0) !== 1)) {
          throw new Error(`CLIP vision: extraTokens must be [${B} or 1, n, ${D}], got [${e.shape.join(', ')}]`);
        }
        h = cat([h, e.size(0) === B ? e : e.expand(B, -1, -1)], 1);
      }
      h = this.pre_layrnorm.forward(h);
      const enc = this.encoder.forward(h, {
        numLayers: n,
        afterLayer: o.afterLayer ?? null,
        hooks: o.hooks ?? null,
        outputHiddenStates: true,
      });
      const pool = o.pool ?? n === total;
      const pooled = pool ? this.post_layernorm.forward(enc.lastHiddenState.select(1, 0)) : null;
      return { lastHiddenState: enc.lastHiddenState, hiddenStates: enc.hiddenStates!, pooledOutput: pooled };
    });
  }
}
