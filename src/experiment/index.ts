/** Orchestration (the experiment layer of docs/architecture.md): trials, workers, sweeps and the paper's grid. */
export * from './trial.js';
export * from './worker.js';
export * from './sweep.js';
export * from './grid.js';
export * from './run-grid.js';
export * from './sweep-plan.js';
export * from './recipes.js';
export * from './spaces.js';
