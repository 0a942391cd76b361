/**
 * The option groups the learners' schemas share (zod, with the yaml defaults) and the one format
 * of their errors. Each learner's own schema is its folder's options.ts (strict zod objects,
 * without libtorch, so that the registry, the sweep space and the report read them).
 */
import { z } from 'zod';

const posInt = z.number().int().positive();

/** Options every learner has. */
export const commonOptions = {
  /** Prompt tokens per layer (ignored when a context initializer is given: quirk 6). */
  numContext: posInt.default(4),
  /** Prompt depth: 1 = encoder input only; d = fresh prompts at the input of layers 0..d-1. */
  depth: posInt.default(1),
  /** Std of the N(0, std) initialisation of random context vectors. */
  vectorStd: z.number().positive().default(0.02),
};

/** Text learners initialised from a phrase (CoOp, CoCoOp, MaPLe). */
export const initializerOptions = {
  /**
   * Phrase(s) whose token embeddings (no BOS/EOS, frozen token embedding) initialise the first
   * context layers; a list gives one phrase per layer (same token count). null = random init.
   */
  contextInitializer: z.union([z.string().min(1), z.array(z.string().min(1)).min(1), z.null()]).default('a photo of a'),
  /** The initializer's token ids instead of its text (no tokenizer needed): one list, or one per layer. */
  contextInitializerIds: z
    .union([z.array(z.number().int().nonnegative()).min(1), z.array(z.array(z.number().int().nonnegative()).min(1)).min(1)])
    .optional(),
};

export const intermediateDimSchema = z.union([posInt, z.array(posInt).min(1), z.null()]);

/** Learners with per-layer projections (CoCoOp, MaPLe). */
export const projectionOptions = {
  /** Hidden width(s) of the projection MLP; null = a single Linear. */
  intermediateDim: intermediateDimSchema.default(64),
  /** LayerNorm after the projection (its Linear then has no bias). */
  useProjNorm: z.boolean().default(true),
  /** LoRA-style low-rank projection (Linear(in, r, no bias) -> Linear(r, out)); needs one intermediate dim. */
  useLoraProj: z.boolean().default(false),
  /** One projection module shared by every layer instead of one per layer. */
  useUnifiedProjection: z.boolean().default(false),
};

export type IntermediateDim = z.infer<typeof intermediateDimSchema>;

/** Formats zod issues as `option "key": message` lines. */
export function formatIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string; code?: string; keys?: readonly string[] }[],
  where: string,
): string {
  const lines = issues.map((i) => {
    const key = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys' && i.keys)
      return `unknown option${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    return `option "${key || '(root)'}": ${i.message}`;
  });
  return `${where}: ${lines.join('; ')}`;
}
