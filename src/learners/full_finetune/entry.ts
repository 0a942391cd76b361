// End-to-end fine-tuning of the whole CLIPSeg as a method of the registry (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { adapterRecipe, VLSM_ADAPTER_REFERENCE, VLSM_ADAPTER_SEARCH_ROWS, VLSM_ADAPTER_SWEEP } from '../vlsm-adapter/common.js';
import { fullFinetuneOptionsSchema } from './options.js';

const source =
  `${VLSM_ADAPTER_REFERENCE}: configs/model/clipseg.yaml (CLIPSeg, freeze_encoder/decoder false: lr 1e-3, weight_decay 1e-3, loss, scheduler), ` +
  'configs/experiment/clipseg.yaml (epochs, gradient_clip_val), configs/callbacks/default.yaml, scripts/finetune.py (batch 32)';

export const entry: LearnerEntry = {
  name: 'full_finetune',
  label: 'Full FT',
  title: 'End-to-end fine-tuning',
  family: 'full',
  summary: 'every weight of the base model trains (the upper bound the adapters and prompts are measured against)',
  schema: fullFinetuneOptionsSchema,
  load: async () => (await import('./learner.js')).FullFinetuneLearner,
  text: false,
  vision: false,
  models: ['clipseg'],
  referenceClass: 'CLIPSeg',
  referenceWrappers: { clipseg: 'CLIPSeg' },
  referenceDefaults: {},
  searchRows: {},
  upsampler: false,
  trainsBase: true,
  // The end-to-end baseline of VLSM-Adapter's paper (the same training code as its adapters).
  recipe: adapterRecipe(1e-3, 'clipseg.yaml', source),
  trainingSearchRows: VLSM_ADAPTER_SEARCH_ROWS,
  originalSweep: VLSM_ADAPTER_SWEEP,
};
