// The context learners (docs/learners.md): one file each behind the ContextLearner interface.
export * from './types.js';
export { BaseLearner, mlpProjection, loraProjection, buildProjection } from './base.js';
export * from './coop.js';
export * from './cocoop.js';
export * from './vpt.js';
export * from './maple.js';
export * from './shared_separate.js';
export * from './shared_attn.js';
export * from './options.js';
export * from './registry.js';
export * from './classes.js';
export * from './reference.js';
export * from './param-names.js';
