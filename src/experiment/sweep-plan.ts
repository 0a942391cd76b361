/**
 * What a sweep samples, decided before any trial runs: the search space, the sampler with its
 * settings and seed, and the number of trials. `sweep`, `bench` and `sweep --print-space` all
 * take it from here.
 *
 * - `quirks: reference` (the default): the original's sweep of the learner
 *   (configs/hparams_search/<learner>_optuna.yaml, its registry entry's `originalSweep`): its
 *   Optuna distributions under its names, its seed, its 20 trials, and Optuna 2.10's TPE as
 *   the file configures it (ORIGINAL_SETTINGS).
 * - `quirks: fixed`: the paper's Tab. 2 rows (`learnerSpace`, depth 1..10) and this project's
 *   TPE variant (DEFAULT_SETTINGS, docs/sweep.md), seed 0.
 * `sampler` picks the sampler explicitly whatever the quirks mode; `seed`, `nTrials` and
 * `maxDepth` override the rest.
 */
import { DEFAULT_SETTINGS, ORIGINAL_SETTINGS, type Distribution, type SearchSpace, type TpeSettings } from '../sweep/index.js';
import type { LearnerName } from '../learners/types.js';
import { originalSpace } from './spaces.js';
import { learnerEntry } from '../learners/registry.js';
import { paramFor } from '../learners/param-names.js';
import { sweepSpace } from './trial.js';

export const SAMPLER_CHOICES = ['auto', 'optuna', 'tunevlseg'] as const;
/** `optuna`: the original's (Optuna 2.10's TPE on Optuna's streams); `tunevlseg`: ours; `auto`: by quirks mode. */
export type SamplerChoice = (typeof SAMPLER_CHOICES)[number];

export interface SweepPlan {
  readonly quirks: 'reference' | 'fixed';
  readonly space: SearchSpace;
  readonly samplerName: 'optuna' | 'tunevlseg';
  readonly sampler: TpeSettings;
  readonly seed: number;
  readonly nTrials: number;
  /** The original's sweep file the space (and the default seed) come from, or null. */
  readonly source: string | null;
}

export interface PlanOptions {
  readonly learner: LearnerName;
  /** The base training config's `model` section (its `quirks`, and the base model for the depth limit). */
  readonly model: Record<string, unknown>;
  readonly sampler?: SamplerChoice;
  readonly seed?: number;
  readonly nTrials?: number;
  /** Largest prompt depth sampled (below the space's own and the model's limits). */
  readonly maxDepth?: number;
  readonly log?: (line: string) => void;
  /**
   * When the base model cannot be read (not downloaded yet), say so and leave the depth range
   * unclamped instead of failing (`--print-space`; a sweep needs the model anyway).
   */
  readonly lenientModel?: boolean;
}

/** The quirks mode of a model config (the segmenter's default: reference). */
export function quirksOf(model: Record<string, unknown>): 'reference' | 'fixed' {
  return model.quirks === 'fixed' ? 'fixed' : 'reference';
}

export async function planSweep(o: PlanOptions): Promise<SweepPlan> {
  const log = o.log ?? (() => undefined);
  const quirks = quirksOf(o.model);
  const choice = o.sampler ?? 'auto';
  if (!(SAMPLER_CHOICES as readonly string[]).includes(choice))
    throw new Error(`--sampler must be one of ${SAMPLER_CHOICES.join(', ')}, got "${choice}"`);
  const samplerName = choice === 'auto' ? (quirks === 'reference' ? 'optuna' : 'tunevlseg') : choice;
  const original = quirks === 'reference' ? (learnerEntry(o.learner).originalSweep ?? null) : null;
  let space: SearchSpace;
  if (original) space = originalSpace(o.learner) as SearchSpace;
  else {
    if (quirks === 'reference') log(`sweep: the original has no sweep of ${o.learner}; using its Tab. 2 rows (quirks: fixed's space)`);
    space = sweepSpace(o.learner);
  }
  for (const [k, v] of [
    ['seed', o.seed],
    ['nTrials', o.nTrials],
    ['maxDepth', o.maxDepth],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= (k === 'seed' ? 0 : 1)))
      throw new Error(`sweep: ${k} must be a ${k === 'seed' ? 'non-negative' : 'positive'} integer, got ${String(v)}`);
  }
  space = await clampDepth(space, o.maxDepth, o.model, log, o.lenientModel === true);
  return {
    quirks,
    space,
    samplerName,
    sampler: samplerName === 'optuna' ? ORIGINAL_SETTINGS : DEFAULT_SETTINGS,
    seed: o.seed ?? original?.seed ?? 0,
    nTrials: o.nTrials ?? original?.nTrials ?? 20,
    source: original?.file ?? null,
  };
}

/**
 * Caps the prompt-depth parameter at `maxDepth` and at what the base model takes (a depth the
 * encoders lack would only make trials fail), saying so through `log` when the model caps it.
 * The limit comes from the model's config alone, before any trial (or weight load) runs.
 */
async function clampDepth(
  space: SearchSpace,
  maxDepth: number | undefined,
  model: Record<string, unknown>,
  log: (line: string) => void,
  lenient: boolean,
): Promise<SearchSpace> {
  const name = paramFor(Object.keys(space.params), { scope: 'model', key: 'depth' });
  const depth = name === undefined ? undefined : space.params[name];
  if (name === undefined || !depth || depth.type !== 'int') return space;
  const set = (high: number): SearchSpace => ({
    ...space,
    params: { ...space.params, [name]: { ...depth, high: Math.max(depth.low, high) } as Distribution },
  });
  let high = maxDepth === undefined ? depth.high : Math.min(depth.high, maxDepth);
  const { promptDepthLimit } = await import('../tuning/factory.js');
  let limit: Awaited<ReturnType<typeof promptDepthLimit>>;
  try {
    limit = await promptDepthLimit(model);
  } catch (e) {
    if (!lenient) throw e;
    log(`sweep: the depth range is not checked against ${String(model.model)}'s layers: ${(e as Error).message}`);
    return high === depth.high ? space : set(high);
  }
  if (high > limit.maxDepth) {
    log(
      `sweep: prompt depth range ${depth.low}..${high} clamped to ${depth.low}..${Math.max(depth.low, limit.maxDepth)}: ${String(model.model)} takes at most ${limit.maxDepth} (${limit.maxDepthWhy})`,
    );
    high = limit.maxDepth;
  }
  return high === depth.high ? space : set(high);
}

/** One distribution as `--print-space` shows it (Optuna's fields: an int's step is 1 unless set). */
function printable(d: Distribution): Record<string, unknown> {
  if (d.type === 'categorical') return { type: 'categorical', choices: [...d.choices] };
  return { type: d.type, low: d.low, high: d.high, step: d.step ?? (d.type === 'int' ? 1 : null), log: d.log === true };
}

/** `tunevlseg sweep --print-space`: the space, the sampler and the number of trials, as one JSON-able object. */
export function planReport(plan: SweepPlan): {
  space: Record<string, Record<string, unknown>>;
  sampler: Record<string, unknown>;
  n_trials: number;
} {
  const s = plan.sampler;
  return {
    space: Object.fromEntries(Object.entries(plan.space.params).map(([k, d]) => [k, printable(d)])),
    sampler: {
      name: plan.samplerName === 'optuna' ? 'optuna.samplers.TPESampler' : 'tunevlseg.TPESampler',
      seed: plan.seed,
      n_startup_trials: s.nStartupTrials ?? 10,
      multivariate: s.multivariate ?? false,
      consider_magic_clip: s.considerMagicClip ?? true,
      consider_prior: s.considerPrior ?? true,
      prior_weight: s.priorWeight ?? 1.0,
      // Everything the study stores (src/sweep/tpe.ts: optunaVersion, streams, our variant's knobs).
      settings: s,
    },
    n_trials: plan.nTrials,
  };
}
