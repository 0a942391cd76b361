/**
 * Numerics for the TPE sampler: the error function, the log-CDF of the standard normal, the
 * truncated normal (log-pdf, quantile by bisection), and NumPy's summation and sorting
 * orders. Written to reproduce the floating-point behaviour of Optuna 3.1's TPE (which uses
 * NumPy plus its own `_erf`/`_truncnorm` helpers) closely enough that, from the same seed, the
 * same parameters come out: see test/sweep-tpe.test.ts.
 */

// ---------------------------------------------------------------- erf / erfc
// The classic rational approximations of Sun's fdlibm (s_erf.c); the coefficients are the
// published minimax constants of that algorithm.

const erx = 8.45062911510467529297e-1;
const efx = 1.28379167095512586316e-1;
const pp0 = 1.28379167095512558561e-1;
const pp1 = -3.2504210724700149937e-1;
const pp2 = -2.84817495755985104766e-2;
const pp3 = -5.77027029648944159157e-3;
const pp4 = -2.37630166566501626084e-5;
const qq1 = 3.97917223959155352819e-1;
const qq2 = 6.50222499887672944485e-2;
const qq3 = 5.08130628187576562776e-3;
const qq4 = 1.32494738004321644526e-4;
const qq5 = -3.9602282787753681232e-6;
const pa0 = -2.36211856075265944077e-3;
const pa1 = 4.14856118683748331666e-1;
const pa2 = -3.72207876035701323847e-1;
const pa3 = 3.18346619901161753674e-1;
const pa4 = -1.10894694282396677476e-1;
const pa5 = 3.54783043256182359371e-2;
const pa6 = -2.166375594868790843e-3;
const qa1 = 1.06420880400844228286e-1;
const qa2 = 5.40397917702171048937e-1;
const qa3 = 7.18286544141962662868e-2;
const qa4 = 1.26171219808761642112e-1;
const qa5 = 1.36370839120290507362e-2;
const qa6 = 1.1984499846799107417e-2;
const ra0 = -9.86494403484714822705e-3;
const ra1 = -6.93858572707181764372e-1;
const ra2 = -1.05586262253232909814e1;
const ra3 = -6.23753324503260060396e1;
const ra4 = -1.62396669462573470355e2;
const ra5 = -1.84605092906711035994e2;
const ra6 = -8.12874355063065934246e1;
const ra7 = -9.81432934416914548592;
const sa1 = 1.96512716674392571292e1;
const sa2 = 1.376577541435190426e2;
const sa3 = 4.34565877475229228821e2;
const sa4 = 6.45387271733267880336e2;
const sa5 = 4.29008140027567833386e2;
const sa6 = 1.08635005541779435134e2;
const sa7 = 6.57024977031928170135;
const sa8 = -6.04244152148580987438e-2;
const rb0 = -9.86494292470009928597e-3;
const rb1 = -7.99283237680523006574e-1;
const rb2 = -1.77579549177547519889e1;
const rb3 = -1.60636384855821916062e2;
const rb4 = -6.37566443368389627722e2;
const rb5 = -1.02509513161107724954e3;
const rb6 = -4.83519191608651397019e2;
const sb1 = 3.03380607434824582924e1;
const sb2 = 3.25792512996573918826e2;
const sb3 = 1.53672958608443695994e3;
const sb4 = 3.19985821950859553908e3;
const sb5 = 2.55305040643316442583e3;
const sb6 = 4.74528541206955367215e2;
const sb7 = -2.24409524465858183362e1;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE ? 1 : 0;
const LO = LITTLE ? 0 : 1;

/** x with the low 32 bits of its representation cleared (fdlibm SET_LOW_WORD(z, 0)). */
function clearLowWord(x: number): number {
  f64[0] = x;
  u32[LO] = 0;
  return f64[0] as number;
}

function smallPoly(z: number): number {
  // Estrin-like evaluation order of glibc's dbl-64 s_erf.c.
  const z2 = z * z;
  const z4 = z2 * z2;
  const r = pp0 + z * pp1 + z2 * (pp2 + z * pp3) + z4 * pp4;
  const s = 1 + z * qq1 + z2 * (qq2 + z * qq3) + z4 * (qq4 + z * qq5);
  return r / s;
}

function midRatio(s: number): number {
  const s2 = s * s;
  const s4 = s2 * s2;
  const s6 = s4 * s2;
  const P = pa0 + s * pa1 + s2 * (pa2 + s * pa3) + s4 * (pa4 + s * pa5) + s6 * pa6;
  const Q = 1 + s * qa1 + s2 * (qa2 + s * qa3) + s4 * (qa4 + s * qa5) + s6 * qa6;
  return P / Q;
}

/** exp(-x^2 - 0.5625 + R/S) for the tail range, with the split-exponent trick of fdlibm. */
function tailExp(ax: number): number {
  const s = 1 / (ax * ax);
  const s2 = s * s;
  const s4 = s2 * s2;
  const s6 = s4 * s2;
  let R: number;
  let S: number;
  if (ax < 1 / 0.35) {
    const s8 = s4 * s4;
    R = ra0 + s * ra1 + s2 * (ra2 + s * ra3) + s4 * (ra4 + s * ra5) + s6 * (ra6 + s * ra7);
    S = 1 + s * sa1 + s2 * (sa2 + s * sa3) + s4 * (sa4 + s * sa5) + s6 * (sa6 + s * sa7) + s8 * sa8;
  } else {
    R = rb0 + s * rb1 + s2 * (rb2 + s * rb3) + s4 * (rb4 + s * rb5) + s6 * rb6;
    S = 1 + s * sb1 + s2 * (sb2 + s * sb3) + s4 * (sb4 + s * sb5) + s6 * (sb6 + s * sb7);
  }
  const z = clearLowWord(ax);
  return Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + R / S);
}

/** erf(x), as the C library computes it (used where Optuna calls `math.erf`). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 2 ** -28) return x + efx * x;
    return x + x * smallPoly(x * x);
  }
  if (ax < 1.25) {
    const pq = midRatio(ax - 1);
    return x >= 0 ? erx + pq : -erx - pq;
  }
  if (ax >= 6) return x >= 0 ? 1 : -1;
  const r = tailExp(ax);
  return x >= 0 ? 1 - r / ax : r / ax - 1;
}

/** erfc(x) = 1 - erf(x) without cancellation (used where Optuna calls `math.erfc`). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 2 ** -56) return 1 - x;
    const y = smallPoly(x * x);
    if (x < 0.25) return 1 - (x + x * y);
    return 0.5 - (x * y + (x - 0.5));
  }
  if (ax < 1.25) {
    const pq = midRatio(ax - 1);
    return x >= 0 ? 1 - erx - pq : 1 + (erx + pq);
  }
  if (ax < 28) {
    if (x < -6) return 2;
    const r = tailExp(ax);
    return x > 0 ? r / ax : 2 - r / ax;
  }
  return x > 0 ? 0 : 2;
}

/**
 * The vectorised erf Optuna ships in `_erf.py` (Horner evaluation, and without the
 * split-exponent step in the tail); Optuna's `_ndtr` over arrays uses this one.
 */
export function erfOptuna(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 1;
  if (x === -Infinity) return -1;
  const a = Math.abs(x);
  if (a < 2 ** -28) return x + efx * x;
  if (a < 0.84375) {
    const z = x * x;
    const r = pp0 + z * (pp1 + z * (pp2 + z * (pp3 + z * pp4)));
    const s = 1 + z * (qq1 + z * (qq2 + z * (qq3 + z * (qq4 + z * qq5))));
    return x + x * (r / s);
  }
  const sign = Math.sign(x);
  if (a < 1.25) {
    const s = a - 1;
    const P = pa0 + s * (pa1 + s * (pa2 + s * (pa3 + s * (pa4 + s * (pa5 + s * pa6)))));
    const Q = 1 + s * (qa1 + s * (qa2 + s * (qa3 + s * (qa4 + s * (qa5 + s * qa6)))));
    return (erx + P / Q) * sign;
  }
  if (a >= 6) return sign;
  const s = 1 / (a * a);
  let R: number;
  let S: number;
  if (a < 1 / 0.35) {
    R = ra0 + s * (ra1 + s * (ra2 + s * (ra3 + s * (ra4 + s * (ra5 + s * (ra6 + s * ra7))))));
    S = 1 + s * (sa1 + s * (sa2 + s * (sa3 + s * (sa4 + s * (sa5 + s * (sa6 + s * (sa7 + s * sa8)))))));
  } else {
    R = rb0 + s * (rb1 + s * (rb2 + s * (rb3 + s * (rb4 + s * (rb5 + s * rb6)))));
    S = 1 + s * (sb1 + s * (sb2 + s * (sb3 + s * (sb4 + s * (sb5 + s * (sb6 + s * sb7))))));
  }
  const r = Math.exp(-a * a - 0.5625) * Math.exp(R / S);
  return (1 - r / a) * sign;
}

// ---------------------------------------------------------------- normal CDF in log space

const SQRT2 = 2 ** 0.5;
const LOG_SQRT_2PI = Math.log(Math.sqrt(2 * Math.PI));
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Phi(a), accurate in both tails (Optuna `_ndtr_single`). */
export function ndtr(a: number): number {
  const x = a / SQRT2;
  if (x < -1 / SQRT2) return 0.5 * erfc(-x);
  if (x < 1 / SQRT2) return 0.5 + 0.5 * erf(x);
  return 1.0 - 0.5 * erfc(x);
}

/** Phi(a) through Optuna's vectorised erf (Optuna `_ndtr`). */
export function ndtrFast(a: number): number {
  return 0.5 + 0.5 * erfOptuna(a / SQRT2);
}

/** log Phi(a), with the asymptotic series below -20 (Optuna `_log_ndtr_single`). */
export function logNdtr(a: number): number {
  if (a > 6) return -ndtr(-a);
  if (a > -20) return Math.log(ndtr(a));
  const logLHS = -0.5 * a ** 2 - Math.log(-a) - HALF_LOG_2PI;
  let lastTotal = 0;
  let rhs = 1;
  let numerator = 1;
  let denomFactor = 1;
  const denomCons = 1 / a ** 2;
  let sign = 1;
  let i = 0;
  while (Math.abs(lastTotal - rhs) > Number.EPSILON) {
    i += 1;
    lastTotal = rhs;
    sign = -sign;
    denomFactor *= denomCons;
    numerator *= 2 * i - 1;
    rhs += sign * numerator * denomFactor;
  }
  return logLHS + Math.log(rhs);
}

/** NumPy `logaddexp`. */
export function logAddExp(x: number, y: number): number {
  if (x === y) return x + Math.LN2;
  const d = x - y;
  if (d > 0) return x + Math.log1p(Math.exp(-d));
  if (d <= 0) return y + Math.log1p(Math.exp(d));
  return NaN;
}

function logDiff(logP: number, logQ: number): number {
  return logP + Math.log1p(-Math.exp(logQ - logP));
}

/** log(Phi(b) - Phi(a)) for a <= b, computed in the tail that keeps precision. */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) return logDiff(logNdtr(b), logNdtr(a));
  if (a > 0) return logDiff(logNdtr(-a), logNdtr(-b));
  return Math.log1p(-ndtrFast(a) - ndtrFast(-b));
}

function ndtriExp(y: number): number {
  // Bisection for log Phi(x) = y on [-100, 100], 100 halvings (Optuna `_ndtri_exp_single`).
  let lo = -100;
  let hi = 100;
  if (logNdtr(lo) > y) [lo, hi] = [hi, lo];
  let m = 0;
  for (let k = 0; k < 100; k++) {
    m = (lo + hi) / 2;
    if (logNdtr(m) < y) lo = m;
    else hi = m;
  }
  return m;
}

/** Quantile of the standard normal truncated to [a, b] at probability q. */
export function truncnormPpf(q: number, a: number, b: number): number {
  if (a === b) return NaN;
  if (q === 0) return a;
  if (q === 1) return b;
  if (a < 0) return ndtriExp(logAddExp(logNdtr(a), Math.log(q) + logGaussMass(a, b)));
  return -ndtriExp(logAddExp(logNdtr(-b), Math.log1p(-q) + logGaussMass(a, b)));
}

/** log density of N(loc, scale) truncated to [loc + a*scale, loc + b*scale], at x. */
export function truncnormLogPdf(x: number, a: number, b: number, loc: number, scale: number): number {
  const z = (x - loc) / scale;
  if (a === b) return NaN;
  if (z < a || b < z) return -Infinity;
  return -(z * z) / 2.0 - LOG_SQRT_2PI - logGaussMass(a, b);
}

// ---------------------------------------------------------------- NumPy conventions

/** `np.sum` of a contiguous float64 array: pairwise summation with 8 accumulators. */
export function npSum(a: ArrayLike<number>, start = 0, n = a.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i] as number;
    return res;
  }
  if (n <= 128) {
    const r = [0, 0, 0, 0, 0, 0, 0, 0];
    for (let j = 0; j < 8; j++) r[j] = a[start + j] as number;
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = (r[j] as number) + (a[start + i + j] as number);
    const [r0, r1, r2, r3, r4, r5, r6, r7] = r as [number, number, number, number, number, number, number, number];
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[start + i] as number;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return npSum(a, start, n2) + npSum(a, start + n2, n - n2);
}

/** `np.round` (round half to even). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** The largest double below x (`np.nextafter(x, x - 1)` for finite x). */
export function nextBelow(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  f64[0] = x;
  // step the 64-bit pattern by one toward -inf
  let lo = u32[LO] as number;
  let hi = u32[HI] as number;
  if (x > 0) {
    if (lo === 0) {
      lo = 0xffffffff;
      hi -= 1;
    } else lo -= 1;
  } else {
    if (lo === 0xffffffff) {
      lo = 0;
      hi += 1;
    } else lo += 1;
  }
  u32[LO] = lo;
  u32[HI] = hi;
  return f64[0] as number;
}

/**
 * `np.argsort(v)` with NumPy's default (introsort) order for ties: median-of-three quicksort
 * down to 16 elements, then insertion sort. Ties come out in NumPy's order, which decides
 * which of several equal observations gets which bandwidth in univariate TPE.
 */
export function npArgsort(v: readonly number[]): number[] {
  return npArgsortBy(v.length, (a, b) => npLess(v[a] as number, v[b] as number));
}

/** NumPy's `<` for sorting floats: NaN after every number. */
export function npLess(a: number, b: number): boolean {
  return a < b || (b !== b && a === a);
}

/**
 * `np.argsort` (default kind) of n items under `less(i, j)`: the same introsort as
 * `npArgsort`, which NumPy also runs for records (a structured array sorts field by field).
 */
export function npArgsortBy(n: number, lessAt: (i: number, j: number) => boolean): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const less = (a: number, b: number): boolean => lessAt(a, b);
  const swap = (i: number, j: number): void => {
    const t = idx[i] as number;
    idx[i] = idx[j] as number;
    idx[j] = t;
  };
  const at = (i: number): number => idx[i] as number;
  const stack: number[] = [];
  let pl = 0;
  let pr = n - 1;
  for (;;) {
    while (pr - pl > 15) {
      const pm = pl + ((pr - pl) >> 1);
      if (less(at(pm), at(pl))) swap(pm, pl);
      if (less(at(pr), at(pm))) swap(pr, pm);
      if (less(at(pm), at(pl))) swap(pm, pl);
      const vp = at(pm);
      let pi = pl;
      let pj = pr - 1;
      swap(pm, pj);
      for (;;) {
        do ++pi;
        while (less(at(pi), vp));
        do --pj;
        while (less(vp, at(pj)));
        if (pi >= pj) break;
        swap(pi, pj);
      }
      swap(pi, pr - 1);
      if (pi - pl < pr - pi) {
        stack.push(pi + 1, pr);
        pr = pi - 1;
      } else {
        stack.push(pl, pi - 1);
        pl = pi + 1;
      }
    }
    for (let pi = pl + 1; pi <= pr; pi++) {
      const vi = at(pi);
      let pj = pi;
      while (pj > pl && less(vi, at(pj - 1))) {
        idx[pj] = at(pj - 1);
        pj--;
      }
      idx[pj] = vi;
    }
    if (stack.length === 0) break;
    pr = stack.pop() as number;
    pl = stack.pop() as number;
  }
  return idx;
}
