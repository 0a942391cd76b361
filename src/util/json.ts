// JSON that keeps non-finite numbers: a scheduler's "best" starts at Infinity and a diverged run's
// metrics are NaN, both of which JSON.stringify would silently turn into null. Checkpoint
// metadata, run folders (config, summary, resume state) and `eval --json` write through these.

/** JSON.stringify that keeps Infinity/-Infinity/NaN (as {"$number": "Infinity"}). */
export function stringifyJson(v: unknown, space?: number): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? { $number: String(x) } : x), space);
}

/** Inverse of `stringifyJson`. */
export function parseJson<T>(text: string): T {
  return JSON.parse(text, (_k, x: unknown) => {
    if (typeof x === 'object' && x !== null && !Array.isArray(x)) {
      const keys = Object.keys(x);
      if (keys.length === 1 && keys[0] === '$number') return Number((x as { $number: string }).$number);
    }
    return x;
  }) as T;
}
