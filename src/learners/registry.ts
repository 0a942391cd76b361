/**
 * The learners by name. `createLearner(name, options, host)` validates the options (strict:
 * unknown keys are errors naming the learner) and builds the learner for a model.
 */
import type { z } from 'zod';
import { CoOpLearner, coopOptionsSchema } from './coop.js';
import { CoCoOpLearner, cocoopOptionsSchema } from './cocoop.js';
import { VPTLearner, vptOptionsSchema } from './vpt.js';
import { MapleLearner, mapleOptionsSchema } from './maple.js';
import { SharedSeparateLearner, sharedSeparateOptionsSchema } from './shared_separate.js';
import { SharedAttnLearner, sharedAttnOptionsSchema } from './shared_attn.js';
import { LEARNER_NAMES, LearnerConfigError, type ContextLearner, type LearnerHost, type LearnerName } from './types.js';

export interface LearnerEntry {
  name: LearnerName;
  /** The reference's learner class and CLIPSeg wrapper (fixtures' case.json `context_learner.class`, `wrapper_class`). */
  referenceClass: string;
  referenceWrapper: string;
  /** Which encoders get prompts. */
  text: boolean;
  vision: boolean;
  /** Options schema (strict zod object with the yaml defaults). */
  schema: z.ZodObject;
  create(options: Record<string, unknown>, host: LearnerHost): ContextLearner;
  summary: string;
}

export const LEARNERS: Readonly<Record<LearnerName, LearnerEntry>> = Object.freeze({
  coop: {
    name: 'coop', referenceClass: 'CoOpContextLearner', referenceWrapper: 'COOPCLIPSeg', text: true, vision: false,
    schema: coopOptionsSchema, create: (o, h) => new CoOpLearner(o, h),
    summary: 'learned text context vectors after BOS',
  },
  cocoop: {
    name: 'cocoop', referenceClass: 'CoCoOpContextLearner', referenceWrapper: 'COOPCLIPSeg', text: true, vision: false,
    schema: cocoopOptionsSchema, create: (o, h) => new CoCoOpLearner(o, h),
    summary: 'CoOp vectors plus a per-image bias from the image embedding',
  },
  vpt: {
    name: 'vpt', referenceClass: 'VPTContextLearner', referenceWrapper: 'VPTCLIPSeg', text: false, vision: true,
    schema: vptOptionsSchema, create: (o, h) => new VPTLearner(o, h),
    summary: 'learned vision prompt tokens after the patch tokens',
  },
  maple: {
    name: 'maple', referenceClass: 'MapleContextLearner', referenceWrapper: 'MapleCLIPSeg', text: true, vision: true,
    schema: mapleOptionsSchema, create: (o, h) => new MapleLearner(o, h),
    summary: 'text context vectors, vision prompts projected from them per layer',
  },
  shared_separate: {
    name: 'shared_separate', referenceClass: 'SharedSeparateLearner', referenceWrapper: 'SharedSeparateCLIPSeg', text: true, vision: true,
    schema: sharedSeparateOptionsSchema, create: (o, h) => new SharedSeparateLearner(o, h),
    summary: 'a unified prompt projected separately to text and vision',
  },
  shared_attn: {
    name: 'shared_attn', referenceClass: 'SharedAttnLearner', referenceWrapper: 'SharedAttnCLIPSeg', text: true, vision: true,
    schema: sharedAttnOptionsSchema, create: (o, h) => new SharedAttnLearner(o, h),
    summary: 'a unified prompt through a transformer layer, split into text and vision',
  },
});

export function isLearnerName(s: unknown): s is LearnerName {
  return typeof s === 'string' && (LEARNER_NAMES as readonly string[]).includes(s);
}

export function learnerEntry(name: string): LearnerEntry {
  if (!isLearnerName(name)) throw new LearnerConfigError(`unknown learner "${name}" (expected one of ${LEARNER_NAMES.join(', ')})`);
  return LEARNERS[name];
}

/** Builds a learner by name for a model. */
export function createLearner(name: string, options: Record<string, unknown>, host: LearnerHost): ContextLearner {
  return learnerEntry(name).create(options, host);
}

/** The learner whose reference class is `cls` (e.g. "CoOpContextLearner"). */
export function learnerForReferenceClass(cls: string): LearnerEntry {
  const e = Object.values(LEARNERS).find((l) => l.referenceClass === cls);
  if (!e) throw new LearnerConfigError(`unknown reference learner class "${cls}" (expected one of ${Object.values(LEARNERS).map((l) => l.referenceClass).join(', ')})`);
  return e;
}
