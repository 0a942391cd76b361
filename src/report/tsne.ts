/**
 * Exact t-SNE (van der Maaten & Hinton, 2008), for Fig. 4 (CLIP text and image embeddings of
 * every dataset). O(n²) memory and time per iteration: meant for up to a few thousand points.
 *
 * - Input affinities: for each point a Gaussian kernel over squared Euclidean distances whose
 *   precision beta_i is found by binary search so that the conditional distribution P(.|i)
 *   has entropy log(perplexity) (natural log); then P = (P + Pᵀ) / 2n.
 * - Output: Student-t (1 degree of freedom) similarities Q; gradient
 *   dC/dy_i = 4 Σ_j (p_ij - q_ij)(y_i - y_j)(1 + |y_i - y_j|²)⁻¹.
 * - Optimisation as in the reference implementation and scikit-learn: early exaggeration
 *   (P × 12 for the first 250 iterations), momentum 0.5 then 0.8, per-coordinate gains
 *   (+0.2 when the gradient changes sign, × 0.8 otherwise, at least 0.01), learning rate
 *   "auto" = max(n / exaggeration / 4, 50), the embedding re-centred after each step.
 * - Seeded: the initial embedding is N(0, 1e-4²) from a seeded generator, so the same input
 *   and seed give the same output.
 */
import { SeededRandom } from './stats.js';

export interface TsneOptions {
  /** Target perplexity (effective number of neighbours). Default 30; clamped to (n - 1) / 3. */
  perplexity?: number;
  /** Output dimensions. Default 2. */
  dims?: number;
  /** Gradient-descent iterations. Default 1000. */
  iterations?: number;
  /** Learning rate, or 'auto' (default). */
  learningRate?: number | 'auto';
  /** Factor on P during early exaggeration. Default 12. */
  earlyExaggeration?: number;
  /** Iterations with exaggeration (and momentum 0.5). Default 250. */
  exaggerationIterations?: number;
  initialMomentum?: number;
  finalMomentum?: number;
  /** Seed of the initial embedding. Default 0. */
  seed?: number;
  /** Binary-search tolerance on the entropy (nats). Default 1e-5. */
  tolerance?: number;
}

export interface TsneResult {
  /** n x dims, row-major. */
  embedding: Float64Array;
  n: number;
  dims: number;
  /** KL(P || Q) at the end. */
  kl: number;
  /** The perplexity used (after clamping). */
  perplexity: number;
  iterations: number;
}

/** Squared Euclidean distances, n x n row-major. */
export function squaredDistances(points: ReadonlyArray<ArrayLike<number>>): Float64Array {
  const n = points.length;
  const d = points[0]?.length ?? 0;
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const a = points[i]!;
    if (a.length !== d) throw new RangeError(`t-SNE: point ${i} has ${a.length} dimensions, expected ${d}`);
    for (let j = i + 1; j < n; j++) {
      const b = points[j]!;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = a[k]! - b[k]!;
        s += t * t;
      }
      D[i * n + j] = s;
      D[j * n + i] = s;
    }
  }
  return D;
}

export interface Affinities {
  /** Conditional P(j|i), row i, n x n (diagonal 0; each row sums to 1). */
  conditional: Float64Array;
  /** The precision beta_i = 1 / (2 sigma_i²) of each row. */
  beta: Float64Array;
  /** The entropy (nats) reached by each row. */
  entropy: Float64Array;
}

/**
 * Per-point Gaussian affinities with entropy log(perplexity), by binary search on the
 * precision (distances are shifted by the row's minimum for numerical stability, which
 * leaves the normalised row unchanged).
 */
export function calibrateAffinities(D: Float64Array, n: number, perplexity: number, tolerance = 1e-5, maxIter = 200): Affinities {
  if (D.length !== n * n) throw new RangeError(`calibrateAffinities: ${D.length} distances for n = ${n}`);
  if (!(perplexity > 0)) throw new RangeError(`calibrateAffinities: perplexity must be positive, got ${perplexity}`);
  const P = new Float64Array(n * n);
  const betas = new Float64Array(n);
  const entropies = new Float64Array(n);
  const target = Math.log(perplexity);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let dmin = Infinity;
    for (let j = 0; j < n; j++) if (j !== i && D[i * n + j]! < dmin) dmin = D[i * n + j]!;
    if (!Number.isFinite(dmin)) dmin = 0;
    let beta = 1;
    let lo = -Infinity;
    let hi = Infinity;
    let H = 0;
    // Scale the starting precision to the data: 1 / mean shifted distance.
    let meanD = 0;
    for (let j = 0; j < n; j++) if (j !== i) meanD += D[i * n + j]! - dmin;
    meanD /= Math.max(1, n - 1);
    if (meanD > 0) beta = 1 / meanD;
    for (let it = 0; it < maxIter; it++) {
      let sum = 0;
      let sumDP = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) {
          row[j] = 0;
          continue;
        }
        const dj = D[i * n + j]! - dmin;
        const p = Math.exp(-dj * beta);
        row[j] = p;
        sum += p;
        sumDP += dj * p;
      }
      // H = log(sum) + beta * E[d] (shifted distances; the shift cancels).
      H = Math.log(sum) + (beta * sumDP) / sum;
      const diff = H - target;
      if (Math.abs(diff) < tolerance) break;
      if (diff > 0) {
        // Too flat: raise the precision.
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
      }
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += row[j]!;
    for (let j = 0; j < n; j++) P[i * n + j] = row[j]! / sum;
    betas[i] = beta;
    entropies[i] = H;
  }
  return { conditional: P, beta: betas, entropy: entropies };
}

/** Entropy (nats) of row i of a row-stochastic n x n matrix. */
export function rowEntropy(P: Float64Array, n: number, i: number): number {
  let h = 0;
  for (let j = 0; j < n; j++) {
    const p = P[i * n + j]!;
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}

/** Embeds points (all of the same dimension) in `dims` dimensions. */
export function tsne(points: ReadonlyArray<ArrayLike<number>>, o: TsneOptions = {}): TsneResult {
  const n = points.length;
  const dims = o.dims ?? 2;
  const iterations = o.iterations ?? 1000;
  if (n === 0) return { embedding: new Float64Array(0), n, dims, kl: 0, perplexity: 0, iterations: 0 };
  const rng = new SeededRandom(o.seed ?? 0);
  if (n === 1) return { embedding: new Float64Array(dims), n, dims, kl: 0, perplexity: 0, iterations: 0 };
  const perplexity = Math.max(1, Math.min(o.perplexity ?? 30, (n - 1) / 3));
  const D = squaredDistances(points);
  const { conditional } = calibrateAffinities(D, n, perplexity, o.tolerance ?? 1e-5);
  // Symmetrise.
  const P = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const p = Math.max((conditional[i * n + j]! + conditional[j * n + i]!) / (2 * n), 1e-12);
      P[i * n + j] = p;
      P[j * n + i] = p;
    }
  }
  const exaggeration = o.earlyExaggeration ?? 12;
  const exIters = Math.min(o.exaggerationIterations ?? 250, iterations);
  const lr = o.learningRate === undefined || o.learningRate === 'auto' ? Math.max(n / exaggeration / 4, 50) : o.learningRate;
  const m0 = o.initialMomentum ?? 0.5;
  const m1 = o.finalMomentum ?? 0.8;

  const Y = new Float64Array(n * dims);
  for (let k = 0; k < Y.length; k++) Y[k] = rng.gaussian() * 1e-4;
  const update = new Float64Array(n * dims);
  const gains = new Float64Array(n * dims).fill(1);
  const grad = new Float64Array(n * dims);
  const num = new Float64Array(n * n);

  for (let it = 0; it < iterations; it++) {
    const ex = it < exIters ? exaggeration : 1;
    const momentum = it < exIters ? m0 : m1;
    // Student-t kernel.
    let sumNum = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let d2 = 0;
        for (let k = 0; k < dims; k++) {
          const t = Y[i * dims + k]! - Y[j * dims + k]!;
          d2 += t * t;
        }
        const q = 1 / (1 + d2);
        num[i * n + j] = q;
        num[j * n + i] = q;
        sumNum += 2 * q;
      }
    }
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const w = num[i * n + j]!;
        const mult = (ex * P[i * n + j]! - Math.max(w / sumNum, 1e-12)) * w;
        for (let k = 0; k < dims; k++) grad[i * dims + k] += 4 * mult * (Y[i * dims + k]! - Y[j * dims + k]!);
      }
    }
    for (let k = 0; k < Y.length; k++) {
      const g = grad[k]!;
      const u = update[k]!;
      gains[k] = Math.sign(g) !== Math.sign(u) ? gains[k]! + 0.2 : Math.max(gains[k]! * 0.8, 0.01);
      update[k] = momentum * u - lr * gains[k]! * g;
      Y[k] += update[k]!;
    }
    // Re-centre.
    for (let k = 0; k < dims; k++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += Y[i * dims + k]!;
      m /= n;
      for (let i = 0; i < n; i++) Y[i * dims + k] -= m;
    }
  }
  return { embedding: Y, n, dims, kl: klDivergence(P, Y, n, dims), perplexity, iterations };
}

/** KL(P || Q) of a symmetric joint P and an embedding Y. */
export function klDivergence(P: Float64Array, Y: Float64Array, n: number, dims: number): number {
  let sumNum = 0;
  const num = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      let d2 = 0;
      for (let k = 0; k < dims; k++) {
        const t = Y[i * dims + k]! - Y[j * dims + k]!;
        d2 += t * t;
      }
      num[i * n + j] = 1 / (1 + d2);
      sumNum += num[i * n + j]!;
    }
  }
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const p = P[i * n + j]!;
      if (p > 0) kl += p * Math.log(p / Math.max(num[i * n + j]! / sumNum, 1e-300));
    }
  }
  return kl;
}
