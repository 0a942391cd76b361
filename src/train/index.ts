/** Training: the config, the trainer loop, its steps, run folders and checkpoints (evaluation and prediction: src/inference). */
export * from './config.js';
export * from './checkpoint.js';
export * from './reference-semantics.js';
export * from './reference-defaults.js';
export * from './step.js';
export * from './progress.js';
export * from './trainer.js';
export * from './run-config.js';
export * from './eval-source.js';
export * from './run-folder.js';
export * from './grad-scaler.js';
export * from './precision.js';
export * from './device-memory.js';
