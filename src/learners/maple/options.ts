// maple's options (reference MapleContextLearner's, camelCase): CoOp's and the per-layer projection's.
import { z } from 'zod';
import { commonOptions, initializerOptions, projectionOptions } from '../options.js';

export const mapleOptionsSchema = z.object({ ...commonOptions, ...initializerOptions, ...projectionOptions }).strict();
export type MapleOptions = z.input<typeof mapleOptionsSchema>;
