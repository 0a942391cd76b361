/**
 * The list of built-in learners: one line per learner folder (src/learners/<name>/, whose
 * entry.ts describes it), in registry order (`LEARNER_NAMES`, the demo's, the grid's; the report
 * orders rows by each entry's `paperOrder`). Adding a learner = its folder + one line here.
 *
 * The folders are imported dynamically so that each is one line; the entries need no libtorch
 * (their classes load only when a model is built: classes.ts).
 */
import type { LearnerEntry } from './entry.js';

const folders = await Promise.all([
  import('./coop/entry.js'),
  import('./cocoop/entry.js'),
  import('./vpt/entry.js'),
  import('./maple/entry.js'),
  import('./shared_separate/entry.js'),
  import('./shared_attn/entry.js'),
  import('./shallow_adapter/entry.js'),
  import('./dense_adapter/entry.js'),
  import('./lora/entry.js'),
  import('./full_finetune/entry.js'),
]);

/** The six learners of the paper, in registry (demo) order, then the methods past the paper. */
export const BUILTIN_LEARNERS: readonly LearnerEntry[] = folders.map((f) => f.entry);
