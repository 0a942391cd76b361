/**
 * Seeded pseudo-random numbers: the MT19937 generator with the same seeding and the same
 * double construction as NumPy's legacy `RandomState(seed)` (an integer seed goes through
 * `init_genrand`; a double takes 27 + 26 bits of two draws), so a sampler driven by it can be
 * compared draw for draw with Optuna's.
 */

const N = 624;
const M = 397;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;
const MATRIX_A = 0x9908b0df;

export class MT19937 {
  private readonly mt = new Uint32Array(N);
  private index = N;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new RangeError(`seed must be an integer in [0, 2**32 - 1], got ${seed}`);
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] as number;
      mt[i] = (Math.imul(1812433253, (prev ^ (prev >>> 30)) >>> 0) + i) >>> 0;
    }
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = ((mt[i] as number) & UPPER) | ((mt[(i + 1) % N] as number) & LOWER);
      let v = (mt[(i + M) % N] as number) ^ (y >>> 1);
      if (y & 1) v ^= MATRIX_A;
      mt[i] = v >>> 0;
    }
    this.index = 0;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++] as number;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) with 53 random bits (NumPy `random_sample`). */
  random(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  /** `low + (high - low) * u` (NumPy `uniform`). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.random();
  }

  /**
   * `size` indices drawn with probabilities `p` (NumPy legacy `choice(len(p), size, p=p)`):
   * cumulative sum normalised by its last entry, then a right-sided search per uniform.
   */
  choice(p: readonly number[], size: number): number[] {
    const cdf = new Array<number>(p.length);
    let acc = 0;
    for (let i = 0; i < p.length; i++) cdf[i] = acc += p[i] as number;
    const last = cdf[p.length - 1] as number;
    for (let i = 0; i < p.length; i++) cdf[i] = (cdf[i] as number) / last;
    const out = new Array<number>(size);
    for (let s = 0; s < size; s++) {
      const u = this.random();
      // first index with cdf[i] > u
      let lo = 0;
      let hi = cdf.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((cdf[mid] as number) <= u) lo = mid + 1;
        else hi = mid;
      }
      out[s] = lo;
    }
    return out;
  }
}

/** 32-bit finaliser (MurmurHash3 fmix32): spreads the bits of a 32-bit value. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit seed derived from a study seed and a stream index (e.g. a trial's sequence
 * number), so each trial has its own independent, reproducible stream whoever runs it.
 */
export function deriveSeed(seed: number, index: number, salt = 0): number {
  let h = fmix32((seed >>> 0) ^ 0x9e3779b9);
  h = fmix32((h ^ Math.imul((index >>> 0) + 1, 0x27d4eb2f)) >>> 0);
  h = fmix32((h ^ Math.imul(salt + 1, 0x165667b1)) >>> 0);
  return h;
}
