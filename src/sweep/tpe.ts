/**
 * Tree-structured Parzen Estimator (TPE) sampling, as pure functions over a list of finished
 * trials, with the behaviour of Optuna 3.1's `TPESampler` (single objective), or of Optuna
 * 2.10's (`optunaVersion: "2.10"`, what the original's sweeps ran; differences below):
 *
 * - the first `nStartupTrials` (10) trials are sampled uniformly at random (ints and steps
 *   with half-step margins, log parameters in log space, categoricals uniformly);
 * - afterwards the finished trials (complete, and pruned ones ranked by their last reported
 *   step) are split into the best `gamma(n)` ("below") and the rest ("above"); a Parzen
 *   estimator l(x) is fitted to the below group and g(x) to the above group, each with a prior
 *   kernel of weight `priorWeight`; `nEiCandidates` (24) points are drawn from l and the one
 *   maximising l(x)/g(x) is chosen;
 * - univariate mode (default, as in Optuna) does this per parameter with data-driven kernel
 *   widths (`considerMagicClip`, `considerEndpoints`); `multivariate: true` does it jointly
 *   over the parameters every finished trial shares (the intersection search space) with
 *   Scott's-rule widths, and per parameter for the rest (conditional parameters).
 *
 * Optuna 2.10 differs from 3.1 in the kernels' densities (parzen.ts), in sorting the trials by
 * NumPy's unstable quicksort (ties at the good/bad boundary), in leaving out of a parameter's
 * independent sampling the trials that lack it (multivariate mode; 3.1 counts them in n), and
 * in ranking a pruned trial without reports after every other (3.1: by step 1).
 *
 * Randomness comes from two MT19937 streams (one for random start-up sampling, one for TPE),
 * seeded as NumPy's `RandomState`. `TPESampler` keeps them across calls like Optuna does, so
 * that from one seed it proposes the same sequence as Optuna's sampler in a serial study.
 * `sampleForTrial` by default seeds fresh streams from (study seed, trial sequence number), so a
 * trial's parameters depend only on the seed, its number and the trials it is shown - which is
 * what makes distributed studies reproducible (see study.ts); with `streams: "optuna"` it
 * rebuilds Optuna's two streams instead, by replaying every earlier trial's sampling from the
 * history (still a function of the seed, the sequence number and the history).
 *
 * Why one file over 450 lines: one sampler whose pieces (start-up, the good/bad split, the
 * kernel estimators, candidate scoring) must agree stream for stream with Optuna's.
 */

import { activeDistributions, contains, distributionsEqual, isSingle, toExternal, toInternal, walkSpace } from './space.js';
import type { Distribution, ParamValue, Params, SearchSpace } from './space.js';
import { ParzenEstimator } from './parzen.js';
import type { ParzenParameters } from './parzen.js';
import { nextBelow, npArgsortBy, roundHalfEven } from './numerics.js';
import { MT19937, deriveSeed } from './random.js';

export type Direction = 'minimize' | 'maximize';
export type TrialState = 'waiting' | 'running' | 'complete' | 'pruned' | 'failed';

/** What the sampler needs to know of a trial. Only complete and pruned trials are used. */
export interface TrialObservation {
  readonly params: Readonly<Params>;
  readonly state: TrialState;
  /** The objective value (complete trials). */
  readonly value?: number | null;
  /** Reported intermediate values as [step, value] pairs (pruned trials are ranked by the last). */
  readonly intermediate?: ReadonlyArray<readonly [number, number]>;
  /** The trial's sequence number in its study (needed by `streams: "optuna"`). */
  readonly seq?: number;
}

export interface TpeOptions {
  readonly direction?: Direction;
  /** Random trials before TPE starts (Optuna: 10). */
  readonly nStartupTrials?: number;
  /** Candidates drawn from l(x) per proposal (Optuna: 24). */
  readonly nEiCandidates?: number;
  readonly considerPrior?: boolean;
  readonly priorWeight?: number;
  readonly considerMagicClip?: boolean;
  readonly considerEndpoints?: boolean;
  readonly multivariate?: boolean;
  /** Number of trials in the "below" (good) group given n finished trials. */
  readonly gamma?: (n: number) => number;
  /** Weights of n observations, oldest first. */
  readonly weights?: (n: number) => readonly number[];
  /**
   * How the start-up trials are drawn: "random" (Optuna's RandomSampler) or "lhs" (a Latin
   * hypercube over the first `nStartupTrials` trial numbers; needs the trial's seed and
   * sequence number, i.e. `sampleForTrial`).
   */
  readonly startup?: 'random' | 'lhs';
  /** Multivariate kernel width factor before Scott's rule (Optuna: 0.2). */
  readonly sigma0Magnitude?: number;
  /** Weight the good group's kernels by rank (best highest) instead of by age. */
  readonly rankWeights?: boolean;
  /** Whose TPE: Optuna 3.1's (default) or 2.10's (see the file header). */
  readonly optunaVersion?: '2.10' | '3.1';
  /**
   * `sampleForTrial`'s random streams: "trial" (default: fresh streams per trial from (seed,
   * seq)) or "optuna" (one pair of `RandomState(seed)` streams through the whole study, as an
   * Optuna study holds them, rebuilt by replaying the earlier trials' sampling).
   */
  readonly streams?: 'trial' | 'optuna';
}

/** Serialisable sampler settings (what a study stores): everything but the functions. */
export type TpeSettings = Omit<TpeOptions, 'gamma' | 'weights' | 'direction'> & {
  /** "default" (Optuna's), "hyperopt", or a fraction f for min(ceil(f * n), 25). */
  readonly gamma?: 'default' | 'hyperopt' | number;
};

/** Checks sampler settings read from a config file or a database; errors name the field. */
export function parseTpeSettings(raw: unknown, where = 'sampler'): TpeSettings {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TypeError(`${where}: expected an object of TPE settings`);
  const o = raw as Record<string, unknown>;
  const bool = ['considerPrior', 'considerMagicClip', 'considerEndpoints', 'multivariate', 'rankWeights'];
  const positive = ['priorWeight', 'sigma0Magnitude'];
  for (const [k, v] of Object.entries(o)) {
    const bad = (expected: string): never => {
      throw new TypeError(`${where}.${k}: expected ${expected}, got ${JSON.stringify(v)}`);
    };
    if (bool.includes(k)) {
      if (typeof v !== 'boolean') bad('a boolean');
    } else if (positive.includes(k)) {
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) bad('a positive number');
    } else if (k === 'nStartupTrials') {
      if (!Number.isInteger(v) || (v as number) < 0) bad('a non-negative integer');
    } else if (k === 'nEiCandidates') {
      if (!Number.isInteger(v) || (v as number) < 1) bad('a positive integer');
    } else if (k === 'startup') {
      if (v !== 'random' && v !== 'lhs') bad('"random" or "lhs"');
    } else if (k === 'optunaVersion') {
      if (v !== '2.10' && v !== '3.1') bad('"2.10" or "3.1"');
    } else if (k === 'streams') {
      if (v !== 'trial' && v !== 'optuna') bad('"trial" or "optuna"');
    } else if (k === 'gamma') {
      if (v !== 'default' && v !== 'hyperopt' && !(typeof v === 'number' && v > 0 && v <= 1))
        bad('"default", "hyperopt" or a fraction in (0, 1]');
    } else {
      throw new TypeError(`${where}: unknown setting "${k}"`);
    }
  }
  return o as TpeSettings;
}

/** Optuna 3.1's `TPESampler(multivariate=True)`, with per-trial streams. */
export const OPTUNA_SETTINGS: TpeSettings = { multivariate: true };

/**
 * The original's sampler (configs/hparams_search/*_optuna.yaml): Optuna 2.10's
 * `TPESampler(multivariate=True, n_startup_trials=10, consider_prior=True, prior_weight=1.0,
 * consider_magic_clip=True)` with its other defaults (24 candidates, default gamma and weights,
 * no endpoints), drawing from one pair of seeded streams through the study as Optuna does.
 * hydra-optuna-sweeper 1.2.0, which the original's requirements name, requires
 * optuna>=2.10.0,<3.0.0. The seed is the learner's (its registry entry's `originalSweep`).
 */
export const ORIGINAL_SETTINGS: TpeSettings = {
  multivariate: true,
  nStartupTrials: 10,
  nEiCandidates: 24,
  considerPrior: true,
  priorWeight: 1.0,
  considerMagicClip: true,
  considerEndpoints: false,
  gamma: 'default',
  optunaVersion: '2.10',
  streams: 'optuna',
};

/**
 * What studies use unless told otherwise: multivariate TPE with Optuna's knobs (10 start-up
 * trials, 24 candidates, prior weight 1) plus four changes that made it find better values in
 * small budgets (chosen on 400 seeds of the bench functions and 200 of nine held-out ones,
 * see docs/sweep.md):
 * - Latin-hypercube start-up trials instead of independent uniform ones;
 * - no "magic clip" in multivariate mode: with 1-3 good trials it floors every kernel of
 *   l(x) at 1/3-1/5 of the range, wider than Scott's rule, so TPE barely exploits;
 * - kernel width factor 0.175 instead of 0.2, and the good group 15% of the trials (not 10%);
 * - the good group's kernels weighted by rank (best = 1, worst = 1/n) instead of uniformly.
 */
export const DEFAULT_SETTINGS: TpeSettings = {
  multivariate: true,
  startup: 'lhs',
  considerMagicClip: false,
  gamma: 0.15,
  sigma0Magnitude: 0.175,
  rankWeights: true,
};

/** Optuna's `default_gamma`: 10% of the trials, at most 25. */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Optuna's `hyperopt_default_gamma`. */
export function hyperoptGamma(n: number): number {
  return Math.min(Math.ceil(0.25 * Math.sqrt(n)), 25);
}

/** Optuna's `default_weights`: flat for the newest 25 observations, a linear ramp before. */
export function defaultWeights(n: number): number[] {
  if (n === 0) return [];
  if (n < 25) return new Array<number>(n).fill(1);
  const num = n - 25;
  const start = 1.0 / n;
  const ramp: number[] = [];
  if (num === 1) ramp.push(start);
  else if (num > 1) {
    const step = (1.0 - start) / (num - 1);
    for (let i = 0; i < num; i++) ramp.push(i * step + start);
    ramp[num - 1] = 1.0;
  }
  return [...ramp, ...new Array<number>(25).fill(1)];
}

interface Resolved {
  v210: boolean;
  startup: 'random' | 'lhs';
  rankWeights: boolean;
  sign: number;
  nStartup: number;
  nEi: number;
  gamma: (n: number) => number;
  parzen: ParzenParameters;
}

function resolve(o: TpeOptions): Resolved {
  return {
    v210: o.optunaVersion === '2.10',
    startup: o.startup ?? 'random',
    rankWeights: o.rankWeights ?? false,
    sign: o.direction === 'maximize' ? -1 : 1,
    nStartup: o.nStartupTrials ?? 10,
    nEi: o.nEiCandidates ?? 24,
    gamma: o.gamma ?? defaultGamma,
    parzen: {
      considerPrior: o.considerPrior ?? true,
      priorWeight: o.priorWeight ?? 1.0,
      considerMagicClip: o.considerMagicClip ?? true,
      considerEndpoints: o.considerEndpoints ?? false,
      weights: o.weights ?? defaultWeights,
      multivariate: o.multivariate ?? false,
      ...(o.optunaVersion ? { version: o.optunaVersion } : {}),
      ...(o.sigma0Magnitude !== undefined ? { sigma0Magnitude: o.sigma0Magnitude } : {}),
    },
  };
}

/** Turns stored settings into options (gamma by name). */
export function tpeOptionsFromSettings(s: TpeSettings): TpeOptions {
  const { gamma, ...rest } = s;
  if (typeof gamma === 'number') return { ...rest, gamma: (n: number) => Math.min(Math.ceil(gamma * n), 25) };
  return { ...rest, gamma: gamma === 'hyperopt' ? hyperoptGamma : defaultGamma };
}

// ---------------------------------------------------------------- random sampling

/** Transformed-space bounds random sampling draws from (half-step margins, log space). */
function randomBounds(d: Exclude<Distribution, { type: 'categorical' }>): [number, number] {
  if (d.type === 'float') {
    if (d.log) return [Math.log(d.low), Math.log(d.high)];
    if (d.step !== undefined) return [d.low - 0.5 * d.step, d.high + 0.5 * d.step];
    return [d.low, d.high];
  }
  const step = d.step ?? 1;
  if (d.log) return [Math.log(d.low - 0.5 * step), Math.log(d.high + 0.5 * step)];
  return [d.low - 0.5 * step, d.high + 0.5 * step];
}

/** The value at fraction `u` in [0, 1) of a numerical distribution's sampling range. */
function valueAt(d: Exclude<Distribution, { type: 'categorical' }>, u: number): number {
  const [a, b] = randomBounds(d);
  const t = a + (b - a) * u;
  if (d.type === 'float') {
    if (d.log) return Math.min(Math.exp(t), nextBelow(d.high));
    if (d.step !== undefined) return Math.min(Math.max(roundHalfEven((t - d.low) / d.step) * d.step + d.low, d.low), d.high);
    return Math.min(t, nextBelow(d.high));
  }
  const step = d.step ?? 1;
  if (d.log) return Math.min(Math.max(roundHalfEven(Math.exp(t)), d.low), d.high);
  return Math.min(Math.max(roundHalfEven((t - d.low) / step) * step + d.low, d.low), d.high);
}

/** One value drawn uniformly the way Optuna's RandomSampler does. */
export function randomValue(d: Distribution, rng: MT19937): ParamValue {
  if (d.type === 'categorical') {
    let best = 0;
    let bestU = -Infinity;
    for (let i = 0; i < d.choices.length; i++) {
      const u = rng.uniform(0, 1);
      if (u > bestU) {
        bestU = u;
        best = i;
      }
    }
    return d.choices[best] as ParamValue;
  }
  return valueAt(d, rng.random());
}

/** FNV-1a hash of a parameter name. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Latin-hypercube start-up: over the first n trials of a study each parameter's range is cut
 * into n equal strata (categoricals: the choices, evenly) and trial `seq` takes stratum
 * perm[seq] of a permutation fixed by (seed, parameter name), at a random point inside it.
 * Every start-up trial still depends only on (seed, seq), so distributed runs stay
 * reproducible, and the start-up points cover each range evenly instead of clumping.
 */
function lhsValue(d: Distribution, name: string, seed: number, seq: number, n: number, rng: MT19937): ParamValue {
  const prng = new MT19937(deriveSeed(seed, hashName(name), 2));
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(prng.random() * (i + 1));
    [perm[i], perm[j]] = [perm[j] as number, perm[i] as number];
  }
  const u = ((perm[seq] as number) + rng.random()) / n;
  if (d.type === 'categorical') {
    // Strata map to choices through a second permutation, so no choice is favoured.
    const k = d.choices.length;
    const cperm = Array.from({ length: k }, (_, i) => i);
    for (let i = k - 1; i > 0; i--) {
      const j = Math.floor(prng.random() * (i + 1));
      [cperm[i], cperm[j]] = [cperm[j] as number, cperm[i] as number];
    }
    return d.choices[cperm[Math.min(k - 1, Math.floor(u * k))] as number] as ParamValue;
  }
  return valueAt(d, u);
}

/** A whole parameter set drawn at random. */
export function randomParams(space: SearchSpace, rng: MT19937): Params {
  return walkSpace(space, (_name, d) => randomValue(d, rng));
}

// ---------------------------------------------------------------- observations

interface Observed {
  trial: TrialObservation;
  dists: Map<string, Distribution>;
  step: number; // ranking key 1 (-step of the last report for pruned trials, -inf when complete)
  score: number; // ranking key 2 (sign * value)
}

/** The finished trials TPE learns from, in the order given, with their ranking keys. */
function observe(space: SearchSpace, trials: readonly TrialObservation[], sign: number, v210: boolean): Observed[] {
  const out: Observed[] = [];
  for (const t of trials) {
    let step: number;
    let score: number;
    if (t.state === 'complete') {
      if (t.value === undefined || t.value === null) continue;
      step = -Infinity;
      score = sign * t.value;
    } else if (t.state === 'pruned') {
      const iv = t.intermediate ?? [];
      if (iv.length > 0) {
        let last = iv[0] as readonly [number, number];
        for (const e of iv) if (e[0] > last[0]) last = e;
        step = -last[0];
        score = Number.isNaN(last[1]) ? Infinity : sign * last[1];
      } else {
        step = v210 ? Infinity : 1;
        score = 0;
      }
    } else continue;
    let dists: Map<string, Distribution>;
    try {
      dists = activeDistributions(space, t.params);
    } catch {
      dists = new Map();
    }
    out.push({ trial: t, dists, step, score });
  }
  return out;
}

/**
 * Indices (into `obs`) of the best `nBelow` and the rest, each in chronological order. Ranked by
 * (step, score): a stable sort (Optuna 3.1) or NumPy's default quicksort (2.10), which differ
 * only in how ties at the boundary fall.
 */
function split(obs: readonly Observed[], nBelow: number, v210: boolean): { below: number[]; above: number[]; rank: Map<number, number> } {
  const cmpNum = (a: number, b: number): number =>
    a < b ? -1 : a > b ? 1 : Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : Number.isNaN(b) ? -1 : 0;
  const cmp = (i: number, j: number): number => {
    const a = obs[i] as Observed;
    const b = obs[j] as Observed;
    return cmpNum(a.step, b.step) || cmpNum(a.score, b.score);
  };
  const order = v210 ? npArgsortBy(obs.length, (i, j) => cmp(i, j) < 0) : obs.map((_, i) => i).sort(cmp);
  const below = order.slice(0, nBelow).sort((a, b) => a - b);
  const above = order.slice(nBelow).sort((a, b) => a - b);
  const rank = new Map(order.map((i, k) => [i, k]));
  return { below, above, rank };
}

/** A trial's value for `name` in internal representation, or null when it lacks it. */
function internalValue(o: Observed, name: string, fallback: Distribution): number | null {
  if (!(name in o.trial.params)) return null;
  const d = o.dists.get(name) ?? fallback;
  try {
    return toInternal(d, o.trial.params[name] as ParamValue);
  } catch {
    return null;
  }
}

/** Dense ranks (0 = best) of the given observations among themselves. */
function ranksOf(idx: readonly number[], rank: ReadonlyMap<number, number>): number[] {
  const order = [...idx].sort((a, b) => (rank.get(a) as number) - (rank.get(b) as number));
  const pos = new Map(order.map((i, k) => [i, k]));
  return idx.map((i) => pos.get(i) as number);
}

/** Best candidate by l(x) - g(x) (first maximum; a NaN score wins, as with NumPy's argmax). */
function argmaxScore(logL: readonly number[], logG: readonly number[]): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let i = 0; i < logL.length; i++) {
    const s = (logL[i] as number) - (logG[i] as number);
    if (Number.isNaN(s)) return i;
    if (i === 0 || s > bestScore) {
      bestScore = s;
      best = i;
    }
  }
  return best;
}

/** Draws candidates from l(x), fitted on `below`, and returns the best by l(x)/g(x). */
function tpePropose(
  space: ReadonlyMap<string, Distribution>,
  below: ReadonlyMap<string, readonly number[]>,
  above: ReadonlyMap<string, readonly number[]>,
  r: Resolved,
  rng: MT19937,
  belowRanks: readonly number[],
): Map<string, number> {
  const lParams = r.rankWeights
    ? { ...r.parzen, weights: () => belowRanks.map((k) => (belowRanks.length - k) / belowRanks.length) }
    : r.parzen;
  const l = new ParzenEstimator(below, space, lParams);
  const g = new ParzenEstimator(above, space, r.parzen);
  const cands = l.sample(rng, r.nEi);
  const best = argmaxScore(l.logPdf(cands), g.logPdf(cands));
  const out = new Map<string, number>();
  for (const [name, xs] of cands) out.set(name, xs[best] as number);
  return out;
}

function toExternalValue(d: Distribution, x: number): ParamValue {
  if (d.type === 'int') return Math.trunc(x);
  return toExternal(d, x);
}

/** The parameters every finished trial has with the same distribution, in the first trial's order. */
function intersectionSpace(obs: readonly Observed[]): Map<string, Distribution> {
  if (obs.length === 0) return new Map();
  const out = new Map((obs[0] as Observed).dists);
  for (const o of obs.slice(1)) {
    for (const [name, d] of out) {
      const e = o.dists.get(name);
      if (!e || !distributionsEqual(e, d)) out.delete(name);
    }
  }
  for (const [name, d] of out) if (isSingle(d)) out.delete(name);
  return out;
}

function sampleRelative(obs: readonly Observed[], relSpace: ReadonlyMap<string, Distribution>, r: Resolved, rng: MT19937): Params {
  if (relSpace.size === 0 || obs.length < r.nStartup) return {};
  const { below, above, rank } = split(obs, r.gamma(obs.length), r.v210);
  const pick = (idx: readonly number[]): Map<string, number[]> => {
    const m = new Map<string, number[]>();
    for (const [name, d] of relSpace)
      m.set(
        name,
        idx.map((i) => internalValue(obs[i] as Observed, name, d) as number),
      );
    return m;
  };
  const best = tpePropose(relSpace, pick(below), pick(above), r, rng, ranksOf(below, rank));
  const out: Params = {};
  for (const [name, d] of relSpace) out[name] = toExternalValue(d, best.get(name) as number);
  return out;
}

function sampleIndependent(all: readonly Observed[], name: string, d: Distribution, r: Resolved, rngs: SamplerStreams): ParamValue {
  // Optuna 2.10's multivariate TPE leaves the trials without this parameter out altogether.
  const obs = r.v210 && r.parzen.multivariate ? all.filter((o) => name in o.trial.params) : all;
  if (obs.length < r.nStartup) {
    const at = rngs.at;
    if (r.startup === 'lhs' && at && at.seq < r.nStartup) return lhsValue(d, name, at.seed, at.seq, r.nStartup, rngs.random);
    return randomValue(d, rngs.random);
  }
  const { below, above, rank } = split(obs, r.gamma(obs.length), r.v210);
  const pick = (idx: readonly number[]): number[] => {
    const out: number[] = [];
    for (const i of idx) {
      const v = internalValue(obs[i] as Observed, name, d);
      if (v !== null) out.push(v);
    }
    return out;
  };
  const one = new Map([[name, d]]);
  const present = below.filter((i) => internalValue(obs[i] as Observed, name, d) !== null);
  const best = tpePropose(one, new Map([[name, pick(below)]]), new Map([[name, pick(above)]]), r, rngs.tpe, ranksOf(present, rank));
  return toExternalValue(d, best.get(name) as number);
}

/** The two random streams a sampler draws from. */
export interface SamplerStreams {
  readonly random: MT19937;
  readonly tpe: MT19937;
  /** The study seed and the trial's sequence number, when known (needed by `startup: "lhs"`). */
  readonly at?: { readonly seed: number; readonly seq: number };
}

/**
 * Proposes the parameters of a new trial from the finished trials (in chronological order).
 * Pure except for the draws it takes from `rngs`.
 */
export function sampleParams(space: SearchSpace, trials: readonly TrialObservation[], options: TpeOptions, rngs: SamplerStreams): Params {
  const r = resolve(options);
  const obs = observe(space, trials, r.sign, r.v210);
  const relSpace = r.parzen.multivariate ? intersectionSpace(obs) : new Map<string, Distribution>();
  const rel = sampleRelative(obs, relSpace, r, rngs.tpe);
  return walkSpace(space, (name, d) => {
    const rd = relSpace.get(name);
    if (name in rel && rd && distributionsEqual(rd, d) && contains(d, rel[name] as ParamValue)) return rel[name] as ParamValue;
    return sampleIndependent(obs, name, d, r, rngs);
  });
}

/** Streams seeded like Optuna's `TPESampler(seed=...)` (both `RandomState(seed)`). */
export function optunaStreams(seed: number): SamplerStreams {
  return { random: new MT19937(seed), tpe: new MT19937(seed) };
}

/** Independent streams for one trial of a study: a function of (seed, sequence number) only. */
export function trialStreams(seed: number, seq: number): SamplerStreams {
  return { random: new MT19937(deriveSeed(seed, seq, 0)), tpe: new MT19937(deriveSeed(seed, seq, 1)), at: { seed, seq } };
}

/** What `sampleForTrial` needs besides the sampler options. */
export interface TrialSamplingOptions extends TpeOptions {
  readonly seed: number;
  readonly seq: number;
  /** The study's lag (storage.ts): trial k was shown the trials with seq < k - lag (default 0). */
  readonly lag?: number | null;
}

/**
 * Parameters of trial `seq` of a study: deterministic in (seed, seq, trials). With `streams:
 * "optuna"`, trials 0..seq-1 are sampled again first from what each was shown (the trials with
 * seq < k - lag), in order, on one pair of `RandomState(seed)` streams; the streams are then
 * where an Optuna study's would be, and trial seq gets what Optuna's `study.ask()` would give it.
 * Every observation needs its `seq`.
 */
export function sampleForTrial(space: SearchSpace, trials: readonly TrialObservation[], options: TrialSamplingOptions): Params {
  if (options.streams !== 'optuna') return sampleParams(space, trials, options, trialStreams(options.seed, options.seq));
  const lag = options.lag ?? 0;
  const seqs = trials.map((t, i) => {
    if (t.seq === undefined || !Number.isInteger(t.seq))
      throw new TypeError(`sampleForTrial (streams "optuna"): observation ${i} has no seq`);
    return t.seq;
  });
  const streams = optunaStreams(options.seed);
  for (let k = 0; k < options.seq; k++)
    sampleParams(
      space,
      trials.filter((_, i) => (seqs[i] as number) < k - lag),
      options,
      streams,
    );
  return sampleParams(space, trials, options, streams);
}

/**
 * A stateful sampler with Optuna's stream handling: from the same seed and the same history
 * it proposes what `optuna.samplers.TPESampler(seed=seed, ...)` proposes.
 */
export class TPESampler {
  private readonly streams: SamplerStreams;
  constructor(readonly options: TpeOptions & { readonly seed: number }) {
    this.streams = optunaStreams(options.seed);
  }
  sample(space: SearchSpace, trials: readonly TrialObservation[]): Params {
    return sampleParams(space, trials, this.options, this.streams);
  }
}
