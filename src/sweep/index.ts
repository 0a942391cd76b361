/** Hyperparameter sweeps: search spaces, the TPE sampler, study storage, the worker loop. */
export * from './space.js';
export * from './tpe.js';
export * from './storage.js';
export * from './open-storage.js';
export * from './study.js';
export * from './retry.js';
export * from './pruners.js';
export * from './importance.js';
export { MT19937, deriveSeed } from './random.js';
