// The context learners (docs/learners.md): one folder each (options.ts, learner.ts, entry.ts) behind
// the ContextLearner interface, listed in builtins.ts. The built-in classes and schemas are
// re-exported here for the package's users; a learner needs no line here to work.
export * from './types.js';
export { BaseLearner, mlpProjection, loraProjection, buildProjection, textContextDim, requireVision } from './base.js';
export * from './options.js';
export * from './registry.js';
export * from './classes.js';
export * from './reference.js';
export * from './param-names.js';
export { METHOD_FAMILIES, METHOD_FAMILY_LABELS } from './entry.js';
// The paper's six learners.
export * from './coop/options.js';
export { CoOpLearner } from './coop/learner.js';
export * from './cocoop/options.js';
export { CoCoOpLearner } from './cocoop/learner.js';
export * from './vpt/options.js';
export { VPTLearner } from './vpt/learner.js';
export * from './maple/options.js';
export { MapleLearner } from './maple/learner.js';
export * from './shared_separate/options.js';
export { SharedSeparateLearner } from './shared_separate/learner.js';
export * from './shared_attn/options.js';
export { SharedAttnLearner } from './shared_attn/learner.js';
// The methods past the paper.
export { Adapter } from './vlsm-adapter/adapter.js';
export { ShallowAdapterLearner } from './shallow_adapter/learner.js';
export { DenseAdapterLearner } from './dense_adapter/learner.js';
export { LoraLearner, LoraPair } from './lora/learner.js';
export { FullFinetuneLearner } from './full_finetune/learner.js';
