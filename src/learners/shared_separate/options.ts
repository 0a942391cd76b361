// shared_separate's options (reference SharedSeparateLearner's, camelCase).
import { z } from 'zod';
import { commonOptions, intermediateDimSchema } from '../options.js';

export const sharedSeparateOptionsSchema = z
  .object({
    ...commonOptions,
    /** Width of the unified prompt. */
    sharedDim: z.number().int().positive().default(64),
    intermediateDim: intermediateDimSchema.default(null),
    useProjNorm: z.boolean().default(true),
    useLoraProj: z.boolean().default(false),
    useUnifiedProjection: z.boolean().default(false),
  })
  .strict();
export type SharedSeparateOptions = z.input<typeof sharedSeparateOptionsSchema>;
