// CLIPSeg (HF names and numerics): config and presets, decoder, segmentation model.
export * from './config.js';
export * from './decoder.js';
export * from './model.js';
