/**
 * CLIPSeg for image segmentation (HF transformers 4.38.2 `CLIPSegModel` +
 * `CLIPSegForImageSegmentation`), with HF's parameter names (`clip.text_model.*`,
 * `clip.vision_model.*`, `clip.text_projection.weight`, `clip.visual_projection.weight`,
 * `clip.logit_scale`, `decoder.*`) so a HF `model.safetensors` loads strictly by name.
 *
 * Differences from HF, none numerical:
 *  - the segmentation forward runs only the vision layers the decoder reads
 *    (max(extract_layers) + 1) and skips post_layernorm unless `fullVision` is set;
 *  - logits are [B, H, W] for every batch size (HF's `.squeeze()` also drops B when B == 1).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, arange, loadSafetensors, nn, scalarTensor, tidy, dispose } from '../../torch/index.js';
import { CLIPTextTransformer, type CLIPTextOutput, type TextEmbedsOptions } from '../clip/text.js';
import { CLIPVisionTransformer, type VisionForwardOptions } from '../clip/vision.js';
import { ClipTokenizer } from '../clip/tokenizer.js';
import { type CLIPSegConfig, readClipsegConfig } from './config.js';
import { CLIPSegDecoder, type DecoderOutput } from './decoder.js';

/** HF `CLIPSegModel`: the two towers, their projections and logit_scale. */
export class CLIPSegModel extends nn.Module {
  readonly text_model: CLIPTextTransformer;
  readonly vision_model: CLIPVisionTransformer;
  readonly visual_projection: nn.Linear;
  readonly text_projection: nn.Linear;
  readonly logit_scale: Tensor;

  constructor(readonly config: CLIPSegConfig) {
    super();
    this.text_model = this.registerModule('text_model', new CLIPTextTransformer(config.textConfig));
    this.vision_model = this.registerModule('vision_model', new CLIPVisionTransformer(config.visionConfig));
    this.visual_projection = this.registerModule(
      'visual_projection',
      new nn.Linear(config.visionConfig.hiddenSize, config.projectionDim, false),
    );
    this.text_projection = this.registerModule('text_projection', new nn.Linear(config.textConfig.hiddenSize, config.projectionDim, false));
    this.logit_scale = this.registerParameter('logit_scale', scalarTensor(config.logitScaleInitValue));
  }

  /** text_projection(pooled text output) [B, projection_dim] (HF `get_text_features`). */
  getTextFeatures(inputIds: Tensor, attentionMask: Tensor | null = null): Tensor {
    return tidy(() => this.text_projection.forward(this.text_model.forward(inputIds, attentionMask).pooledOutput!));
  }

  /** visual_projection(post_layernorm(CLS)) of the full, unprompted vision tower [B, projection_dim] (HF `get_image_features`). */
  getImageFeatures(pixelValues: Tensor): Tensor {
    return tidy(() => this.visual_projection.forward(this.vision_model.forward(pixelValues).pooledOutput!));
  }
}

/** What conditions the decoder: token ids (+ mask), or ready conditional embeddings [B, projection_dim]. */
export type CLIPSegCondition = { inputIds: Tensor; attentionMask?: Tensor | null } | { conditionalEmbeddings: Tensor };

export interface CLIPSegForwardOptions {
  /** Run every vision layer plus post_layernorm as HF does (for `visionPooledOutput`); default false. */
  fullVision?: boolean;
}

export interface CLIPSegOutput {
  /** [B, H, W] */
  logits: Tensor;
  /** [B, projection_dim] */
  conditionalEmbeddings: Tensor;
  /** Decoder output before the transposed convolution [B, reduce_dim, h, w]. */
  decoderFeatures: Tensor;
  /** Decoder inputs, one per extract layer in config order: HF hidden_states[l + 1], [B, S, D]. */
  visionActivations: Tensor[];
  /** HF vision hidden_states of the layers that ran ([0] = after pre_layrnorm). */
  visionHiddenStates: Tensor[];
  /** post_layernorm(CLS) [B, D] when `fullVision`, else null. */
  visionPooledOutput: Tensor | null;
  /** Text tower outputs when conditioned on ids, else null. */
  textLastHiddenState: Tensor | null;
  textPooledOutput: Tensor | null;
}

export interface VisionActivations {
  /** One per extract layer, config order. */
  activations: Tensor[];
  hiddenStates: Tensor[];
  pooledOutput: Tensor | null;
}

export class CLIPSegForImageSegmentation extends nn.Module {
  readonly clip: CLIPSegModel;
  readonly decoder: CLIPSegDecoder;
  readonly extractLayers: number[];
  /** Set by fromPretrained when the folder has tokenizer files. */
  tokenizer: ClipTokenizer | null = null;

  constructor(readonly config: CLIPSegConfig) {
    super();
    this.extractLayers = config.extractLayers.slice();
    this.clip = this.registerModule('clip', new CLIPSegModel(config));
    this.decoder = this.registerModule('decoder', new CLIPSegDecoder(config));
  }

  /** Vision layers the decoder needs: max(extract_layers) + 1. */
  get visionLayersNeeded(): number {
    return Math.max(...this.extractLayers) + 1;
  }

  /**
   * Runs the vision tower up to the deepest extract layer (or fully with `full`) and picks
   * the decoder inputs. Hook options (extraTokens, afterLayer) pass through to the tower;
   * `numLayers` defaults to visionLayersNeeded.
   */
  visionActivations(pixelValues: Tensor, o: VisionForwardOptions & { full?: boolean } = {}): VisionActivations {
    const total = this.config.visionConfig.numHiddenLayers;
    const numLayers = o.full ? total : (o.numLayers ?? this.visionLayersNeeded);
    if (numLayers < this.visionLayersNeeded)
      throw new Error(`CLIPSeg: the decoder needs ${this.visionLayersNeeded} vision layers, numLayers is ${numLayers}`);
    return tidy(() => {
      const out = this.clip.vision_model.forward(pixelValues, { ...o, numLayers, pool: o.pool ?? o.full === true });
      return {
        activations: this.extractLayers.map((l) => out.hiddenStates[l + 1]!),
        hiddenStates: out.hiddenStates,
        pooledOutput: out.pooledOutput,
      };
    });
  }

  /**
   * text_projection(pooled text) and the text outputs (HF `get_conditional_embeddings` from text);
   * `hooks` act inside the text layers, `outputHiddenStates` keeps every layer's output.
   */
  textConditional(
    inputIds: Tensor,
    attentionMask: Tensor | null = null,
    o: Pick<TextEmbedsOptions, 'hooks' | 'outputHiddenStates'> = {},
  ): { conditionalEmbeddings: Tensor; text: CLIPTextOutput } {
    return tidy(() => {
      const text = this.clip.text_model.forward(inputIds, attentionMask, o);
      return { conditionalEmbeddings: this.clip.text_projection.forward(text.pooledOutput!), text };
    });
  }

  /** The decoder on activations (config order) and conditional embeddings; see DecoderOptions. */
  decode(activations: Tensor[], conditionalEmbeddings: Tensor, numExtraTokens = 0): DecoderOutput {
    return this.decoder.forward(activations, conditionalEmbeddings, { numExtraTokens });
  }

  forward(pixelValues: Tensor, cond: CLIPSegCondition, o: CLIPSegForwardOptions = {}): CLIPSegOutput {
    const B = pixelValues.size(0);
    return tidy(() => {
      let conditional: Tensor;
      let text: CLIPTextOutput | null = null;
      if ('conditionalEmbeddings' in cond) {
        conditional = cond.conditionalEmbeddings;
        if (conditional.ndim !== 2 || conditional.size(0) !== B || conditional.size(1) !== this.config.projectionDim) {
          throw new Error(
            `CLIPSeg: conditional embeddings must be [${B}, ${this.config.projectionDim}], got [${conditional.shape.join(', ')}]`,
          );
        }
      } else {
        if (cond.inputIds.size(0) !== B) throw new Error(`CLIPSeg: ${cond.inputIds.size(0)} prompts for ${B} images`);
        const t = this.textConditional(cond.inputIds, cond.attentionMask ?? null);
        conditional = t.conditionalEmbeddings;
        text = t.text;
      }
      const vis = this.visionActivations(pixelValues, { full: o.fullVision ?? false });
      const dec = this.decode(vis.activations, conditional);
      return {
        logits: dec.logits,
        conditionalEmbeddings: conditional,
        decoderFeatures: dec.features,
        visionActivations: vis.activations,
        visionHiddenStates: vis.hiddenStates,
        visionPooledOutput: vis.pooledOutput,
        textLastHiddenState: text?.lastHiddenState ?? null,
        textPooledOutput: text?.pooledOutput ?? null,
      };
    });
  }

  /**
   * Loads an HF CLIPSeg folder: config.json (HF defaults filled in), model.safetensors (strict:
   * every missing, unexpected or mis-shaped key is an error naming the file and the keys) and,
   * when present, the tokenizer files (vocab.json + merges.txt or tokenizer.json).
   * Legacy persistent `*.embeddings.position_ids` buffers are accepted (and checked to be 0..n-1)
   * because HF 4.38.2 treats them as non-persistent and ignores them.
   */
  static fromPretrained(dir: string, o: { device?: string } = {}): CLIPSegForImageSegmentation {
    const configPath = join(dir, 'config.json');
    if (!existsSync(configPath)) throw new Error(`CLIPSeg: ${configPath} does not exist`);
    const weightsPath = join(dir, 'model.safetensors');
    if (!existsSync(weightsPath)) {
      const pth = ['pytorch_model.bin', 'model.pth'].find((f) => existsSync(join(dir, f)));
      throw new Error(
        `CLIPSeg: ${weightsPath} does not exist` + (pth ? ` (found ${pth}: only safetensors are read; convert it first)` : ''),
      );
    }
    const config = readClipsegConfig(configPath);
    const model = new CLIPSegForImageSegmentation(config);
    if (o.device && o.device !== 'cpu') model.to(o.device);
    let loaded: Map<string, Tensor>;
    try {
      loaded = loadSafetensors(weightsPath, { device: o.device }).tensors;
    } catch (e) {
      model.dispose();
      throw new Error(`CLIPSeg: cannot read ${weightsPath}: ${(e as Error).message}`);
    }
    try {
      dropLegacyPositionIds(loaded, weightsPath);
      model.loadStateDict(loaded, { source: weightsPath });
    } catch (e) {
      model.dispose();
      throw e;
    } finally {
      dispose([...loaded.values()]);
    }
    model.eval();
    if (existsSync(join(dir, 'vocab.json')) || existsSync(join(dir, 'tokenizer.json'))) model.tokenizer = ClipTokenizer.fromDir(dir);
    return model;
  }
}

const LEGACY_POSITION_IDS = ['clip.text_model.embeddings.position_ids', 'clip.vision_model.embeddings.position_ids'];

/** Removes HF's old persistent position_ids buffers after checking they hold 0..n-1. */
export function dropLegacyPositionIds(sd: Map<string, Tensor>, source: string): string[] {
  const dropped: string[] = [];
  for (const k of LEGACY_POSITION_IDS) {
    const t = sd.get(k);
    if (!t) continue;
    const ok = tidy(() => {
      const flat = t.reshape(-1).to('int64');
      const want = arange(flat.size(0), undefined, 1, { device: flat.device });
      return flat.eq(want).all().item() === 1;
    });
    if (!ok) throw new Error(`CLIPSeg: ${source}: ${k} is not 0..n-1; refusing to ignore it`);
    t.dispose();
    sd.delete(k);
    dropped.push(k);
  }
  return dropped;
}
