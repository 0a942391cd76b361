// cocoop's options (reference CoCoOpContextLearner's, camelCase): CoOp's, the per-layer projection's and normImageFeatures.
import { z } from 'zod';
import { commonOptions, initializerOptions, projectionOptions } from '../options.js';

export const cocoopOptionsSchema = z
  .object({
    ...commonOptions,
    ...initializerOptions,
    ...projectionOptions,
    /** L2-normalise the image features before the projection (reference default true; yaml false). */
    normImageFeatures: z.boolean().default(false),
  })
  .strict();
export type CoCoOpOptions = z.input<typeof cocoopOptionsSchema>;
