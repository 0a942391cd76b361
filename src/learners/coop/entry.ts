// coop in the registry: what the rest of the program reads about it (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { originalSweep } from '../tunevlseg/common.js';
import { coopOptionsSchema } from './options.js';

export const entry: LearnerEntry = {
  name: 'coop',
  label: 'CoOp',
  title: 'CoOp',
  paperOrder: 5,
  summary: 'learned text context vectors after BOS',
  schema: coopOptionsSchema,
  load: async () => (await import('./learner.js')).CoOpLearner,
  text: true,
  vision: false,
  models: ['clipseg', 'cris'],
  referenceClass: 'CoOpContextLearner',
  referenceWrappers: { clipseg: 'COOPCLIPSeg', cris: 'COOPCRIS' },
  referenceDefaults: { depth: 1, vectorStd: 0.02, contextInitializer: null },
  searchRows: {},
  originalSweep: originalSweep('coop_optuna.yaml', 12345),
};
