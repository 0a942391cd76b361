/**
 * The built-in learners' classes, bound to their registry entries, and `createLearner`. This is
 * the half of the registry that needs libtorch (registry.ts describes the learners without it).
 */
import { CoOpLearner } from './coop.js';
import { CoCoOpLearner } from './cocoop.js';
import { VPTLearner } from './vpt.js';
import { MapleLearner } from './maple.js';
import { SharedSeparateLearner } from './shared_separate.js';
import { SharedAttnLearner } from './shared_attn.js';
import { ShallowAdapterLearner } from './shallow_adapter/learner.js';
import { DenseAdapterLearner } from './dense_adapter/learner.js';
import { LoraLearner } from './lora/learner.js';
import { FullFinetuneLearner } from './full_finetune/learner.js';
import { bindLearnerClass, learnerEntry } from './registry.js';
import { LearnerConfigError, type ContextLearner, type LearnerHost } from './types.js';

const CLASSES = {
  coop: CoOpLearner, cocoop: CoCoOpLearner, vpt: VPTLearner, maple: MapleLearner, shared_separate: SharedSeparateLearner, shared_attn: SharedAttnLearner,
  shallow_adapter: ShallowAdapterLearner,
  dense_adapter: DenseAdapterLearner,
  lora: LoraLearner,
  full_finetune: FullFinetuneLearner,
} as const;
for (const [name, Cls] of Object.entries(CLASSES)) bindLearnerClass(name, (o, h) => new Cls(o, h));

/** Builds a registered learner by name for a model (options validated by its schema: unknown keys are errors). */
export function createLearner(name: string, options: Record<string, unknown>, host: LearnerHost): ContextLearner {
  const e = learnerEntry(name);
  if (!e.create) throw new LearnerConfigError(`learner ${name} is registered without a class (give its entry a create function)`);
  return e.create(options, host);
}
