// shared_attn's options (reference SharedAttnLearner's; its unified_projector's nn.TransformerEncoderLayer kwargs, camelCase).
import { z } from 'zod';
import { commonOptions } from '../options.js';

export const sharedAttnOptionsSchema = z
  .object({
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
  })
  .strict();
export type SharedAttnOptions = z.input<typeof sharedAttnOptionsSchema>;
