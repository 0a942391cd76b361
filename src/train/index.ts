/** Training: loss, metrics, augmentation, the trainer loop, checkpoints, evaluation and prediction. */
export * from './config.js';
export * from './checkpoint.js';
export * from './evaluate.js';
export * from './reference-semantics.js';
export * from './reference-defaults.js';
export * from './step.js';
export * from './progress.js';
export * from './trainer.js';
export * from './run-config.js';
export * from './run-folder.js';
export * from './grad-scaler.js';
export * from './precision.js';
export * from './device-memory.js';
