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
// The methods past the paper (one folder each: entry.ts describes, learner.ts is the class).
export { Adapter } from './vlsm-adapter/adapter.js';
export { ShallowAdapterLearner } from './shallow_adapter/learner.js';
export { DenseAdapterLearner } from './dense_adapter/learner.js';
export { LoraLearner, LoraPair } from './lora/learner.js';
export { FullFinetuneLearner } from './full_finetune/learner.js';
export { METHOD_FAMILIES, METHOD_FAMILY_LABELS } from './entry.js';
