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
  originalRunScripts: [
    {
      file: 'scripts/schedule_coop_clipseg.sh',
      family: 'clipseg',
      datasets: ['clinicdb', 'kvasir', 'chexlocalize', 'dfu'],
      batchSize: 32,
      accumulate: 1,
      noUpsampler: true,
    },
    { file: 'scripts/schedule_busi.sh', family: 'clipseg', datasets: ['busi'], batchSize: 32, accumulate: 1 },
    {
      file: 'scripts/schedule_coop_cris.sh',
      family: 'cris',
      datasets: ['cityscapes'],
      batchSize: 16,
      accumulate: 2,
      valCheckInterval: 0.5,
    },
    {
      file: 'scripts/schedule_coop_cris_cityscapes.sh',
      family: 'cris',
      datasets: ['cityscapes'],
      batchSize: 32,
      accumulate: 1,
      noUpsampler: true,
      valCheckInterval: 0.5,
    },
    {
      file: 'scripts/schedule_coop_cris_pascal.sh',
      family: 'cris',
      datasets: ['voc'],
      batchSize: 32,
      accumulate: 1,
      noUpsampler: true,
    },
  ],
};
