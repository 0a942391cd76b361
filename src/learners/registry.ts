/**
 * The learner registry: the one place that describes a context learner. Everything the rest of
 * the program asks about a learner is read from its entry (its folder's entry.ts), registered
 * here, or derived from it:
 *
 *  - its class and option schema (`load` or `create`, `schema`), built for a model by `createLearner`;
 *  - its display label, long title and paper order (report tables, the demo);
 *  - its reference class, wrapper classes and class defaults (parity fixtures, `learnerFromReference`);
 *  - its search-space rows, in our option names (`tunevlseg sweep`, `tunevlseg bench` with
 *    `quirks: fixed`; the sweep renames them to the paper's Tab. 2 names through the reference
 *    name table), and the original's own sweep of it (`originalSweep`: `quirks: reference`);
 *  - which towers it prompts and which base-model families it supports (CRIS: text only).
 *
 * A new built-in learner is one folder, src/learners/<name>/ (options.ts: its schema; learner.ts:
 * its class; entry.ts: its entry), plus one line in builtins.ts (docs/learners.md). Applications
 * and tests may add learners at run time with `registerLearner` (an entry that carries its own
 * `create`, or a `load` followed by `loadLearnerClasses()`).
 */
import { BUILTIN_LEARNERS } from './builtins.js';
import type { LearnerEntry, MethodFamily } from './entry.js';
import { didYouMeanSuffix } from '../util/suggest.js';
import { LearnerConfigError, type BaseFamily, type LearnerName } from './types.js';

export type { SearchRow, LearnerClass, LearnerEntry, MethodFamily, OriginalRunScript, OriginalSweep, TrainingRecipe } from './entry.js';
export { BUILTIN_LEARNERS };

/** The learner a config gets when it names none. */
export const DEFAULT_LEARNER: LearnerName = 'vpt';

const registry: Record<LearnerName, LearnerEntry> = {};
const names: LearnerName[] = [];

/** Every registered learner by name (live: `registerLearner` adds to it). */
export const LEARNERS: Readonly<Record<LearnerName, LearnerEntry>> = registry;
/** Every registered learner's name, in registration order (live). */
export const LEARNER_NAMES: readonly LearnerName[] = names;

/** The sweep parameters a training search row may name (src/experiment/trial.ts maps them to config keys). */
const TRAINING_SEARCH_KEYS = ['lr', 'weight_decay', 'batch_size', 'prompt_depth'];

/**
 * Adds a learner to the registry: from then on configs, `inspect`, the sweep space, the bench
 * grid, the report and the parity kind know it. Returns a function that removes it again.
 */
export function registerLearner(entry: LearnerEntry): () => void {
  if (!/^[a-z][a-z0-9_]*$/.test(entry.name) || entry.name === 'none') {
    throw new LearnerConfigError(
      `registerLearner: "${entry.name}" is not a valid learner name (lower-case letters, digits, "_"; not "none")`,
    );
  }
  if (registry[entry.name]) throw new LearnerConfigError(`registerLearner: a learner named "${entry.name}" is already registered`);
  const clash = Object.values(registry).find((e) => e.referenceClass === entry.referenceClass);
  if (clash)
    throw new LearnerConfigError(`registerLearner: reference class "${entry.referenceClass}" already belongs to learner ${clash.name}`);
  if (entry.models.length === 0) throw new LearnerConfigError(`registerLearner: learner ${entry.name} supports no base model`);
  for (const k of Object.keys(entry.searchRows)) {
    if (!(k in entry.schema.shape))
      throw new LearnerConfigError(`registerLearner: search row "${k}" of learner ${entry.name} is not one of its options`);
  }
  for (const k of Object.keys(entry.trainingSearchRows ?? {})) {
    if (!TRAINING_SEARCH_KEYS.includes(k))
      throw new LearnerConfigError(
        `registerLearner: training search row "${k}" of learner ${entry.name} is none of ${TRAINING_SEARCH_KEYS.join(', ')}`,
      );
  }
  registry[entry.name] = entry;
  names.push(entry.name);
  return () => {
    if (registry[entry.name] !== entry) return;
    delete registry[entry.name];
    names.splice(names.indexOf(entry.name), 1);
  };
}

for (const e of BUILTIN_LEARNERS) registerLearner(e);

export function isLearnerName(s: unknown): s is LearnerName {
  return typeof s === 'string' && Object.hasOwn(registry, s);
}

/** `unknown learner "mapple" (did you mean "maple"?); expected one of ...`: the one message for a name the registry lacks. */
export function unknownLearnerMessage(name: string, extra: readonly string[] = []): string {
  const known = [...names, ...extra];
  return `unknown learner ${JSON.stringify(name)}${didYouMeanSuffix(name, known)}; expected one of ${known.join(', ')}`;
}

export function learnerEntry(name: string): LearnerEntry {
  if (!isLearnerName(name)) throw new LearnerConfigError(unknownLearnerMessage(name));
  return registry[name]!;
}

/** Gives a registered learner its constructor function (classes.ts does this when it loads the classes). */
export function bindLearnerClass(name: LearnerName, create: NonNullable<LearnerEntry['create']>): void {
  learnerEntry(name).create = create;
}

/** The learner whose reference class is `cls` (e.g. "CoOpContextLearner"). */
export function learnerForReferenceClass(cls: string): LearnerEntry {
  const e = Object.values(registry).find((l) => l.referenceClass === cls);
  if (!e)
    throw new LearnerConfigError(
      `unknown reference learner class "${cls}" (expected one of ${Object.values(registry)
        .map((l) => l.referenceClass)
        .join(', ')})`,
    );
  return e;
}

/** The base-model family whose reference wrapper class is `wrapper` (e.g. "COOPCRIS" -> cris), or null. */
export function familyForReferenceWrapper(wrapper: string): BaseFamily | null {
  for (const e of Object.values(registry)) {
    for (const [family, w] of Object.entries(e.referenceWrappers)) if (w === wrapper) return family as BaseFamily;
  }
  return null;
}

/** Every reference wrapper class the registry knows (error messages). */
export function referenceWrapperNames(): string[] {
  return [...new Set(Object.values(registry).flatMap((e) => Object.values(e.referenceWrappers)))];
}

/** The registered learners that apply to a base-model family, in registry order. */
export function learnersFor(family: BaseFamily): LearnerName[] {
  return names.filter((n) => registry[n]!.models.includes(family));
}

/** Whether learner `name` applies to `family` (unknown learners: false). */
export function learnerSupports(name: string, family: BaseFamily): boolean {
  return isLearnerName(name) && registry[name]!.models.includes(family);
}

/** The registered learners with option `key` in their schema (e.g. contextInitializer), in registry order. */
export function learnersWithOption(key: string): LearnerName[] {
  return names.filter((n) => key in registry[n]!.schema.shape);
}

/** The learners in the paper's row order (those without a paper position last, in registry order). */
export function learnersInPaperOrder(): LearnerName[] {
  const rank = (n: LearnerName): number => registry[n]!.paperOrder ?? Number.POSITIVE_INFINITY;
  return names
    .map((n, i) => ({ n, i }))
    .sort((a, b) => rank(a.n) - rank(b.n) || a.i - b.i)
    .map((x) => x.n);
}

/** How learner `name` adapts the model: prompt tokens, adapters, LoRA or every weight (report grouping). */
export function learnerFamily(name: string): MethodFamily {
  return (isLearnerName(name) ? registry[name]!.family : undefined) ?? 'prompt';
}
