// vpt in the registry: what the rest of the program reads about it (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { originalSweep, SCRIPT_MEDICAL_DATASETS } from '../tunevlseg/common.js';
import { vptOptionsSchema } from './options.js';

export const entry: LearnerEntry = {
  name: 'vpt',
  label: 'VPT',
  title: 'VPT',
  paperOrder: 3,
  summary: 'learned vision prompt tokens after the patch tokens',
  schema: vptOptionsSchema,
  load: async () => (await import('./learner.js')).VPTLearner,
  text: false,
  vision: true,
  models: ['clipseg'],
  referenceClass: 'VPTContextLearner',
  referenceWrappers: { clipseg: 'VPTCLIPSeg' },
  referenceDefaults: { depth: 1, vectorStd: 0.02 },
  searchRows: {},
  originalSweep: originalSweep('vpt_optuna.yaml', 1234),
  originalRunScripts: [
    {
      file: 'scripts/schedule_vpt.sh',
      family: 'clipseg',
      datasets: [...SCRIPT_MEDICAL_DATASETS, 'camus'],
      batchSize: 32,
      accumulate: 1,
      noUpsampler: true,
    },
  ],
};
