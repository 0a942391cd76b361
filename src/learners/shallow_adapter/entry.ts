// VLSM-Adapter's shallow CLIPSeg adapter in the registry (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { VLSM_ADAPTER_SEARCH_ROWS, VLSM_ADAPTER_SWEEP, adapterRecipe, adapterReferenceDefaults } from '../vlsm-adapter/common.js';
import { shallowAdapterOptionsSchema } from './options.js';

export const entry: LearnerEntry = {
  name: 'shallow_adapter',
  label: 'Shallow Adapter',
  title: 'VLSM-Adapter (shallow)',
  family: 'adapter',
  summary: 'adapters on the extracted vision states, the text states and the conditional embedding (VLSM-Adapter)',
  schema: shallowAdapterOptionsSchema,
  load: async () => (await import('./learner.js')).ShallowAdapterLearner,
  text: false,
  vision: false,
  models: ['clipseg'],
  referenceClass: 'CLIPSegShallowAdapter',
  referenceWrappers: { clipseg: 'CLIPSegShallowAdapter' },
  referenceDefaults: adapterReferenceDefaults(512),
  searchRows: {},
  upsampler: false,
  recipe: adapterRecipe(3e-4, 'clipseg_shallow_adapter.yaml'),
  trainingSearchRows: VLSM_ADAPTER_SEARCH_ROWS,
  originalSweep: VLSM_ADAPTER_SWEEP,
};
