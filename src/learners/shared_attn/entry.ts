// shared_attn in the registry: what the rest of the program reads about it (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { TRUE_FALSE, originalSweep } from '../tunevlseg/common.js';
import { sharedAttnOptionsSchema } from './options.js';

export const entry: LearnerEntry = {
  name: 'shared_attn',
  label: 'Shared Attn',
  title: 'Shared Attention',
  paperOrder: 2,
  summary: 'a unified prompt through a transformer layer, split into text and vision',
  schema: sharedAttnOptionsSchema,
  load: async () => (await import('./learner.js')).SharedAttnLearner,
  text: true,
  vision: true,
  models: ['clipseg'],
  referenceClass: 'SharedAttnLearner',
  referenceWrappers: { clipseg: 'SharedAttnCLIPSeg' },
  // nn.TransformerEncoderLayer's defaults (nhead has none)
  referenceDefaults: {
    depth: 1,
    vectorStd: 0.02,
    useUnifiedProjection: true,
    feedforward: 2048,
    dropout: 0.1,
    activation: 'relu',
    layerNormEps: 1e-5,
    normFirst: false,
  },
  searchRows: {
    heads: { type: 'categorical', choices: [16, 20, 32] },
    dropout: { type: 'float', low: 0.1, high: 0.55 },
    feedforward: { type: 'categorical', choices: [1280, 1420] },
    normFirst: { type: 'categorical', choices: [true, false] },
  },
  originalSweep: originalSweep('shared_attn_optuna.yaml', 123456, {
    'net.context_learner.unified_projector.nhead': { type: 'categorical', choices: [16, 20, 32] },
    'net.context_learner.unified_projector.dropout': { type: 'float', low: 0.1, high: 0.55 }, // interval(0.1, 0.55)
    'net.context_learner.unified_projector.dim_feedforward': { type: 'categorical', choices: [1280, 1420] },
    'net.context_learner.unified_projector.norm_first': TRUE_FALSE,
  }),
  originalRunScripts: [
    {
      file: 'scripts/schedule_shared_atn.sh',
      family: 'clipseg',
      datasets: ['cityscapes'],
      batchSize: 16,
      accumulate: 2,
      noUpsampler: true,
      valCheckInterval: 0.5,
    },
  ],
};
