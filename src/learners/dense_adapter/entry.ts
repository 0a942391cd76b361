// VLSM-Adapter's dense CLIPSeg adapter in the registry (the class is learner.ts; classes.ts binds it).
import type { LearnerEntry } from '../entry.js';
import { VLSM_ADAPTER_SEARCH_ROWS, VLSM_ADAPTER_SWEEP, adapterOptionsSchema, adapterRecipe, adapterReferenceDefaults } from '../vlsm-adapter/common.js';

/** dense_adapter's options: adapterDim (yaml 64), adapterInV / adapterInL / adapterInCond (the experiments' v, vl, vlc). */
export const denseAdapterOptionsSchema = adapterOptionsSchema(64);

export const denseAdapterEntry: LearnerEntry = {
  name: 'dense_adapter', label: 'Dense Adapter', title: 'VLSM-Adapter (dense)', family: 'adapter',
  summary: 'adapters on every encoder block\'s attention and MLP outputs and on the conditional embedding (VLSM-Adapter)',
  schema: denseAdapterOptionsSchema, text: false, vision: false, models: ['clipseg'],
  referenceClass: 'CLIPSegDenseAdapter', referenceWrappers: { clipseg: 'CLIPSegDenseAdapter' },
  referenceDefaults: adapterReferenceDefaults(64), searchRows: {},
  upsampler: false, recipe: adapterRecipe(1e-3, 'clipseg_dense_adapter.yaml'), trainingSearchRows: VLSM_ADAPTER_SEARCH_ROWS, originalSweep: VLSM_ADAPTER_SWEEP,
};
