/**
 * CLIP text/vision configurations with Hugging Face's defaults.
 *
 * HF `config.json` files list only the values that differ from the class defaults
 * (`PretrainedConfig.to_diff_dict`), so a loader must fill the rest exactly as
 * transformers 4.38.2 does (`CLIPTextConfig`, `CLIPVisionConfig`, and their CLIPSeg copies
 * `CLIPSegTextConfig`, `CLIPSegVisionConfig`, which share these defaults).
 *
 * Field names are camelCase versions of the HF keys (`hidden_size` -> `hiddenSize`).
 */

export type HiddenAct = 'quick_gelu' | 'gelu' | 'relu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'silu';
const HIDDEN_ACTS: readonly HiddenAct[] = ['quick_gelu', 'gelu', 'relu', 'gelu_new', 'gelu_pytorch_tanh', 'silu'];

export interface CLIPTextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  hiddenAct: HiddenAct;
  layerNormEps: number;
  attentionDropout: number;
  initializerRange: number;
  initializerFactor: number;
  padTokenId: number;
  bosTokenId: number;
  /** 2 selects HF's legacy pooling (argmax of the ids); anything else: first index of this id. */
  eosTokenId: number;
}

export interface CLIPVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numChannels: number;
  /** Image size the position embeddings were trained at (other sizes interpolate them). */
  imageSize: number;
  patchSize: number;
  hiddenAct: HiddenAct;
  layerNormEps: number;
  attentionDropout: number;
  initializerRange: number;
  initializerFactor: number;
}

/** HF `CLIPTextConfig()` / `CLIPSegTextConfig()` defaults. */
export const CLIP_TEXT_DEFAULTS: Readonly<CLIPTextConfig> = Object.freeze({
  vocabSize: 49408,
  hiddenSize: 512,
  intermediateSize: 2048,
  numHiddenLayers: 12,
  numAttentionHeads: 8,
  maxPositionEmbeddings: 77,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
  attentionDropout: 0,
  initializerRange: 0.02,
  initializerFactor: 1,
  padTokenId: 1,
  bosTokenId: 49406,
  eosTokenId: 49407,
});

/** HF `CLIPVisionConfig()` / `CLIPSegVisionConfig()` defaults (ViT-B/32 at 224). */
export const CLIP_VISION_DEFAULTS: Readonly<CLIPVisionConfig> = Object.freeze({
  hiddenSize: 768,
  intermediateSize: 3072,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  numChannels: 3,
  imageSize: 224,
  patchSize: 32,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
  attentionDropout: 0,
  initializerRange: 0.02,
  initializerFactor: 1,
});

export function clipTextConfig(overrides: Partial<CLIPTextConfig> = {}): CLIPTextConfig {
  const c = { ...CLIP_TEXT_DEFAULTS, ...overrides };
  checkTransformerShape(c, 'text config');
  return c;
}

export function clipVisionConfig(overrides: Partial<CLIPVisionConfig> = {}): CLIPVisionConfig {
  const c = { ...CLIP_VISION_DEFAULTS, ...overrides };
  checkTransformerShape(c, 'vision config');
  return c;
}

function checkTransformerShape(c: { hiddenSize: number; numAttentionHeads: number }, what: string): void {
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    throw new Error(`${what}: hidden_size ${c.hiddenSize} is not divisible by num_attention_heads ${c.numAttentionHeads}`);
  }
}

// ------------------------------------------------------------------ reading HF JSON

/** Reads typed fields of a JSON object, failing with the file and field in the message. */
export class JsonFields {
  constructor(
    readonly obj: Record<string, unknown>,
    readonly where: string,
  ) {}

  private fail(key: string, expected: string): never {
    throw new Error(`${this.where}: field "${key}" must be ${expected}, got ${JSON.stringify(this.obj[key])}`);
  }
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }
  int(key: string, def: number): number {
    if (!this.has(key)) return def;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(key, 'an integer');
    return v;
  }
  posInt(key: string, def: number): number {
    if (!this.has(key)) return def;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(key, 'a positive integer');
    return v;
  }
  num(key: string, def: number): number {
    if (!this.has(key)) return def;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, 'a finite number');
    return v;
  }
  bool(key: string, def: boolean): boolean {
    if (!this.has(key)) return def;
    const v = this.obj[key];
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }
  str(key: string, def: string): string {
    if (!this.has(key)) return def;
    const v = this.obj[key];
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }
  act(key: string, def: HiddenAct): HiddenAct {
    const v = this.str(key, def);
    if (!(HIDDEN_ACTS as readonly string[]).includes(v)) this.fail(key, `one of ${HIDDEN_ACTS.join(', ')}`);
    return v as HiddenAct;
  }
  intArray(key: string, def: number[]): number[] {
    if (!this.has(key)) return def.slice();
    const v = this.obj[key];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
      this.fail(key, 'a non-empty array of non-negative integers');
    }
    return (v as number[]).slice();
  }
  object(key: string): Record<string, unknown> {
    if (!this.has(key)) return {};
    const v = this.obj[key];
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'an object');
    return v as Record<string, unknown>;
  }
}

/** A text config from the HF JSON keys (missing keys take HF's defaults). */
export function textConfigFromJson(obj: Record<string, unknown>, where = 'text_config'): CLIPTextConfig {
  const f = new JsonFields(obj, where);
  const d = CLIP_TEXT_DEFAULTS;
  return clipTextConfig({
    vocabSize: f.posInt('vocab_size', d.vocabSize),
    hiddenSize: f.posInt('hidden_size', d.hiddenSize),
    intermediateSize: f.posInt('intermediate_size', d.intermediateSize),
    numHiddenLayers: f.posInt('num_hidden_layers', d.numHiddenLayers),
    numAttentionHeads: f.posInt('num_attention_heads', d.numAttentionHeads),
    maxPositionEmbeddings: f.posInt('max_position_embeddings', d.maxPositionEmbeddings),
    hiddenAct: f.act('hidden_act', d.hiddenAct),
    layerNormEps: f.num('layer_norm_eps', d.layerNormEps),
    attentionDropout: f.num('attention_dropout', d.attentionDropout),
    initializerRange: f.num('initializer_range', d.initializerRange),
    initializerFactor: f.num('initializer_factor', d.initializerFactor),
    padTokenId: f.int('pad_token_id', d.padTokenId),
    bosTokenId: f.int('bos_token_id', d.bosTokenId),
    eosTokenId: f.int('eos_token_id', d.eosTokenId),
  });
}

/** A vision config from the HF JSON keys (missing keys take HF's defaults). */
export function visionConfigFromJson(obj: Record<string, unknown>, where = 'vision_config'): CLIPVisionConfig {
  const f = new JsonFields(obj, where);
  const d = CLIP_VISION_DEFAULTS;
  return clipVisionConfig({
    hiddenSize: f.posInt('hidden_size', d.hiddenSize),
    intermediateSize: f.posInt('intermediate_size', d.intermediateSize),
    numHiddenLayers: f.posInt('num_hidden_layers', d.numHiddenLayers),
    numAttentionHeads: f.posInt('num_attention_heads', d.numAttentionHeads),
    numChannels: f.posInt('num_channels', d.numChannels),
    imageSize: f.posInt('image_size', d.imageSize),
    patchSize: f.posInt('patch_size', d.patchSize),
    hiddenAct: f.act('hidden_act', d.hiddenAct),
    layerNormEps: f.num('layer_norm_eps', d.layerNormEps),
    attentionDropout: f.num('attention_dropout', d.attentionDropout),
    initializerRange: f.num('initializer_range', d.initializerRange),
    initializerFactor: f.num('initializer_factor', d.initializerFactor),
  });
}

/** The HF JSON keys of a text config (the inverse of textConfigFromJson). */
export function textConfigToJson(c: CLIPTextConfig): Record<string, unknown> {
  return {
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    max_position_embeddings: c.maxPositionEmbeddings,
    hidden_act: c.hiddenAct,
    layer_norm_eps: c.layerNormEps,
    attention_dropout: c.attentionDropout,
    initializer_range: c.initializerRange,
    initializer_factor: c.initializerFactor,
    pad_token_id: c.padTokenId,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
  };
}

/** The HF JSON keys of a vision config (the inverse of visionConfigFromJson). */
export function visionConfigToJson(c: CLIPVisionConfig): Record<string, unknown> {
  return {
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_channels: c.numChannels,
    image_size: c.imageSize,
    patch_size: c.patchSize,
    hidden_act: c.hiddenAct,
    layer_norm_eps: c.layerNormEps,
    attention_dropout: c.attentionDropout,
    initializer_range: c.initializerRange,
    initializer_factor: c.initializerFactor,
  };
}
