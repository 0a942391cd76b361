// Explicit lifetimes for native tensors (V8's GC cannot see their size):
//  - tidy(fn) disposes every tensor created inside fn except those it returns (or keep()s);
//  - noGrad(fn) runs fn with autograd recording off;
//  - a finalizer in the addon frees whatever is forgotten, as a backstop.
// Scopes are synchronous on purpose: an async fn would let tensors escape into other
// scopes between awaits, so tidy() refuses a Promise instead of leaking silently.
import { N } from './native.js';

export const TENSOR_BRAND: unique symbol = Symbol.for('tunevlseg.Tensor');

export interface Trackable {
  readonly [TENSOR_BRAND]: true;
  dispose(): void;
  readonly isDisposed: boolean;
}

const scopes: Set<Trackable>[] = [];
const kept = new WeakSet<Trackable>();

/** Called by every Tensor constructor. */
export function track(t: Trackable): void {
  const s = scopes[scopes.length - 1];
  if (s !== undefined) s.add(t);
}

/** Removes a tensor from every enclosing scope so that it outlives them (parameters, caches). */
export function keep<T extends Trackable>(t: T): T {
  kept.add(t);
  for (const s of scopes) s.delete(t);
  return t;
}

function isTrackable(v: unknown): v is Trackable {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[TENSOR_BRAND] === true;
}

/** Every tensor reachable through arrays, plain objects and Maps (what tidy may return). */
function collect(v: unknown, out: Set<Trackable>, depth = 0): void {
  if (depth > 8 || v === null || typeof v !== 'object') return;
  if (isTrackable(v)) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, depth + 1);
}

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Trackable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (isThenable(result)) {
    for (const t of scope) t.dispose();
    throw new Error(
      'tidy() was given an async function: tensors created after an await would escape the scope. ' +
        'Run the synchronous tensor work inside tidy() and await outside it; keep() tensors that must live longer.',
    );
  }
  const out = new Set<Trackable>();
  collect(result, out);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (out.has(t)) {
      if (parent !== undefined && !kept.has(t)) parent.add(t);
    } else if (!kept.has(t)) {
      t.dispose();
    }
  }
  return result;
}

/** Runs fn with gradient recording disabled (like torch.no_grad()). */
export function noGrad<T>(fn: () => T): T {
  const prev = N.setGradEnabled(false) as boolean;
  try {
    const r = fn();
    if (isThenable(r)) throw new Error('noGrad() was given an async function; grad mode is per call, run the synchronous part inside it');
    return r;
  } finally {
    N.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording enabled (inside a noGrad region). */
export function enableGrad<T>(fn: () => T): T {
  const prev = N.setGradEnabled(true) as boolean;
  try {
    return fn();
  } finally {
    N.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return N.isGradEnabled() as boolean;
}

/** Disposes tensors found in any nesting of arrays/objects/Maps. */
export function dispose(v: unknown): void {
  const out = new Set<Trackable>();
  collect(v, out);
  for (const t of out) t.dispose();
}

export interface MemoryStats {
  liveTensors: number;
  peakTensors: number;
  liveBytes: number;
  peakBytes: number;
}

/** Live native tensors (handles not yet disposed or finalized): use it in leak tests. */
export function memoryStats(): MemoryStats {
  return N.memoryStats() as MemoryStats;
}
export function liveTensors(): number {
  return memoryStats().liveTensors;
}
export function resetPeakMemory(): void {
  N.resetPeak();
}
