/**
 * The learner registry: the one place that describes a context learner. Everything the rest of
 * the program asks about a learner is read from its entry here (or derived from it):
 *
 *  - its class and option schema (`create`, `schema`), built for a model by `createLearner`;
 *  - its display label, long title and paper order (report tables, the demo);
 *  - its reference class, wrapper classes and class defaults (parity fixtures, `learnerFromReference`);
 *  - its search-space rows, in our option names (`tunevlseg sweep`, `tunevlseg bench` with
 *    `quirks: fixed`; the sweep renames them to the paper's Tab. 2 names through the reference
 *    name table), and the original's own sweep of it (`originalSweep`: `quirks: reference`);
 *  - which towers it prompts and which base-model families it supports (CRIS: text only).
 *
 * A new built-in learner is its class file, its options schema (options.ts), one entry in
 * `BUILTIN_LEARNERS`, one class line in classes.ts and one test. Applications and tests may add
 * learners at run time with `registerLearner` (an entry that carries its own `create`).
 */
import {
  coopOptionsSchema, cocoopOptionsSchema, vptOptionsSchema, mapleOptionsSchema, sharedSeparateOptionsSchema, sharedAttnOptionsSchema,
} from './options.js';
import type { LearnerEntry, MethodFamily, OriginalSweep, SearchRow } from './entry.js';
import { shallowAdapterEntry } from './shallow_adapter/entry.js';
import { denseAdapterEntry } from './dense_adapter/entry.js';
import { loraEntry } from './lora/entry.js';
import { fullFinetuneEntry } from './full_finetune/entry.js';
import { didYouMeanSuffix } from '../util/suggest.js';
import { LearnerConfigError, type BaseFamily, type LearnerName } from './types.js';

export type { SearchRow, LearnerEntry, MethodFamily, OriginalSweep, TrainingRecipe } from './entry.js';

/**
 * The rows every original sweep file starts with. hydra-optuna-sweeper 1.2 reads
 * `tag(log, interval(a, b))` as LogUniformDistribution(a, b) and `range(a, b)` as
 * IntUniformDistribution(a, b), whose upper bound Optuna includes: depth 1..11.
 */
const ORIGINAL_COMMON_ROWS = {
  'optimizer.lr': { type: 'float', low: 1e-5, high: 5e-3, log: true }, // tag(log, interval(1e-5, 5e-3))
  weight_decay: { type: 'float', low: 1e-5, high: 0.01, log: true }, // tag(log, interval(1e-5, 0.01))
  'net.context_learner.prompt_depth': { type: 'int', low: 1, high: 11 }, // range(1, 11)
} as const;
const original = (file: string, seed: number, own: Readonly<Record<string, SearchRow>> = {}): OriginalSweep =>
  ({ file: `configs/hparams_search/${file}`, seed, nTrials: 20, params: { ...ORIGINAL_COMMON_ROWS, ...own } });
/** `choice(true, false)`: a categorical in the order written (the order random sampling and TPE index). */
const TRUE_FALSE = { type: 'categorical', choices: [true, false] } as const;

const projectionRows = {
  intermediateDim: { type: 'categorical', choices: [32, 64, 96] },
  useLoraProj: { type: 'categorical', choices: [false, true] },
} as const;
const projectionDefaults = { useUnifiedProjection: true, intermediateDim: null, useProjNorm: false, useLoraProj: false };

/** The six learners of the paper, in registry (demo) order, then the methods past the paper (one folder each). */
const BUILTIN_LEARNERS: readonly LearnerEntry[] = [
  {
    name: 'coop', label: 'CoOp', title: 'CoOp', paperOrder: 5, summary: 'learned text context vectors after BOS',
    schema: coopOptionsSchema, text: true, vision: false, models: ['clipseg', 'cris'],
    referenceClass: 'CoOpContextLearner', referenceWrappers: { clipseg: 'COOPCLIPSeg', cris: 'COOPCRIS' },
    referenceDefaults: { depth: 1, vectorStd: 0.02, contextInitializer: null }, searchRows: {},
    originalSweep: original('coop_optuna.yaml', 12345),
  },
  {
    name: 'cocoop', label: 'CoCoOp', title: 'CoCoOp', paperOrder: 4, summary: 'CoOp vectors plus a per-image bias from the image embedding',
    schema: cocoopOptionsSchema, text: true, vision: false, models: ['clipseg', 'cris'],
    referenceClass: 'CoCoOpContextLearner', referenceWrappers: { clipseg: 'COOPCLIPSeg', cris: 'COOPCRIS' },
    referenceDefaults: { depth: 1, vectorStd: 0.02, contextInitializer: null, ...projectionDefaults, normImageFeatures: true },
    // The original sweep config's choices (configs/hparams_search/cocoop*.yaml): {32, 129}.
    searchRows: { intermediateDim: { type: 'categorical', choices: [32, 129] }, useLoraProj: projectionRows.useLoraProj },
    // choice(32, 129, 32): three entries, 32 twice (drawn 2/3 of the time at random start-up).
    originalSweep: original('cocoop_optuna.yaml', 1234, {
      'net.context_learner.intermediate_dim': { type: 'categorical', choices: [32, 129, 32] },
      'net.context_learner.use_lora_proj': TRUE_FALSE,
    }),
  },
  {
    name: 'vpt', label: 'VPT', title: 'VPT', paperOrder: 3, summary: 'learned vision prompt tokens after the patch tokens',
    schema: vptOptionsSchema, text: false, vision: true, models: ['clipseg'],
    referenceClass: 'VPTContextLearner', referenceWrappers: { clipseg: 'VPTCLIPSeg' },
    referenceDefaults: { depth: 1, vectorStd: 0.02 }, searchRows: {},
    originalSweep: original('vpt_optuna.yaml', 1234),
  },
  {
    name: 'maple', label: 'MaPLe', title: 'MaPLe', paperOrder: 0, summary: 'text context vectors, vision prompts projected from them per layer',
    schema: mapleOptionsSchema, text: true, vision: true, models: ['clipseg'],
    referenceClass: 'MapleContextLearner', referenceWrappers: { clipseg: 'MapleCLIPSeg' },
    referenceDefaults: { depth: 1, vectorStd: 0.02, contextInitializer: null, ...projectionDefaults }, searchRows: projectionRows,
    // range(32, 97, 32): IntUniformDistribution(32, 97, step=32), whose high Optuna lowers to 96.
    originalSweep: original('maple_optuna.yaml', 12345, {
      'net.context_learner.intermediate_dim': { type: 'int', low: 32, high: 96, step: 32 },
      'net.context_learner.use_lora_proj': TRUE_FALSE,
    }),
  },
  {
    name: 'shared_separate', label: 'Shared Sep', title: 'Shared Separate', paperOrder: 1, summary: 'a unified prompt projected separately to text and vision',
    schema: sharedSeparateOptionsSchema, text: true, vision: true, models: ['clipseg'],
    referenceClass: 'SharedSeparateLearner', referenceWrappers: { clipseg: 'SharedSeparateCLIPSeg' },
    referenceDefaults: { depth: 1, vectorStd: 0.02, sharedDim: 64, ...projectionDefaults },
    searchRows: { sharedDim: { type: 'categorical', choices: [32, 64] } },
    originalSweep: original('shared_separate_optuna.yaml', 4322, { 'net.context_learner.shared_dim': { type: 'categorical', choices: [32, 64] } }),
  },
  {
    name: 'shared_attn', label: 'Shared Attn', title: 'Shared Attention', paperOrder: 2,
    summary: 'a unified prompt through a transformer layer, split into text and vision',
    schema: sharedAttnOptionsSchema, text: true, vision: true, models: ['clipseg'],
    referenceClass: 'SharedAttnLearner', referenceWrappers: { clipseg: 'SharedAttnCLIPSeg' },
    // nn.TransformerEncoderLayer's defaults (nhead has none)
    referenceDefaults: { depth: 1, vectorStd: 0.02, useUnifiedProjection: true, feedforward: 2048, dropout: 0.1, activation: 'relu', layerNormEps: 1e-5, normFirst: false },
    searchRows: {
      heads: { type: 'categorical', choices: [16, 20, 32] },
      dropout: { type: 'float', low: 0.1, high: 0.55 },
      feedforward: { type: 'categorical', choices: [1280, 1420] },
      normFirst: { type: 'categorical', choices: [true, false] },
    },
    originalSweep: original('shared_attn_optuna.yaml', 123456, {
      'net.context_learner.unified_projector.nhead': { type: 'categorical', choices: [16, 20, 32] },
      'net.context_learner.unified_projector.dropout': { type: 'float', low: 0.1, high: 0.55 }, // interval(0.1, 0.55)
      'net.context_learner.unified_projector.dim_feedforward': { type: 'categorical', choices: [1280, 1420] },
      'net.context_learner.unified_projector.norm_first': TRUE_FALSE,
    }),
  },
  shallowAdapterEntry,
  denseAdapterEntry,
  loraEntry,
  fullFinetuneEntry,
];

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
    throw new LearnerConfigError(`registerLearner: "${entry.name}" is not a valid learner name (lower-case letters, digits, "_"; not "none")`);
  }
  if (registry[entry.name]) throw new LearnerConfigError(`registerLearner: a learner named "${entry.name}" is already registered`);
  const clash = Object.values(registry).find((e) => e.referenceClass === entry.referenceClass);
  if (clash) throw new LearnerConfigError(`registerLearner: reference class "${entry.referenceClass}" already belongs to learner ${clash.name}`);
  if (entry.models.length === 0) throw new LearnerConfigError(`registerLearner: learner ${entry.name} supports no base model`);
  for (const k of Object.keys(entry.searchRows)) {
    if (!(k in entry.schema.shape)) throw new LearnerConfigError(`registerLearner: search row "${k}" of learner ${entry.name} is not one of its options`);
  }
  for (const k of Object.keys(entry.trainingSearchRows ?? {})) {
    if (!TRAINING_SEARCH_KEYS.includes(k)) throw new LearnerConfigError(`registerLearner: training search row "${k}" of learner ${entry.name} is none of ${TRAINING_SEARCH_KEYS.join(', ')}`);
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

/** Gives a registered learner its class (classes.ts does this for the built-in ones). */
export function bindLearnerClass(name: LearnerName, create: NonNullable<LearnerEntry['create']>): void {
  learnerEntry(name).create = create;
}

/** The learner whose reference class is `cls` (e.g. "CoOpContextLearner"). */
export function learnerForReferenceClass(cls: string): LearnerEntry {
  const e = Object.values(registry).find((l) => l.referenceClass === cls);
  if (!e) throw new LearnerConfigError(`unknown reference learner class "${cls}" (expected one of ${Object.values(registry).map((l) => l.referenceClass).join(', ')})`);
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
  return names.map((n, i) => ({ n, i })).sort((a, b) => rank(a.n) - rank(b.n) || a.i - b.i).map((x) => x.n);
}

/** How learner `name` adapts the model: prompt tokens, adapters, LoRA or every weight (report grouping). */
export function learnerFamily(name: string): MethodFamily {
  return (isLearnerName(name) ? registry[name]!.family : undefined) ?? 'prompt';
}
