// cocoop in the registry: what the rest of the program reads about it (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { PROJECTION_REFERENCE_DEFAULTS, PROJECTION_ROWS, TRUE_FALSE, originalSweep, SCRIPT_MEDICAL_DATASETS } from '../tunevlseg/common.js';
import { cocoopOptionsSchema } from './options.js';

export const entry: LearnerEntry = {
  name: 'cocoop',
  label: 'CoCoOp',
  title: 'CoCoOp',
  paperOrder: 4,
  summary: 'CoOp vectors plus a per-image bias from the image embedding',
  schema: cocoopOptionsSchema,
  load: async () => (await import('./learner.js')).CoCoOpLearner,
  text: true,
  vision: false,
  models: ['clipseg', 'cris'],
  referenceClass: 'CoCoOpContextLearner',
  referenceWrappers: { clipseg: 'COOPCLIPSeg', cris: 'COOPCRIS' },
  referenceDefaults: { depth: 1, vectorStd: 0.02, contextInitializer: null, ...PROJECTION_REFERENCE_DEFAULTS, normImageFeatures: true },
  // The original sweep config's choices (configs/hparams_search/cocoop*.yaml): {32, 129}.
  searchRows: { intermediateDim: { type: 'categorical', choices: [32, 129] }, useLoraProj: PROJECTION_ROWS.useLoraProj },
  // choice(32, 129, 32): three entries, 32 twice (drawn 2/3 of the time at random start-up).
  originalSweep: originalSweep('cocoop_optuna.yaml', 1234, {
    'net.context_learner.intermediate_dim': { type: 'categorical', choices: [32, 129, 32] },
    'net.context_learner.use_lora_proj': TRUE_FALSE,
  }),
  originalRunScripts: [
    {
      file: 'scripts/schedule_cocoop_clipseg.sh',
      family: 'clipseg',
      datasets: ['bkai', 'clinicdb', 'kvasir'],
      batchSize: 32,
      accumulate: 1,
      noUpsampler: true,
    },
    { file: 'scripts/schedule_busi.sh', family: 'clipseg', datasets: ['busi'], batchSize: 32, accumulate: 1 },
    {
      file: 'scripts/schedule_cocoop_cris.sh',
      family: 'cris',
      datasets: [...SCRIPT_MEDICAL_DATASETS, 'camus'],
      batchSize: 32,
      accumulate: 1,
    },
    {
      file: 'scripts/schedule_cocoop_cris_cityscapes.sh',
      family: 'cris',
      datasets: ['cityscapes'],
      batchSize: 32,
      accumulate: 1,
      noUpsampler: true,
      valCheckInterval: 0.5,
    },
    {
      file: 'scripts/schedule_cocoop_cris_pascal.sh',
      family: 'cris',
      datasets: ['voc'],
      batchSize: 32,
      accumulate: 1,
      noUpsampler: true,
    },
  ],
};
