/** Evaluation and prediction with any segmenter: protocols, metrics, the evaluation loop, predictions. */
export * from './metrics.js';
export * from './protocols.js';
export * from './loss.js';
export * from './inputs.js';
export * from './augment.js';
export * from './precision.js';
export * from './embeddings.js';
export { meansOf, lossTargets, softTargetsOf } from './batch-scores.js';
export { moduleDevice, type LogitsModel } from './forward.js';
export * from './evaluate.js';
export * from './predict.js';
export * from './multiclass.js';
export * from './eval-reading.js';
export * from './evaluate-checkpoint.js';
export * from './predict-images.js';
