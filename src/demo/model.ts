/**
 * The demo's base model: a tiny CLIPSeg (the HF `CLIPSegForImageSegmentation` architecture of
 * src/models/clipseg at toy width) and `ClipsegFullSegmenter`, a `Segmenter` that trains every
 * weight of a CLIPSeg (pretraining from scratch, end-to-end fine-tuning) or evaluates it as is
 * (zero-shot).
 *
 * Architecture (after /work/shared/notes/demo-recipe.md): 64x64 input, vision 4 layers x 64
 * wide, 4 heads, MLP 128, patch 8 (an 8x8 grid); text 4 layers x 64, 4 heads, MLP 128, 16
 * positions, the tiny vocabulary of ./vocab.ts; projection 32; decoder reduce_dim 32, 4 heads,
 * MLP 64, reading vision layers [1, 2, 3]; the *simple* head, ConvTranspose2d(32, 1, 8,
 * stride 8): one 8x8 step from the grid to the image. (The "complex" head is two
 * ConvTranspose2d(k = patch/4, stride k) = 2x2 = 4x upsampling for patch 8: 32 px, not 64.)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Tensor, nn, noGrad, tensor, tidy, type optim } from '../torch/index.js';
import { CLIPSegForImageSegmentation } from '../models/clipseg/model.js';
import { clipsegConfig, type CLIPSegConfig } from '../models/clipseg/config.js';
import type { ClipTokenizer } from '../models/clip/tokenizer.js';
import type { Segmenter, SegmenterInfo, TextInputs } from '../tuning/segmenter.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../data/image.js';
import { Rng, hashSeed } from '../data/rng.js';
import { TINY_MAX_LENGTH } from './vocab.js';

/** The demo's image side. */
export const DEMO_IMAGE_SIZE = 64;

/** The tiny CLIPSeg configuration for a vocabulary of `vocabSize` tokens (bos 0, eos = pad 1). */
export function tinyClipsegConfig(vocabSize: number): CLIPSegConfig {
  return clipsegConfig({
    textConfig: {
      vocabSize,
      hiddenSize: 64,
      intermediateSize: 128,
      numHiddenLayers: 4,
      numAttentionHeads: 4,
      maxPositionEmbeddings: TINY_MAX_LENGTH,
      bosTokenId: 0,
      eosTokenId: 1,
      padTokenId: 1,
    },
    visionConfig: {
      hiddenSize: 64,
      intermediateSize: 128,
      numHiddenLayers: 4,
      numAttentionHeads: 4,
      imageSize: DEMO_IMAGE_SIZE,
      patchSize: 8,
    },
    projectionDim: 32,
    extractLayers: [1, 2, 3],
    reduceDim: 32,
    decoderNumAttentionHeads: 4,
    decoderIntermediateSize: 64,
    conditionalLayer: 0,
    useComplexTransposedConvolution: false,
  });
}

/**
 * HF `CLIPSegPreTrainedModel._init_weights`-style initialisation, drawn with a JS generator
 * (the same weights on every machine and thread count): token and position embeddings
 * N(0, 0.02), class embedding N(0, D^-0.5), patch conv N(0, 0.02), attention and MLP
 * projections with HF's depth-scaled stds, LayerNorm 1/0, biases 0. The decoder keeps
 * PyTorch's default Linear/Conv initialisation, as HF's does.
 */
export function initTinyClipseg(model: CLIPSegForImageSegmentation, seed: number): void {
  const rng = new Rng(hashSeed(seed, 0xc11b));
  const fill = (t: Tensor, std: number): void => {
    const v = Float32Array.from({ length: t.numel }, () => rng.normal() * std);
    const src = tensor(v, t.shape);
    t.copy_(src);
    src.dispose();
  };
  const c = model.config;
  noGrad(() => {
    for (const [name, t] of model.namedParameters()) {
      if (name.startsWith('decoder.') || name === 'clip.logit_scale') continue;
      const tower = name.startsWith('clip.text_model.') ? c.textConfig : c.visionConfig;
      const D = tower.hiddenSize;
      const numLayers = tower.numHiddenLayers;
      if (name.endsWith('.bias')) t.zero_();
      else if (/layer_?norm|layrnorm/.test(name)) t.fill_(1);
      else if (
        name.endsWith('token_embedding.weight') ||
        name.endsWith('position_embedding.weight') ||
        name.endsWith('patch_embedding.weight')
      )
        fill(t, 0.02);
      else if (name.endsWith('class_embedding')) fill(t, D ** -0.5);
      else if (/self_attn\.(q|k|v)_proj\.weight$/.test(name)) fill(t, D ** -0.5 * (2 * numLayers) ** -0.5);
      else if (/self_attn\.out_proj\.weight$/.test(name)) fill(t, D ** -0.5);
      else if (/mlp\.fc1\.weight$/.test(name)) fill(t, (2 * D) ** -0.5);
      else if (/mlp\.fc2\.weight$/.test(name)) fill(t, D ** -0.5 * (2 * numLayers) ** -0.5);
      else if (name.endsWith('text_projection.weight')) fill(t, c.textConfig.hiddenSize ** -0.5);
      else if (name.endsWith('visual_projection.weight')) fill(t, c.visionConfig.hiddenSize ** -0.5);
    }
  });
}

/** Is this a weight AdamW should decay (Linear / Conv / ConvTranspose weights, as the reference)? */
function decayed(m: nn.Module, pn: string): boolean {
  return pn === 'weight' && (m instanceof nn.Linear || m instanceof nn.Conv2d || m instanceof nn.ConvTranspose2d);
}

export interface FullSegmenterOptions {
  /** Base-model identity recorded by describe(). */
  base?: string;
  /** Train every weight (default true); false freezes everything (evaluation only). */
  trainable?: boolean;
}

/**
 * A whole CLIPSeg as a `Segmenter`: logits [B, 1, S, S] = the model's logits; every parameter
 * trainable; the learnable state is the full HF state dict (a checkpoint of it is a loadable
 * model.safetensors).
 */
export class ClipsegFullSegmenter extends nn.Module implements Segmenter {
  readonly info: SegmenterInfo;
  readonly model: CLIPSegForImageSegmentation;
  readonly tokenizer: ClipTokenizer;
  readonly base: string;

  constructor(model: CLIPSegForImageSegmentation, tokenizer: ClipTokenizer, o: FullSegmenterOptions = {}) {
    super();
    this.model = this.registerModule('model', model);
    this.tokenizer = tokenizer;
    this.base = o.base ?? 'tiny-clipseg';
    model.requiresGrad_(o.trainable ?? true);
    this.info = { imageSize: model.config.visionConfig.imageSize, mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] };
  }

  /** Loads a folder with config.json, model.safetensors and the tokenizer files (strict). */
  static fromPretrained(dir: string, o: FullSegmenterOptions = {}): ClipsegFullSegmenter {
    const model = CLIPSegForImageSegmentation.fromPretrained(dir);
    if (!model.tokenizer) {
      model.dispose();
      throw new Error(`demo model: ${path.join(dir, 'vocab.json')} not found (the model folder needs its tokenizer files)`);
    }
    return new ClipsegFullSegmenter(model, model.tokenizer, { base: o.base ?? dir, ...o });
  }

  tokenize(prompts: string[]): TextInputs {
    const { inputIds, attentionMask } = this.tokenizer.encodeBatch(prompts, {
      maxLength: this.model.config.textConfig.maxPositionEmbeddings,
    });
    const seqLen = inputIds[0]?.length ?? 0;
    const flat = (rows: number[][]): BigInt64Array => BigInt64Array.from(rows.flat(), (x) => BigInt(x));
    return {
      inputIds: tensor(flat(inputIds), [prompts.length, seqLen]),
      attentionMask: tensor(flat(attentionMask), [prompts.length, seqLen]),
    };
  }

  forward(pixelValues: Tensor, text: TextInputs): Tensor {
    return tidy(() => this.model.forward(pixelValues, { inputIds: text.inputIds, attentionMask: text.attentionMask }).logits.unsqueeze(1));
  }

  parameterGroups(weightDecay: number): optim.ParamGroupInput[] {
    const decay: Tensor[] = [];
    const rest: Tensor[] = [];
    const seen = new Set<Tensor>();
    for (const [, m] of this.namedModules()) {
      for (const [pn, t] of m._parameters) {
        if (t === null || !t.requiresGrad || seen.has(t)) continue;
        seen.add(t);
        (decayed(m, pn) ? decay : rest).push(t);
      }
    }
    return [
      { params: decay, weightDecay },
      { params: rest, weightDecay: 0 },
    ];
  }

  /** The whole model's state dict under HF names (without the `model.` prefix). */
  learnableState(): Map<string, Tensor> {
    return this.model.stateDict();
  }

  loadLearnableState(state: Map<string, Tensor>, source?: string): void {
    this.model.loadStateDict(state, { source: source ?? 'learnable state' });
  }

  describe(): Record<string, unknown> {
    const c = this.model.config;
    return {
      kind: 'clipseg-full',
      base: this.base,
      imageSize: this.info.imageSize,
      architecture: {
        textHidden: c.textConfig.hiddenSize,
        textLayers: c.textConfig.numHiddenLayers,
        visionHidden: c.visionConfig.hiddenSize,
        visionLayers: c.visionConfig.numHiddenLayers,
        patchSize: c.visionConfig.patchSize,
        projectionDim: c.projectionDim,
        extractLayers: c.extractLayers.slice(),
        reduceDim: c.reduceDim,
        vocabSize: c.textConfig.vocabSize,
      },
      trainableParams: this.numParameters(true),
    };
  }
}

/** Does `dir` hold a model folder (config.json + model.safetensors + vocab.json)? */
export function isModelDir(dir: string): boolean {
  return ['config.json', 'model.safetensors', 'vocab.json'].every((f) => existsSync(path.join(dir, f)));
}
