// shared_separate in the registry: what the rest of the program reads about it (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { PROJECTION_REFERENCE_DEFAULTS, originalSweep } from '../tunevlseg/common.js';
import { sharedSeparateOptionsSchema } from './options.js';

export const entry: LearnerEntry = {
  name: 'shared_separate',
  label: 'Shared Sep',
  title: 'Shared Separate',
  paperOrder: 1,
  summary: 'a unified prompt projected separately to text and vision',
  schema: sharedSeparateOptionsSchema,
  load: async () => (await import('./learner.js')).SharedSeparateLearner,
  text: true,
  vision: true,
  models: ['clipseg'],
  referenceClass: 'SharedSeparateLearner',
  referenceWrappers: { clipseg: 'SharedSeparateCLIPSeg' },
  referenceDefaults: { depth: 1, vectorStd: 0.02, sharedDim: 64, ...PROJECTION_REFERENCE_DEFAULTS },
  searchRows: { sharedDim: { type: 'categorical', choices: [32, 64] } },
  originalSweep: originalSweep('shared_separate_optuna.yaml', 4322, {
    'net.context_learner.shared_dim': { type: 'categorical', choices: [32, 64] },
  }),
  originalRunScripts: [
    {
      file: 'scripts/schedule_shared_separate.sh',
      family: 'clipseg',
      datasets: ['cityscapes'],
      batchSize: 16,
      accumulate: 2,
      noUpsampler: true,
      valCheckInterval: 0.5,
    },
    {
      file: 'scripts/schedule_shared_separate_pascal.sh',
      family: 'clipseg',
      datasets: ['voc'],
      batchSize: 16,
      accumulate: 2,
    },
  ],
};
