// Tensor comparison with the fixtures README's tolerances.
import { tidy, type Tensor } from '../torch/index.js';

export interface Tolerance {
  atol: number;
  rtol: number;
  /** 'element': |a-b| <= atol + rtol*|b| per element; 'tensorMax': |a-b| <= atol + rtol*max|b| (gradients). */
  mode?: 'element' | 'tensorMax';
}

/** The fixtures README's suggested tolerances (~10-20x the observed fp32 vs fp64 noise). */
export const TOL = {
  activations: { atol: 1e-4, rtol: 1e-4 } as Tolerance,
  logits: { atol: 1e-4, rtol: 1e-4 } as Tolerance,
  loss: { atol: 1e-6, rtol: 0 } as Tolerance,
  grads: { atol: 1e-5, rtol: 1e-3, mode: 'tensorMax' } as Tolerance,
  adamw: { atol: 1e-4, rtol: 0 } as Tolerance,
  exact: { atol: 0, rtol: 0 } as Tolerance,
};

export interface TensorReport {
  pass: boolean;
  max_abs: number;
  max_rel: number;
  shape?: number[];
  error?: string;
}

/** Compares two tensors element-wise on the CPU in float64. */
export function compareTensors(actual: Tensor, expected: Tensor, tol: Tolerance): TensorReport {
  const as = actual.shape,
    es = expected.shape;
  if (as.length !== es.length || as.some((v, i) => v !== es[i])) {
    return { pass: false, max_abs: Infinity, max_rel: Infinity, error: `shape [${as.join(', ')}] != expected [${es.join(', ')}]` };
  }
  const [a, b] = tidy(() => [actual.to('float64').toTypedArray() as Float64Array, expected.to('float64').toTypedArray() as Float64Array]);
  return compareArrays(a, b, tol, as);
}

export function compareArrays(a: ArrayLike<number>, b: ArrayLike<number>, tol: Tolerance, shape?: number[]): TensorReport {
  if (a.length !== b.length) return { pass: false, max_abs: Infinity, max_rel: Infinity, error: `length ${a.length} != ${b.length}` };
  let maxAbs = 0,
    maxRel = 0,
    maxB = 0,
    ok = true;
  for (let i = 0; i < b.length; i++) maxB = Math.max(maxB, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!,
      y = b[i]!;
    const d = Math.abs(x - y);
    if (Number.isNaN(x) !== Number.isNaN(y)) ok = false;
    if (!Number.isFinite(d) && x !== y) ok = false;
    if (d > maxAbs) maxAbs = d;
    const rel = d / Math.max(Math.abs(y), 1e-12);
    if (d > 0 && rel > maxRel) maxRel = rel;
    const bound = tol.atol + tol.rtol * (tol.mode === 'tensorMax' ? maxB : Math.abs(y));
    if (d > bound) ok = false;
  }
  return { pass: ok, max_abs: maxAbs, max_rel: maxRel, shape };
}

/** A check that failed for a reason other than numbers (a missing tensor, a wrong name). */
export function fail(error: string): TensorReport {
  return { pass: false, max_abs: Infinity, max_rel: Infinity, error };
}

/** A check that passed exactly (names, hashes). */
export function ok(): TensorReport {
  return { pass: true, max_abs: 0, max_rel: 0 };
}

/** A fixture's list of trainable tensors (case.json `trainable_parameters`). */
export interface ListedParameter {
  name: string;
  shape: number[];
}

/**
 * Our trainable tensors against the fixture's: the same names (none missing, none extra) with the
 * same shapes, and the same count when the fixture gives one.
 */
export function compareTrainable(
  trainable: ReadonlyMap<string, { shape: readonly number[] }>,
  listed: readonly ListedParameter[],
  count: number,
  expectedCount: unknown,
): { trainable_names: TensorReport; trainable_count?: TensorReport } {
  const missing = listed.filter((p) => !trainable.has(p.name)).map((p) => p.name);
  const extra = [...trainable.keys()].filter((k) => !listed.some((p) => p.name === k)).sort();
  const badShape = listed.filter((p) => trainable.has(p.name) && trainable.get(p.name)!.shape.join(',') !== p.shape.join(','));
  const shapes = badShape.map((p) => `${p.name} [${trainable.get(p.name)!.shape.join(', ')}] != [${p.shape.join(', ')}]`).join(', ');
  const trainable_names =
    missing.length || extra.length || badShape.length
      ? fail(`missing ${missing.join(', ') || '-'}; unexpected ${extra.join(', ') || '-'}; shapes ${shapes || '-'}`)
      : ok();
  return {
    trainable_names,
    ...(typeof expectedCount === 'number' ? { trainable_count: compareArrays([count], [expectedCount], TOL.exact) } : {}),
  };
}
