/**
 * The learners' classes and `createLearner`: the half of the registry that needs libtorch
 * (registry.ts describes the learners without it). Importing this module loads the class of every
 * registered learner whose entry has a `load` (its folder's learner.ts), so `createLearner` stays
 * synchronous; a learner registered later with a `load` needs `await loadLearnerClasses()`.
 */
import { LEARNER_NAMES, learnerEntry } from './registry.js';
import { LearnerConfigError, type ContextLearner, type LearnerHost, type LearnerName } from './types.js';
import type { LearnerClass } from './entry.js';

const loaded = new Map<LearnerName, LearnerClass>();

/** Loads the class of every registered learner that has a `load` and is not loaded yet. */
export async function loadLearnerClasses(): Promise<void> {
  await Promise.all(
    LEARNER_NAMES.map(async (name) => {
      const e = learnerEntry(name);
      if (e.load && !loaded.has(name)) loaded.set(name, await e.load());
    }),
  );
}

await loadLearnerClasses();

/** Builds a registered learner by name for a model (options validated by its schema: unknown keys are errors). */
export function createLearner(name: string, options: Record<string, unknown>, host: LearnerHost): ContextLearner {
  const e = learnerEntry(name);
  if (e.create) return e.create(options, host);
  const Cls = loaded.get(e.name);
  if (!Cls) {
    if (e.load)
      throw new LearnerConfigError(
        `learner ${name}'s class is not loaded yet (it was registered after classes.ts loaded: await loadLearnerClasses() first)`,
      );
    throw new LearnerConfigError(`learner ${name} is registered without a class (give its entry a load or a create function)`);
  }
  const learner = new Cls(options, host);
  if (learner.name !== e.name)
    throw new LearnerConfigError(
      `learner ${name}: its class ${Cls.name} calls itself "${learner.name}" (the entry's name and the class's must agree)`,
    );
  return learner;
}
