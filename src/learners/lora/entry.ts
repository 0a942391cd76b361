// LoRA on CLIPSeg's frozen encoders in the registry (the class is learner.ts; classes.ts binds it).
import { z } from 'zod';
import type { LearnerEntry } from '../entry.js';

/** The Linear layers of a CLIP encoder layer LoRA can target (HF names), and two shorthands. */
export const LORA_SITES = ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'] as const;
export const LORA_TARGETS = [...LORA_SITES, 'attention', 'mlp'] as const;
export type LoraSite = (typeof LORA_SITES)[number];

/** The sites a target list names ('attention' = q, k, v, out; 'mlp' = fc1, fc2), in LORA_SITES order. */
export function loraSites(targets: readonly (typeof LORA_TARGETS)[number][]): LoraSite[] {
  const want = new Set(targets.flatMap((t) => (t === 'attention' ? ['q_proj', 'k_proj', 'v_proj', 'out_proj'] : t === 'mlp' ? ['fc1', 'fc2'] : [t])));
  return LORA_SITES.filter((s) => want.has(s));
}

/** lora's options (HF peft's LoraConfig names in camelCase: r -> rank, lora_alpha -> alpha, lora_dropout -> dropout). */
export const loraOptionsSchema = z.object({
  /** r: the rank of the update B·A (peft default 8). */
  rank: z.number().int().positive().default(8),
  /** lora_alpha: the update is scaled by alpha / rank (peft default 8). */
  alpha: z.number().positive().default(8),
  /** lora_dropout on the input of A, in training only (peft default 0). */
  dropout: z.number().min(0).lt(1).default(0),
  /** target_modules: q_proj, k_proj, v_proj, out_proj, fc1, fc2, or 'attention' / 'mlp' (default q and v, as the LoRA paper). */
  targetModules: z.array(z.enum(LORA_TARGETS)).min(1).default(['q_proj', 'v_proj']),
  /** Which encoders get LoRA: the vision encoder's layers that run (max(extract_layers) + 1) and/or every text layer. */
  towers: z.array(z.enum(['vision', 'text'])).min(1).default(['vision', 'text']),
}).strict();

export const loraEntry: LearnerEntry = {
  name: 'lora', label: 'LoRA', title: 'LoRA', family: 'lora',
  summary: 'low-rank updates W + (alpha/r)·B·A of the frozen encoders\' Linear layers (HF peft semantics; merged for inference and export)',
  schema: loraOptionsSchema, text: false, vision: false, models: ['clipseg'],
  referenceClass: 'peft.LoraModel', referenceWrappers: {},
  referenceDefaults: { rank: 8, alpha: 8, dropout: 0 },
  searchRows: { rank: { type: 'categorical', choices: [4, 8, 16] }, alpha: { type: 'categorical', choices: [8, 16, 32] } },
  upsampler: false,
  // No original recipe: the project's protocol (TuneVLSeg's recipe and its lr / weight-decay ranges), no prompt depth.
  trainingSearchRows: { lr: { type: 'float', low: 1e-5, high: 5e-3, log: true }, weight_decay: { type: 'float', low: 1e-5, high: 1e-2, log: true } },
};
