export * from './optimizer.js';
export * from './schedulers.js';
