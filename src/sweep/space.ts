/**
 * Search spaces as data.
 *
 * A space is a plain JSON-serialisable object, so a study can store it and every worker
 * reads the same one back:
 *
 * ```ts
 * const space: SearchSpace = {
 *   params: { optimizer: categorical(["adamw", "sgd"]), lr: float(1e-5, 5e-3, { log: true }) },
 *   when: { optimizer: { sgd: { params: { momentum: float(0, 0.99) } } } },
 * };
 * ```
 *
 * `params` are suggested in insertion order. `when[p][String(choice)]` is a sub-space that is
 * active only when the categorical parameter `p` (of this level or an enclosing one) took
 * `choice`; sub-spaces are walked after all `params` of their level, in the insertion order
 * of `when`. This covers "a space that is a function of earlier categorical choices" while
 * staying data. Semantics follow Optuna's distributions:
 * - float: uniform on [low, high]; `log` samples uniformly in log space (low > 0); `step`
 *   restricts to low + k*step (not with log).
 * - int: integers low..high with `step` (default 1); `log` (step must be 1, low >= 1).
 * - categorical: any of `choices` (strings, numbers, booleans or null); a choice listed twice is
 *   drawn more often at random and counted at its first position by TPE, as in Optuna.
 */
export type Choice = string | number | boolean | null;

export interface FloatDistribution {
  readonly type: 'float';
  readonly low: number;
  readonly high: number;
  readonly log?: boolean;
  readonly step?: number;
}

export interface IntDistribution {
  readonly type: 'int';
  readonly low: number;
  readonly high: number;
  readonly step?: number;
  readonly log?: boolean;
}

export interface CategoricalDistribution {
  readonly type: 'categorical';
  readonly choices: readonly Choice[];
}

export type Distribution = FloatDistribution | IntDistribution | CategoricalDistribution;

export interface SearchSpace {
  readonly params: Readonly<Record<string, Distribution>>;
  readonly when?: Readonly<Record<string, Readonly<Record<string, SearchSpace>>>>;
}

export type ParamValue = Choice;
export type Params = Record<string, ParamValue>;

// ---------------------------------------------------------------- constructors

export function float(low: number, high: number, opts: { log?: boolean; step?: number } = {}): FloatDistribution {
  const d: FloatDistribution = {
    type: 'float',
    low,
    high,
    ...(opts.log ? { log: true } : {}),
    ...(opts.step !== undefined ? { step: opts.step } : {}),
  };
  validateDistribution(d, 'float()');
  return d;
}

export function int(low: number, high: number, opts: { log?: boolean; step?: number } = {}): IntDistribution {
  const d: IntDistribution = {
    type: 'int',
    low,
    high,
    ...(opts.log ? { log: true } : {}),
    ...(opts.step !== undefined && opts.step !== 1 ? { step: opts.step } : {}),
  };
  validateDistribution(d, 'int()');
  return d;
}

export function categorical<const T extends Choice>(choices: readonly T[]): CategoricalDistribution {
  const d: CategoricalDistribution = { type: 'categorical', choices: [...choices] };
  validateDistribution(d, 'categorical()');
  return d;
}

// ---------------------------------------------------------------- validation

export class SpaceError extends Error {
  override name = 'SpaceError';
}

function fail(where: string, msg: string): never {
  throw new SpaceError(`${where}: ${msg}`);
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

export function validateDistribution(d: Distribution, where: string): void {
  if (d.type === 'categorical') {
    if (!Array.isArray(d.choices) || d.choices.length === 0) fail(where, 'categorical needs a non-empty `choices` array');
    // A choice may be listed twice, as Optuna allows: random sampling then draws it more often,
    // and its first position is the one TPE counts (the original's `choice(32, 129, 32)`).
    for (const c of d.choices) {
      const ok = c === null || typeof c === 'string' || typeof c === 'boolean' || isFiniteNumber(c);
      if (!ok) fail(where, `choice ${JSON.stringify(c)} is not a string, finite number, boolean or null`);
    }
    return;
  }
  if (d.type !== 'float' && d.type !== 'int')
    fail(where, `unknown type ${JSON.stringify((d as { type: unknown }).type)}; expected "float", "int" or "categorical"`);
  if (!isFiniteNumber(d.low) || !isFiniteNumber(d.high)) fail(where, '`low` and `high` must be finite numbers');
  if (!(d.low < d.high)) fail(where, `expected low < high, got low=${d.low} high=${d.high}`);
  if (d.log !== undefined && typeof d.log !== 'boolean') fail(where, '`log` must be a boolean');
  if (d.step !== undefined && (!isFiniteNumber(d.step) || d.step <= 0)) fail(where, '`step` must be a positive number');
  if (d.type === 'int') {
    if (!Number.isInteger(d.low) || !Number.isInteger(d.high)) fail(where, 'int bounds must be integers');
    if (d.step !== undefined && !Number.isInteger(d.step)) fail(where, 'int step must be an integer');
    if (d.log && d.step !== undefined && d.step !== 1) fail(where, 'int with log=true needs step 1');
    if (d.log && d.low < 1) fail(where, 'int with log=true needs low >= 1');
  } else {
    if (d.log && d.step !== undefined) fail(where, 'float cannot have both `log` and `step`');
    if (d.log && d.low <= 0) fail(where, 'float with log=true needs low > 0');
  }
}

/** Checks a space (e.g. read back from JSON) and returns it typed; errors name the path. */
export function parseSpace(raw: unknown, where = 'space'): SearchSpace {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(where, 'expected an object with `params`');
  const obj = raw as Record<string, unknown>;
  for (const k of Object.keys(obj))
    if (k !== 'params' && k !== 'when') fail(where, `unexpected key ${JSON.stringify(k)} (expected "params" and optional "when")`);
  const params = obj['params'];
  if (typeof params !== 'object' || params === null || Array.isArray(params))
    fail(`${where}.params`, 'expected an object of distributions');
  for (const [name, d] of Object.entries(params as Record<string, unknown>)) {
    if (typeof d !== 'object' || d === null) fail(`${where}.params.${name}`, 'expected a distribution object');
    validateDistribution(d as Distribution, `${where}.params.${name}`);
  }
  const when = obj['when'];
  if (when !== undefined) {
    if (typeof when !== 'object' || when === null || Array.isArray(when)) fail(`${where}.when`, 'expected an object');
    for (const [p, cases] of Object.entries(when as Record<string, unknown>)) {
      if (typeof cases !== 'object' || cases === null) fail(`${where}.when.${p}`, 'expected an object of sub-spaces keyed by choice');
      for (const [c, sub] of Object.entries(cases as Record<string, unknown>)) parseSpace(sub, `${where}.when.${p}.${c}`);
    }
  }
  checkNames(raw as SearchSpace, where, new Map());
  return raw as SearchSpace;
}

/** Parameter names must be unique along any path, and `when` keys must name a categorical above. */
function checkNames(space: SearchSpace, where: string, above: Map<string, Distribution>): void {
  const scope = new Map(above);
  for (const [name, d] of Object.entries(space.params)) {
    if (scope.has(name)) fail(`${where}.params.${name}`, 'parameter defined twice on one path');
    scope.set(name, d);
  }
  for (const [p, cases] of Object.entries(space.when ?? {})) {
    const d = scope.get(p);
    if (!d || d.type !== 'categorical') fail(`${where}.when.${p}`, `"${p}" must be a categorical parameter defined at this level or above`);
    const keys = new Set(d.choices.map(choiceKey));
    for (const [c, sub] of Object.entries(cases)) {
      if (!keys.has(c)) fail(`${where}.when.${p}.${c}`, `"${c}" is not one of the choices of "${p}" (${[...keys].join(', ')})`);
      checkNames(sub, `${where}.when.${p}.${c}`, scope);
    }
  }
}

// ---------------------------------------------------------------- helpers

/** The key a choice has in `when` maps: String(choice) ("true", "32", "null", "adamw"). */
export function choiceKey(c: Choice): string {
  return String(c);
}

export function distributionsEqual(a: Distribution, b: Distribution): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'categorical') {
    const bc = (b as CategoricalDistribution).choices;
    return a.choices.length === bc.length && a.choices.every((c, i) => c === bc[i]);
  }
  const bn = b as FloatDistribution | IntDistribution;
  const stepA = a.step ?? (a.type === 'int' ? 1 : undefined);
  const stepB = bn.step ?? (bn.type === 'int' ? 1 : undefined);
  return a.low === bn.low && a.high === bn.high && !!a.log === !!bn.log && stepA === stepB;
}

/** True when the distribution has a single possible value. */
export function isSingle(d: Distribution): boolean {
  if (d.type === 'categorical') return d.choices.length === 1;
  return d.low === d.high;
}

/** Internal (numeric) representation: the index for categoricals, the number otherwise. */
export function toInternal(d: Distribution, value: ParamValue): number {
  if (d.type === 'categorical') {
    const i = d.choices.findIndex((c) => c === value);
    if (i < 0) throw new SpaceError(`value ${JSON.stringify(value)} is not one of the choices ${JSON.stringify(d.choices)}`);
    return i;
  }
  if (typeof value !== 'number') throw new SpaceError(`expected a number, got ${JSON.stringify(value)}`);
  return value;
}

export function toExternal(d: Distribution, internal: number): ParamValue {
  if (d.type === 'categorical') return d.choices[internal] as Choice;
  return internal;
}

export function contains(d: Distribution, value: ParamValue): boolean {
  if (d.type === 'categorical') return d.choices.some((c) => c === value);
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (value < d.low || value > d.high) return false;
  if (d.type === 'int') {
    if (!Number.isInteger(value)) return false;
    const step = d.step ?? 1;
    return (value - d.low) % step === 0;
  }
  if (d.step !== undefined) {
    const k = (value - d.low) / d.step;
    return Math.abs(k - Math.round(k)) < 1e-8;
  }
  return true;
}

/**
 * Walks a space define-by-run style: `suggest(name, distribution, paramsSoFar)` gives each
 * active parameter's value in order; sub-spaces open according to the values chosen.
 */
export function walkSpace(space: SearchSpace, suggest: (name: string, d: Distribution, sofar: Readonly<Params>) => ParamValue): Params {
  const params: Params = {};
  const visit = (s: SearchSpace): void => {
    for (const [name, d] of Object.entries(s.params)) params[name] = suggest(name, d, params);
    for (const [p, cases] of Object.entries(s.when ?? {})) {
      if (!(p in params)) continue;
      const sub = cases[choiceKey(params[p] as Choice)];
      if (sub) visit(sub);
    }
  };
  visit(space);
  return params;
}

/**
 * The distributions active for a complete set of params, in suggestion order. Parameters of
 * `params` that the space does not know are ignored; missing ones throw.
 */
export function activeDistributions(space: SearchSpace, params: Readonly<Params>): Map<string, Distribution> {
  const out = new Map<string, Distribution>();
  walkSpace(space, (name, d) => {
    if (!(name in params)) throw new SpaceError(`parameter "${name}" is missing from ${JSON.stringify(params)}`);
    out.set(name, d);
    return params[name] as ParamValue;
  });
  return out;
}

/** Every parameter that can appear anywhere in the space, with its distribution (first seen). */
export function allDistributions(space: SearchSpace): Map<string, Distribution> {
  const out = new Map<string, Distribution>();
  const visit = (s: SearchSpace): void => {
    for (const [name, d] of Object.entries(s.params)) if (!out.has(name)) out.set(name, d);
    for (const cases of Object.values(s.when ?? {})) for (const sub of Object.values(cases)) visit(sub);
  };
  visit(space);
  return out;
}

/** Throws unless `params` is exactly the active set of the space with every value in range. */
export function checkParams(space: SearchSpace, params: Readonly<Params>): void {
  const active = activeDistributions(space, params);
  for (const [name, d] of active) {
    if (!contains(d, params[name] as ParamValue))
      throw new SpaceError(`parameter "${name}"=${JSON.stringify(params[name])} is outside ${JSON.stringify(d)}`);
  }
  for (const name of Object.keys(params))
    if (!active.has(name)) throw new SpaceError(`parameter "${name}" is not active in the space for ${JSON.stringify(params)}`);
}
