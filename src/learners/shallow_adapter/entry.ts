// VLSM-Adapter's shallow CLIPSeg adapter in the registry (the class is learner.ts; classes.ts binds it).
import type { LearnerEntry } from '../entry.js';
import { VLSM_ADAPTER_SEARCH_ROWS, VLSM_ADAPTER_SWEEP, adapterOptionsSchema, adapterRecipe, adapterReferenceDefaults } from '../vlsm-adapter/common.js';

/** shallow_adapter's options: adapterDim (yaml 512), adapterInV / adapterInL / adapterInCond (the experiments' v, vl, vlc). */
export const shallowAdapterOptionsSchema = adapterOptionsSchema(512);

export const shallowAdapterEntry: LearnerEntry = {
  name: 'shallow_adapter', label: 'Shallow Adapter', title: 'VLSM-Adapter (shallow)', family: 'adapter',
  summary: 'adapters on the extracted vision states, the text states and the conditional embedding (VLSM-Adapter)',
  schema: shallowAdapterOptionsSchema, text: false, vision: false, models: ['clipseg'],
  referenceClass: 'CLIPSegShallowAdapter', referenceWrappers: { clipseg: 'CLIPSegShallowAdapter' },
  referenceDefaults: adapterReferenceDefaults(512), searchRows: {},
  upsampler: false, recipe: adapterRecipe(3e-4, 'clipseg_shallow_adapter.yaml'), trainingSearchRows: VLSM_ADAPTER_SEARCH_ROWS, originalSweep: VLSM_ADAPTER_SWEEP,
};
