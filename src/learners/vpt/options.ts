// vpt's options (reference VPTContextLearner's, camelCase): the common ones only.
import { z } from 'zod';
import { commonOptions } from '../options.js';

export const vptOptionsSchema = z.object({ ...commonOptions }).strict();
export type VPTOptions = z.input<typeof vptOptionsSchema>;
