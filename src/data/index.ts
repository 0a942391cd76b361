/** The data layer: dataset format, image decoding, checks, batch loading, synthetic data. */
export * from './format.js';
export * from './image.js';
export * from './prediction-png.js';
export * from './check.js';
export * from './loader.js';
export * from './synthetic.js';
export { hashSeed, permutation, Rng } from './rng.js';
export { decodeBmp, isBmp } from './bmp.js';
export * from './attributes.js';
export { convertDataset, type ConvertOptions, CONVERTERS, getConverter, LayoutError, type BuildResult } from './convert/index.js';
export { importDataset, type ImportOptions, parseGroups, parseLabels } from './import.js';
export { MASK_MODES, type MaskMode } from './convert/mask-reading.js';
export { RepairTally, scanRepairs, setRepairWarningSink, warnAboutRepairs } from './repairs.js';
export { pngPalette, writeIndexedPng } from './indexed-png.js';
