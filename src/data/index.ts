/** The data layer: dataset format, image decoding, checks, batch loading, synthetic data. */
export * from './format.js';
export * from './image.js';
export * from './check.js';
export * from './loader.js';
export * from './synthetic.js';
export { hashSeed, permutation, Rng } from './rng.js';
export { decodeBmp, isBmp } from './bmp.js';
