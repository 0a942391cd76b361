/**
 * CLIPSeg configuration (HF transformers 4.38.2 `CLIPSegConfig`) with HF's defaults, a reader
 * for HF `config.json` (which lists only non-default values), and named presets.
 */
import { readFileSync } from 'node:fs';
import {
  type CLIPTextConfig,
  type CLIPVisionConfig,
  type HiddenAct,
  JsonFields,
  clipTextConfig,
  clipVisionConfig,
  textConfigFromJson,
  visionConfigFromJson,
  textConfigToJson,
  visionConfigToJson,
} from '../clip/config.js';

/** Image normalisation of CLIPSeg's processor (ImageNet mean/std), applied to [0,1] RGB. */
export const CLIPSEG_IMAGE_MEAN: readonly [number, number, number] = Object.freeze([0.485, 0.456, 0.406]) as readonly [
  number,
  number,
  number,
];
export const CLIPSEG_IMAGE_STD: readonly [number, number, number] = Object.freeze([0.229, 0.224, 0.225]) as readonly [
  number,
  number,
  number,
];

export interface CLIPSegConfig {
  textConfig: CLIPTextConfig;
  visionConfig: CLIPVisionConfig;
  projectionDim: number;
  logitScaleInitValue: number;
  /** Vision layers (0-based encoder layer index i -> HF hidden_states[i + 1]) fed to the decoder. */
  extractLayers: number[];
  reduceDim: number;
  decoderNumAttentionHeads: number;
  decoderAttentionDropout: number;
  /** Recorded as in HF, but HF's decoder layers always use ReLU whatever this says. */
  decoderHiddenAct: HiddenAct;
  decoderIntermediateSize: number;
  conditionalLayer: number;
  useComplexTransposedConvolution: boolean;
}

/** HF `CLIPSegConfig()` defaults (the CIDAS/clipseg-rd64 architecture except patch size). */
export function clipsegConfig(
  o: Partial<Omit<CLIPSegConfig, 'textConfig' | 'visionConfig'>> & {
    textConfig?: Partial<CLIPTextConfig>;
    visionConfig?: Partial<CLIPVisionConfig>;
  } = {},
): CLIPSegConfig {
  const c: CLIPSegConfig = {
    projectionDim: 512,
    logitScaleInitValue: 2.6592,
    extractLayers: [3, 6, 9],
    reduceDim: 64,
    decoderNumAttentionHeads: 4,
    decoderAttentionDropout: 0,
    decoderHiddenAct: 'quick_gelu',
    decoderIntermediateSize: 2048,
    conditionalLayer: 0,
    useComplexTransposedConvolution: false,
    ...o,
    textConfig: clipTextConfig(o.textConfig),
    visionConfig: clipVisionConfig(o.visionConfig),
  };
  validateClipsegConfig(c, 'CLIPSeg config');
  return c;
}

function validateClipsegConfig(c: CLIPSegConfig, where: string): void {
  const L = c.visionConfig.numHiddenLayers;
  const bad = c.extractLayers.filter((l) => l < 0 || l + 1 > L);
  if (bad.length)
    throw new Error(
      `${where}: extract_layers ${JSON.stringify(c.extractLayers)} need hidden_states[l + 1] with l + 1 <= ${L} vision layers`,
    );
  if (c.reduceDim % c.decoderNumAttentionHeads !== 0) {
    throw new Error(`${where}: reduce_dim ${c.reduceDim} is not divisible by decoder_num_attention_heads ${c.decoderNumAttentionHeads}`);
  }
  if (c.conditionalLayer < 0 || c.conditionalLayer >= c.extractLayers.length) {
    throw new Error(`${where}: conditional_layer ${c.conditionalLayer} must index one of the ${c.extractLayers.length} decoder layers`);
  }
  if (c.useComplexTransposedConvolution && (c.visionConfig.patchSize % 4 !== 0 || c.reduceDim % 2 !== 0)) {
    throw new Error(`${where}: the complex transposed convolution needs patch_size divisible by 4 and an even reduce_dim`);
  }
}

/**
 * A CLIPSeg config from a parsed HF config.json object. Missing fields take HF's defaults;
 * legacy `text_config_dict` / `vision_config_dict` entries override `text_config` /
 * `vision_config` as HF does. `where` names the file in errors.
 */
export function clipsegConfigFromJson(obj: Record<string, unknown>, where = 'config.json'): CLIPSegConfig {
  const f = new JsonFields(obj, where);
  const modelType = f.str('model_type', '');
  if (modelType !== 'clipseg') throw new Error(`${where}: field "model_type" must be "clipseg", got ${JSON.stringify(obj.model_type)}`);
  const text = { ...f.object('text_config'), ...f.object('text_config_dict') };
  const vision = { ...f.object('vision_config'), ...f.object('vision_config_dict') };
  const d = clipsegConfig();
  const c: CLIPSegConfig = {
    textConfig: textConfigFromJson(text, `${where} text_config`),
    visionConfig: visionConfigFromJson(vision, `${where} vision_config`),
    projectionDim: f.posInt('projection_dim', d.projectionDim),
    logitScaleInitValue: f.num('logit_scale_init_value', d.logitScaleInitValue),
    extractLayers: f.intArray('extract_layers', d.extractLayers),
    reduceDim: f.posInt('reduce_dim', d.reduceDim),
    decoderNumAttentionHeads: f.posInt('decoder_num_attention_heads', d.decoderNumAttentionHeads),
    decoderAttentionDropout: f.num('decoder_attention_dropout', d.decoderAttentionDropout),
    decoderHiddenAct: f.act('decoder_hidden_act', d.decoderHiddenAct),
    decoderIntermediateSize: f.posInt('decoder_intermediate_size', d.decoderIntermediateSize),
    conditionalLayer: f.int('conditional_layer', d.conditionalLayer),
    useComplexTransposedConvolution: f.bool('use_complex_transposed_convolution', d.useComplexTransposedConvolution),
  };
  validateClipsegConfig(c, where);
  return c;
}

/** Reads and resolves an HF CLIPSeg config.json file. */
export function readClipsegConfig(path: string): CLIPSegConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`CLIPSeg: cannot read ${path}: ${(e as Error).message}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new Error(`CLIPSeg: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error(`CLIPSeg: ${path}: expected a JSON object`);
  return clipsegConfigFromJson(obj as Record<string, unknown>, path);
}

/** Every field under HF's JSON keys (compare with `case.json.config_resolved`). */
export function clipsegConfigToJson(c: CLIPSegConfig): Record<string, unknown> {
  return {
    model_type: 'clipseg',
    text_config: textConfigToJson(c.textConfig),
    vision_config: visionConfigToJson(c.visionConfig),
    projection_dim: c.projectionDim,
    logit_scale_init_value: c.logitScaleInitValue,
    extract_layers: c.extractLayers.slice(),
    reduce_dim: c.reduceDim,
    decoder_num_attention_heads: c.decoderNumAttentionHeads,
    decoder_attention_dropout: c.decoderAttentionDropout,
    decoder_hidden_act: c.decoderHiddenAct,
    decoder_intermediate_size: c.decoderIntermediateSize,
    conditional_layer: c.conditionalLayer,
    use_complex_transposed_convolution: c.useComplexTransposedConvolution,
  };
}

// ------------------------------------------------------------------ presets

/**
 * CIDAS/clipseg-rd64-refined: ViT-B/16 (768 x 12, config image_size 224, run at 352), text
 * 512 x 12 with the legacy ids (bos 0, eos 2 -> argmax pooling), projection 512, extract
 * [3, 6, 9], reduce 64, decoder 4 heads / MLP 2048, complex transposed convolution.
 */
export function clipsegRd64RefinedConfig(): CLIPSegConfig {
  return clipsegConfig({
    textConfig: { bosTokenId: 0, eosTokenId: 2, padTokenId: 1 },
    visionConfig: { patchSize: 16, imageSize: 224 },
    projectionDim: 512,
    extractLayers: [3, 6, 9],
    reduceDim: 64,
    decoderNumAttentionHeads: 4,
    decoderIntermediateSize: 2048,
    conditionalLayer: 0,
    useComplexTransposedConvolution: true,
  });
}

/** CIDAS/clipseg-rd64: as rd64-refined with the simple ConvTranspose2d(64, 1, 16, stride 16) head. */
export function clipsegRd64Config(): CLIPSegConfig {
  return { ...clipsegRd64RefinedConfig(), useComplexTransposedConvolution: false };
}

export interface ClipsegPreset {
  /** The hub repository of its weights. */
  hubId: string;
  config: () => CLIPSegConfig;
  /** The input size the CIDAS processor resizes images to. */
  inputSize: number;
}

const rd64Refined: ClipsegPreset = { hubId: 'CIDAS/clipseg-rd64-refined', config: clipsegRd64RefinedConfig, inputSize: 352 };
const rd64: ClipsegPreset = { hubId: 'CIDAS/clipseg-rd64', config: clipsegRd64Config, inputSize: 352 };

/**
 * CLIPSeg's presets, by every name a model config may give (`model: rd64`): the hub id itself
 * and its short names. The one table of them (CRIS's is src/models/cris/config.ts CRIS_PRESETS).
 */
export const CLIPSEG_PRESETS: Readonly<Record<string, ClipsegPreset>> = Object.freeze({
  'CIDAS/clipseg-rd64-refined': rd64Refined,
  clipseg: rd64Refined,
  'rd64-refined': rd64Refined,
  'clipseg-rd64-refined': rd64Refined,
  'CIDAS/clipseg-rd64': rd64,
  rd64,
  'clipseg-rd64': rd64,
});
