// LoRA on CLIPSeg's frozen encoders in the registry (the class, learner.ts, loads only when a model is built).
import type { LearnerEntry } from '../entry.js';
import { loraOptionsSchema } from './options.js';

export const entry: LearnerEntry = {
  name: 'lora',
  label: 'LoRA',
  title: 'LoRA',
  family: 'lora',
  summary: "low-rank updates W + (alpha/r)·B·A of the frozen encoders' Linear layers (HF peft semantics; merged for inference and export)",
  schema: loraOptionsSchema,
  load: async () => (await import('./learner.js')).LoraLearner,
  text: false,
  vision: false,
  models: ['clipseg'],
  referenceClass: 'peft.LoraModel',
  referenceWrappers: {},
  referenceDefaults: { rank: 8, alpha: 8, dropout: 0 },
  searchRows: { rank: { type: 'categorical', choices: [4, 8, 16] }, alpha: { type: 'categorical', choices: [8, 16, 32] } },
  upsampler: false,
  // No original recipe: the project's protocol (TuneVLSeg's recipe and its lr / weight-decay ranges), no prompt depth.
  trainingSearchRows: {
    lr: { type: 'float', low: 1e-5, high: 5e-3, log: true },
    weight_decay: { type: 'float', low: 1e-5, high: 1e-2, log: true },
  },
};
