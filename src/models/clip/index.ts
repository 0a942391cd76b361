// CLIP text and vision transformers (HF names and numerics) and the CLIP BPE tokenizer.
export * from './config.js';
export * from './layers.js';
export * from './text.js';
export * from './vision.js';
export { ClipTokenizer, type Encoding, type EncodeOptions, type EncodeBatchOptions } from './tokenizer.js';
