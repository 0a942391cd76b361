// lora's options (HF peft's LoraConfig, camelCase) and the encoder sites they name.
import { z } from 'zod';

/** The Linear layers of a CLIP encoder layer LoRA can target (HF names), and two shorthands. */
export const LORA_SITES = ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'] as const;
export const LORA_TARGETS = [...LORA_SITES, 'attention', 'mlp'] as const;
export type LoraSite = (typeof LORA_SITES)[number];

/** The sites a target list names ('attention' = q, k, v, out; 'mlp' = fc1, fc2), in LORA_SITES order. */
export function loraSites(targets: readonly (typeof LORA_TARGETS)[number][]): LoraSite[] {
  const want = new Set(
    targets.flatMap((t) => (t === 'attention' ? ['q_proj', 'k_proj', 'v_proj', 'out_proj'] : t === 'mlp' ? ['fc1', 'fc2'] : [t])),
  );
  return LORA_SITES.filter((s) => want.has(s));
}

/** lora's options (HF peft's LoraConfig names in camelCase: r -> rank, lora_alpha -> alpha, lora_dropout -> dropout). */
export const loraOptionsSchema = z
  .object({
    /** r: the rank of the update B·A (peft default 8). */
    rank: z.number().int().positive().default(8),
    /** lora_alpha: the update is scaled by alpha / rank (peft default 8). */
    alpha: z.number().positive().default(8),
    /** lora_dropout on the input of A, in training only (peft default 0). */
    dropout: z.number().min(0).lt(1).default(0),
    /** target_modules: q_proj, k_proj, v_proj, out_proj, fc1, fc2, or 'attention' / 'mlp' (default q and v, as the LoRA paper). */
    targetModules: z.array(z.enum(LORA_TARGETS)).min(1).default(['q_proj', 'v_proj']),
    /** Which encoders get LoRA: the vision encoder's layers that run (max(extract_layers) + 1) and/or every text layer. */
    towers: z
      .array(z.enum(['vision', 'text']))
      .min(1)
      .default(['vision', 'text']),
  })
  .strict();
