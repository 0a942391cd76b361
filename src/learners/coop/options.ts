// coop's options (reference CoOpContextLearner's, camelCase): the common ones and a context initializer.
import { z } from 'zod';
import { commonOptions, initializerOptions } from '../options.js';

export const coopOptionsSchema = z.object({ ...commonOptions, ...initializerOptions }).strict();
export type CoOpOptions = z.input<typeof coopOptionsSchema>;
