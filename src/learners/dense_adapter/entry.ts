// VLSM-Adapter's dense CLIPSeg adapter in the registry (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { VLSM_ADAPTER_SEARCH_ROWS, VLSM_ADAPTER_SWEEP, adapterRecipe, adapterReferenceDefaults } from '../vlsm-adapter/common.js';
import { denseAdapterOptionsSchema } from './options.js';

export const entry: LearnerEntry = {
  name: 'dense_adapter',
  label: 'Dense Adapter',
  title: 'VLSM-Adapter (dense)',
  family: 'adapter',
  summary: "adapters on every encoder block's attention and MLP outputs and on the conditional embedding (VLSM-Adapter)",
  schema: denseAdapterOptionsSchema,
  load: async () => (await import('./learner.js')).DenseAdapterLearner,
  text: false,
  vision: false,
  models: ['clipseg'],
  referenceClass: 'CLIPSegDenseAdapter',
  referenceWrappers: { clipseg: 'CLIPSegDenseAdapter' },
  referenceDefaults: adapterReferenceDefaults(64),
  searchRows: {},
  upsampler: false,
  recipe: adapterRecipe(1e-3, 'clipseg_dense_adapter.yaml'),
  trainingSearchRows: VLSM_ADAPTER_SEARCH_ROWS,
  originalSweep: VLSM_ADAPTER_SWEEP,
};
