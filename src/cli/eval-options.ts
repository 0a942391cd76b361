// The eval command's options as one schema: flag values (strings from commander, or values from
// a caller of runEval) checked and coerced, an error naming each bad option as its flag.
import { z } from 'zod';
import { SPLITS } from '../data/format.js';
import { EVAL_AUGMENT_MODES } from '../inference/eval-reading.js';
import { PRECISIONS, TF32_MODES } from '../inference/precision-modes.js';

const int = (min: number) => z.coerce.number().int().min(min);

/** The eval command's options (flag values arrive as strings; numbers are coerced). */
export const evalOptionsSchema = z
  .object({
    checkpoint: z.string().min(1).default('best'),
    dataset: z.string().min(1).optional(),
    split: z.enum(SPLITS).default('test'),
    images: z.string().min(1).optional(),
    prompt: z.string().min(1).optional(),
    prompts: z.string().min(1).optional(),
    promptKey: z.string().min(1).optional(),
    out: z.string().min(1).optional(),
    overlays: z.boolean().default(true),
    batchSize: int(1).optional(),
    evalAugment: z.enum(EVAL_AUGMENT_MODES).default('auto'),
    loaderThreads: int(0).optional(),
    imageSize: int(1).optional(),
    threshold: z.coerce.number().gt(0).lt(1).default(0.5),
    results: z.string().min(1).optional(),
    json: z.boolean().default(false),
    protocol: z.string().optional(),
    config: z.string().min(1).optional(),
    model: z.array(z.string()).default([]),
    precision: z.enum(PRECISIONS).optional(),
    tf32: z.enum(TF32_MODES).default('auto'),
    quiet: z.boolean().default(false),
  })
  .strict();
export type EvalOptions = z.output<typeof evalOptionsSchema>;

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function parseEvalOptions(raw: Record<string, unknown>): EvalOptions {
  const r = evalOptionsSchema.safeParse(raw);
  if (r.success) return r.data;
  // An unknown key has an empty path (zod names the keys in the message): name them as flags too.
  const where = (i: z.core.$ZodIssue): string =>
    i.code === 'unrecognized_keys' ? i.keys.map((k) => `--${kebab(k)}`).join(', ') : `--${kebab(i.path.map(String).join('.'))}`;
  throw new Error(`invalid eval options:\n  ${r.error.issues.map((i) => `option "${where(i)}": ${i.message}`).join('\n  ')}`);
}
