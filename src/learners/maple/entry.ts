// maple in the registry: what the rest of the program reads about it (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { PROJECTION_REFERENCE_DEFAULTS, PROJECTION_ROWS, TRUE_FALSE, originalSweep } from '../tunevlseg/common.js';
import { mapleOptionsSchema } from './options.js';

export const entry: LearnerEntry = {
  name: 'maple',
  label: 'MaPLe',
  title: 'MaPLe',
  paperOrder: 0,
  summary: 'text context vectors, vision prompts projected from them per layer',
  schema: mapleOptionsSchema,
  load: async () => (await import('./learner.js')).MapleLearner,
  text: true,
  vision: true,
  models: ['clipseg'],
  referenceClass: 'MapleContextLearner',
  referenceWrappers: { clipseg: 'MapleCLIPSeg' },
  referenceDefaults: { depth: 1, vectorStd: 0.02, contextInitializer: null, ...PROJECTION_REFERENCE_DEFAULTS },
  searchRows: PROJECTION_ROWS,
  // range(32, 97, 32): IntUniformDistribution(32, 97, step=32), whose high Optuna lowers to 96.
  originalSweep: originalSweep('maple_optuna.yaml', 12345, {
    'net.context_learner.intermediate_dim': { type: 'int', low: 32, high: 96, step: 32 },
    'net.context_learner.use_lora_proj': TRUE_FALSE,
  }),
  originalRunScripts: [
    {
      file: 'scripts/schedule_maple.sh',
      family: 'clipseg',
      datasets: ['camus'],
      batchSize: 16,
      accumulate: 1,
      gaussianInit: true,
    },
    {
      file: 'scripts/schedule_maple_leftout.sh',
      family: 'clipseg',
      datasets: ['chexlocalize'],
      batchSize: 16,
      accumulate: 2,
    },
    {
      file: 'scripts/schedule_pascal_maple.sh',
      family: 'clipseg',
      datasets: ['voc'],
      batchSize: 16,
      accumulate: 2,
      gaussianInit: true,
    },
  ],
};
