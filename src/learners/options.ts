/**
 * Every learner's options schema (zod, strict, with the yaml defaults). Kept apart from the
 * learner classes so that the registry, the sweep space and the report read them without libtorch.
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
  contextInitializerIds: z.union([z.array(z.number().int().nonnegative()).min(1), z.array(z.array(z.number().int().nonnegative()).min(1)).min(1)]).optional(),
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
export function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string; code?: string; keys?: readonly string[] }[], where: string): string {
  const lines = issues.map((i) => {
    const key = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys' && i.keys) return `unknown option${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    return `option "${key || '(root)'}": ${i.message}`;
  });
  return `${where}: ${lines.join('; ')}`;
}


/** coop (src/learners/coop.ts). */
export const coopOptionsSchema = z.object({ ...commonOptions, ...initializerOptions }).strict();

/** cocoop (src/learners/cocoop.ts). */
export const cocoopOptionsSchema = z.object({
  ...commonOptions,
  ...initializerOptions,
  ...projectionOptions,
  /** L2-normalise the image features before the projection (reference default true; yaml false). */
  normImageFeatures: z.boolean().default(false),
}).strict();

/** vpt (src/learners/vpt.ts). */
export const vptOptionsSchema = z.object({ ...commonOptions }).strict();

/** maple (src/learners/maple.ts). */
export const mapleOptionsSchema = z.object({ ...commonOptions, ...initializerOptions, ...projectionOptions }).strict();

/** shared_separate (src/learners/shared_separate.ts). */
export const sharedSeparateOptionsSchema = z.object({
  ...commonOptions,
  /** Width of the unified prompt. */
  sharedDim: z.number().int().positive().default(64),
  intermediateDim: intermediateDimSchema.default(null),
  useProjNorm: z.boolean().default(true),
  useLoraProj: z.boolean().default(false),
  useUnifiedProjection: z.boolean().default(false),
}).strict();

/** shared_attn (src/learners/shared_attn.ts). */
export const sharedAttnOptionsSchema = z.object({
  ...commonOptions,
  /** nn.TransformerEncoderLayer nhead (d_model = Dt + Dv must be divisible by it). */
  heads: z.number().int().positive().default(16),
  /** dim_feedforward. */
  feedforward: z.number().int().positive().default(1536),
  dropout: z.number().min(0).max(1).default(0.25),
  normFirst: z.boolean().default(true),
  activation: z.enum(['relu', 'gelu']).default('relu'),
  layerNormEps: z.number().positive().default(1e-5),
  useUnifiedProjection: z.boolean().default(false),
}).strict();
