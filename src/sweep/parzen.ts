/**
 * The Parzen estimator of TPE: a mixture with one kernel per observation plus an optional
 * prior kernel. Numerical parameters get truncated Gaussians (in log space for log
 * parameters; discretised for int/step parameters), categorical ones a smoothed one-hot
 * distribution. Semantics of Optuna 3.1's `_ParzenEstimator`, or of Optuna 2.10's (`version:
 * "2.10"`, the one the original's sweeps ran), which differs in two places:
 *
 * - the density of a continuous kernel: 2.10 has the truncated normal's full density, 3.0-3.4
 *   leave out its -log(sigma) term (Optuna fixed it in 3.5, commit 206e719), which makes wide
 *   kernels (the prior's) weigh more in l(x)/g(x);
 * - the mass of a discretised (int/step) kernel: 2.10 takes log(mass + 1e-12) - log(accepted
 *   + 1e-12) from erf-based CDFs, 3.1 the log-space Gaussian mass without the 1e-12;
 *
 * and 2.10 redraws a numerical candidate that lands on the upper bound (a truncated-normal
 * draw can round onto it), which takes more uniforms from the stream.
 */

import type { Distribution } from './space.js';
import { erf, npArgsort, npSum, roundHalfEven, truncnormLogPdf, truncnormPpf, logGaussMass } from './numerics.js';
import type { MT19937 } from './random.js';

const EPS = 1e-12;
const SIGMA0_MAGNITUDE = 0.2;

export interface ParzenParameters {
  readonly considerPrior: boolean;
  readonly priorWeight: number;
  readonly considerMagicClip: boolean;
  readonly considerEndpoints: boolean;
  readonly weights: (n: number) => readonly number[];
  readonly multivariate: boolean;
  /** Multivariate kernel width as a fraction of the range before Scott's n^(-1/(d+4)) (Optuna: 0.2). */
  readonly sigma0Magnitude?: number;
  /** Whose kernel densities: Optuna 3.1's (default) or 2.10's (see the file header). */
  readonly version?: '2.10' | '3.1';
}

/** Optuna 2.10's `_normal_cdf(x, mu, sigma)` (SciPy's erf there; the C library's here). */
function normalCdf210(x: number, mu: number, sigma: number): number {
  return 0.5 * (1 + erf((x - mu) / Math.max(Math.SQRT2 * sigma, EPS)));
}

/** log density of kernel (mu, sigma) on [low, high] at x, Optuna 2.10's formulas. */
function kernelLogPdf210(x: number, k: NumericKernel, mu: number, sigma: number): number {
  const pAccept = normalCdf210(k.high, mu, sigma) - normalCdf210(k.low, mu, sigma);
  if (k.q === null) {
    const mahalanobis = (x - mu) / Math.max(sigma, EPS);
    const z = Math.sqrt(2 * Math.PI) * sigma;
    return -0.5 * mahalanobis ** 2 + Math.log(1 / z / pAccept);
  }
  const upper = Math.min(x + k.q / 2.0, k.high);
  const lower = Math.max(x - k.q / 2.0, k.low);
  const mass = normalCdf210(upper, mu, sigma) - normalCdf210(lower, mu, sigma);
  return Math.log(mass + EPS) - Math.log(pAccept + EPS);
}

interface NumericKernel {
  kind: 'numeric';
  dist: Exclude<Distribution, { type: 'categorical' }>;
  low: number; // bounds of the kernel support, in the transformed (log) space
  high: number;
  q: number | null; // discretisation step, if any
  mus: number[];
  sigmas: number[];
}

interface CategoricalKernel {
  kind: 'categorical';
  nChoices: number;
  weights: number[][]; // [component][choice]
}

type Kernel = NumericKernel | CategoricalKernel;

/** Transformed-space bounds and step of a numerical distribution. */
function parzenBounds(d: Exclude<Distribution, { type: 'categorical' }>): { low: number; high: number; q: number | null } {
  if (d.type === 'float') {
    if (d.log) return { low: Math.log(d.low), high: Math.log(d.high), q: null };
    if (d.step !== undefined) return { low: d.low - 0.5 * d.step, high: d.high + 0.5 * d.step, q: d.step };
    return { low: d.low, high: d.high, q: null };
  }
  if (d.log) return { low: Math.log(d.low - 0.5), high: Math.log(d.high + 0.5), q: null };
  const step = d.step ?? 1;
  return { low: d.low - 0.5 * step, high: d.high + 0.5 * step, q: step };
}

function isLog(d: Distribution): boolean {
  return d.type !== 'categorical' && !!d.log;
}

/** Maps a value (internal representation) to the space kernels live in. */
function toKernelSpace(d: Distribution, x: number): number {
  return isLog(d) ? Math.log(x) : x;
}

/** Maps a kernel-space sample back to a value of the distribution (rounding, clipping). */
function fromKernelSpace(d: Distribution, x: number, q: number | null): number {
  if (d.type === 'categorical') return x;
  if (d.type === 'float') {
    if (d.log) return Math.exp(x);
    if (d.step !== undefined) return Math.min(Math.max(roundHalfEven((x - d.low) / (q as number)) * (q as number) + d.low, d.low), d.high);
    return x;
  }
  if (d.log) return Math.min(Math.max(roundHalfEven(Math.exp(x)), d.low), d.high);
  return Math.min(Math.max(roundHalfEven((x - d.low) / (q as number)) * (q as number) + d.low, d.low), d.high);
}

export class ParzenEstimator {
  private readonly space: ReadonlyMap<string, Distribution>;
  private readonly weights: number[];
  private readonly kernels = new Map<string, Kernel>();
  private readonly v210: boolean;

  /**
   * @param observations per parameter, the observed values in internal representation
   *   (category index for categoricals), all of the same length.
   */
  constructor(observations: ReadonlyMap<string, readonly number[]>, space: ReadonlyMap<string, Distribution>, params: ParzenParameters) {
    this.space = space;
    this.v210 = params.version === '2.10';
    const first = observations.values().next().value as readonly number[] | undefined;
    const n = first ? first.length : 0;
    const considerPrior = params.considerPrior || n === 0;

    // Mixture weights.
    const w = params.weights(n).slice(0, n);
    if (w.some((x) => x < 0)) throw new Error(`weights(${n}) returned a negative weight`);
    if (w.length > 0 && npSum(w) <= 0) throw new Error(`weights(${n}) returned all zeros`);
    if (w.some((x) => !Number.isFinite(x))) throw new Error(`weights(${n}) returned a non-finite weight`);
    const weights = considerPrior ? [...w, params.priorWeight] : [...w];
    const total = npSum(weights);
    this.weights = weights.map((x) => x / total);

    // Multivariate TPE uses one bandwidth per dimension by Scott's rule (as BOHB does).
    const sigma0 = params.multivariate ? (params.sigma0Magnitude ?? SIGMA0_MAGNITUDE) * Math.max(n, 1) ** (-1.0 / (space.size + 4)) : null;

    for (const [name, d] of space) {
      const obs = observations.get(name);
      if (!obs || obs.length !== n) throw new Error(`observations for "${name}" missing or of the wrong length`);
      if (d.type === 'categorical') {
        const k = d.choices.length;
        const rows = considerPrior ? n + 1 : n;
        const fill = params.priorWeight / rows;
        const cw: number[][] = [];
        for (let i = 0; i < rows; i++) {
          const row = new Array<number>(k).fill(fill);
          if (i < n) row[obs[i] as number] = (row[obs[i] as number] as number) + 1;
          const s = npSum(row);
          cw.push(row.map((x) => x / s));
        }
        this.kernels.set(name, { kind: 'categorical', nChoices: k, weights: cw });
        continue;
      }
      const { low, high, q } = parzenBounds(d);
      const xs = obs.map((x) => toKernelSpace(d, x));
      const mus = considerPrior ? [...xs, 0.5 * (low + high)] : [...xs];
      let sigmas: number[];
      if (sigma0 !== null) {
        sigmas = mus.map(() => sigma0 * (high - low));
      } else {
        // Univariate: each kernel is as wide as the larger gap to its sorted neighbours.
        const order = npArgsort(mus);
        const sorted = order.map((i) => mus[i] as number);
        const ext = [low, ...sorted, high];
        const sortedSigmas = sorted.map((_, i) =>
          Math.max((ext[i + 1] as number) - (ext[i] as number), (ext[i + 2] as number) - (ext[i + 1] as number)),
        );
        if (!params.considerEndpoints && ext.length >= 4) {
          sortedSigmas[0] = (ext[2] as number) - (ext[1] as number);
          sortedSigmas[sortedSigmas.length - 1] = (ext[ext.length - 2] as number) - (ext[ext.length - 3] as number);
        }
        sigmas = new Array<number>(mus.length);
        order.forEach((orig, pos) => {
          (sigmas as number[])[orig] = sortedSigmas[pos] as number;
        });
      }
      const maxSigma = 1.0 * (high - low);
      const minSigma = params.considerMagicClip ? (1.0 * (high - low)) / Math.min(100.0, 1.0 + mus.length) : EPS;
      sigmas = sigmas.map((s) => Math.min(Math.max(s, minSigma), maxSigma));
      if (considerPrior) sigmas[n] = 1.0 * (high - low);
      this.kernels.set(name, { kind: 'numeric', dist: d, low, high, q, mus, sigmas });
    }
  }

  /** Draws `size` points: component indices first, then each parameter in space order. */
  sample(rng: MT19937, size: number): Map<string, number[]> {
    const active = rng.choice(this.weights, size);
    const out = new Map<string, number[]>();
    for (const [name, d] of this.space) {
      const k = this.kernels.get(name) as Kernel;
      if (k.kind === 'categorical') {
        const us = Array.from({ length: size }, () => rng.random());
        out.set(
          name,
          active.map((c, i) => {
            const probs = k.weights[c] as number[];
            let cum = 0;
            let count = 0;
            for (const p of probs) {
              cum += p;
              if (cum < (us[i] as number)) count++;
            }
            return count;
          }),
        );
      } else {
        const draw = (): number[] => {
          const us = Array.from({ length: size }, () => rng.uniform(0, 1));
          return active.map((c, i) => {
            const mu = k.mus[c] as number;
            const sigma = k.sigmas[c] as number;
            return truncnormPpf(us[i] as number, (k.low - mu) / sigma, (k.high - mu) / sigma) * sigma + mu;
          });
        };
        const xs = draw();
        // Optuna 2.10 draws whole batches again until no candidate sits on the upper bound.
        while (this.v210 && xs.some((x) => x >= k.high)) {
          const again = draw();
          xs.forEach((x, i) => {
            if (x >= k.high) xs[i] = again[i] as number;
          });
        }
        out.set(
          name,
          xs.map((x) => fromKernelSpace(d, x, k.q)),
        );
      }
    }
    return out;
  }

  /** log density of the mixture at each sample (values in internal representation). */
  logPdf(samples: ReadonlyMap<string, readonly number[]>): number[] {
    const first = samples.values().next().value as readonly number[] | undefined;
    const m = first ? first.length : 0;
    const nc = this.weights.length;
    if (m === 0) return [];
    if (this.space.size === 1) {
      // A lone categorical: the mixture's probability of each choice, directly.
      const [name] = this.space.keys() as IterableIterator<string>;
      const k = this.kernels.get(name as string) as Kernel;
      if (k.kind === 'categorical') {
        const xs = samples.get(name as string) as readonly number[];
        return xs.map((x) => {
          let p = 0;
          for (let c = 0; c < nc; c++) p += ((k.weights[c] as number[])[x] as number) * (this.weights[c] as number);
          return Math.log(p);
        });
      }
    }
    const comp: number[][] = Array.from({ length: m }, () => new Array<number>(nc).fill(0));
    for (const [name, d] of this.space) {
      const k = this.kernels.get(name) as Kernel;
      const xs = (samples.get(name) as readonly number[]).map((x) => toKernelSpace(d, x));
      if (k.kind === 'categorical') {
        for (let i = 0; i < m; i++) {
          const row = comp[i] as number[];
          for (let c = 0; c < nc; c++) row[c] = (row[c] as number) + Math.log((k.weights[c] as number[])[xs[i] as number] as number);
        }
        continue;
      }
      if (this.v210) {
        for (let i = 0; i < m; i++) {
          const row = comp[i] as number[];
          for (let c = 0; c < nc; c++)
            row[c] = (row[c] as number) + kernelLogPdf210(xs[i] as number, k, k.mus[c] as number, k.sigmas[c] as number);
        }
        continue;
      }
      const as = k.mus.map((mu, c) => (k.low - mu) / (k.sigmas[c] as number));
      const bs = k.mus.map((mu, c) => (k.high - mu) / (k.sigmas[c] as number));
      const logAccept = k.q === null ? null : as.map((a, c) => logGaussMass(a, bs[c] as number));
      for (let i = 0; i < m; i++) {
        const x = xs[i] as number;
        const row = comp[i] as number[];
        for (let c = 0; c < nc; c++) {
          const mu = k.mus[c] as number;
          const sigma = k.sigmas[c] as number;
          let lp: number;
          if (k.q === null) {
            lp = truncnormLogPdf(x, as[c] as number, bs[c] as number, mu, sigma);
          } else {
            const upper = Math.min(x + k.q / 2.0, k.high);
            const lower = Math.max(x - k.q / 2.0, k.low);
            lp = logGaussMass((lower - mu) / sigma, (upper - mu) / sigma) - ((logAccept as number[])[c] as number);
          }
          row[c] = (row[c] as number) + lp;
        }
      }
    }
    const logW = this.weights.map((w) => Math.log(w));
    return comp.map((row) => {
      const wl = row.map((v, c) => v + (logW[c] as number));
      const mx = Math.max(...wl);
      return Math.log(npSum(wl.map((v) => Math.exp(v - mx)))) + mx;
    });
  }
}
