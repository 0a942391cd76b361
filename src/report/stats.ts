/** Small statistics used by the tables and figures. */

export interface Stat {
  /** Mean of the values. */
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); null for a single value. */
  std: number | null;
  n: number;
  values: number[];
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (Bessel-corrected); NaN below two values. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return Number.NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** Mean and sample std of finite values; null when there are none. */
export function stat(xs: readonly number[]): Stat | null {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return null;
  return { mean: mean(v), std: v.length > 1 ? std(v) : null, n: v.length, values: v };
}

export interface LinearFit {
  slope: number;
  intercept: number;
  /** Coefficient of determination; NaN when y is constant or x has fewer than two distinct values. */
  r2: number;
  n: number;
}

/** Ordinary least squares y = slope * x + intercept; null below two distinct x values. */
export function linearFit(xs: readonly number[], ys: readonly number[]): LinearFit | null {
  if (xs.length !== ys.length) throw new RangeError(`linearFit: ${xs.length} x values but ${ys.length} y values`);
  const n = xs.length;
  if (n < 2) return null;
  const mx = mean(xs);
  const my = mean(ys);
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let ssRes = 0;
  for (let i = 0; i < n; i++) {
    const r = ys[i]! - (slope * xs[i]! + intercept);
    ssRes += r * r;
  }
  const r2 = syy === 0 ? Number.NaN : 1 - ssRes / syy;
  return { slope, intercept, r2, n };
}

/** A small seeded generator (mulberry32) with Gaussian draws (Box-Muller). */
export class SeededRandom {
  private state: number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  gaussian(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}
