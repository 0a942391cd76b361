// CLIPSeg (HF names and numerics): config and presets, decoder, segmentation model, loss.
export * from './config.js';
export * from './decoder.js';
export * from './model.js';
export * from './loss.js';
