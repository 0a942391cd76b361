/**
 * The ONNX graph tracer. Every op reaches libtorch through the addon object `N` (src/torch/
 * native.ts); while a trace runs, each of its functions is swapped for a recorder, so the model
 * code runs once, unchanged, eagerly, and the tracer sees each op with its real inputs.
 *
 * - A value computed only from constants (weights, token ids, the text tower for a fixed prompt)
 *   is never recorded: it is folded, i.e. stored as an initializer the first time an
 *   input-dependent op consumes it. Only ops downstream of the graph inputs become nodes.
 * - Dynamic batch: the forward runs twice, at two batch sizes. Integer arguments that differ
 *   (a reshape to [B·h·w, C], a slice to B) are fitted as a·batch + c and computed from the
 *   input's shape in the graph; a folded constant whose shape follows the batch (the prompt's
 *   token ids repeated per image) must repeat one block along one dimension, and is stored once
 *   and tiled to the batch in the graph.
 * - An op with an input-dependent argument and no exporter (ops.ts) fails, naming the op; so do
 *   reads of input-dependent data (item, toBuffer: data-dependent control flow).
 */
import { N, type NativeHandle } from '../native.js';
import type { Tensor } from '../tensor.js';
import { tidy } from '../scope.js';
import { dtypeFromCode, dtypeCode, type DType } from '../dtype.js';
import { OnnxGraph } from './graph.js';
import { EXPORTERS } from './ops.js';
import { OnnxExportError, SymInt, Val, type ExportCtx, type OpArg } from './ctx.js';
import { rangeOf } from './ops-shape.js';

/** Calls that only read metadata or manage lifetime/threads: never recorded. */
const METADATA = new Set([
  'NativeTensor',
  'shape',
  'dtype',
  'device',
  'requiresGrad',
  'isContiguous',
  'isLeaf',
  'numel',
  'isDisposed',
  'dispose',
  'memoryStats',
  'resetPeak',
  'setRequiresGrad',
  'grad',
  'setGrad',
  'setGradEnabled',
  'isGradEnabled',
  'setNumThreads',
  'synchronize',
  'getNumThreads',
  'config',
  'manualSeed',
]);
/** Calls that read tensor data into JS: fine on constants, untraceable on input-dependent tensors. */
const DATA_READS = new Set(['item', 'toBuffer', 'viewBuffer', 'allclose']);
/** In-place ops: they return nothing and rebind their first argument to the new value. */
const INPLACE = new Set([
  'normal_',
  'uniform_',
  'copy_',
  'zero_',
  'fill_',
  'setData',
  'add_',
  'sub_',
  'mul_',
  'div_',
  'addcmul_',
  'addcdiv_',
  'lerp_',
  'clamp_',
  'sqrt_',
  'indexPut_',
  'sliceAssign_',
]);

interface Meta {
  shape: number[];
  dtype: DType;
}
/** A tensor argument as recorded: its id, its metadata and (constants consumed by a dynamic op) its bytes. */
class Ref {
  constructor(
    readonly id: number,
    readonly meta: Meta,
    readonly snap: number | null,
  ) {}
}
interface Snapshot {
  bytes: Uint8Array;
  meta: Meta;
}
interface Call {
  op: string;
  args: unknown[];
  outs: number[];
  outMeta: Meta[];
  dynamic: boolean;
}

export interface TraceSpec {
  /** Graph inputs for a batch size (dimension 0 of every input is the batch). */
  inputs: (batch: number) => Tensor[];
  inputNames: string[];
  /** The forward pass, run eagerly under the tracer. */
  forward: (inputs: Tensor[]) => Tensor[];
  outputNames: string[];
  /** The two batch sizes the forward runs at (default [2, 3]). */
  batchSizes?: [number, number];
  /** Default 17. */
  opset?: number;
  /** Store float32 weights as float16 (cast back to float32 in the graph): half the file. */
  weightsFloat16?: boolean;
  docString?: string;
  metadata?: Record<string, string>;
  /** Called as each phase starts (a full-size trace takes minutes on a CPU). */
  onPhase?: (phase: string) => void;
}

export interface TraceResult {
  /** The serialized ModelProto. */
  model: Uint8Array;
  /** Node count per ONNX op type. */
  nodeCounts: Record<string, number>;
  /** Recorded (input-dependent) libtorch ops. */
  tracedOps: number;
  initializerBytes: number;
}

const isHandle = (v: unknown): v is NativeHandle => v instanceof (N.NativeTensor as unknown as new () => object);

/** Runs `fn` with every addon function replaced by `hook(name, real, args)`. */
function withHook<T>(hook: (name: string, real: (...a: unknown[]) => unknown, args: unknown[]) => unknown, fn: () => T): T {
  const saved = new Map<string, (...a: unknown[]) => unknown>();
  for (const [k, f] of Object.entries(N)) {
    if (typeof f !== 'function' || k === 'NativeTensor') continue;
    saved.set(k, f);
    N[k] = (...args: unknown[]) => hook(k, f, args);
  }
  try {
    return fn();
  } finally {
    for (const [k, f] of saved) N[k] = f;
  }
}

class Recorder {
  readonly calls: Call[] = [];
  readonly snapshots: Snapshot[] = [];
  readonly #ids = new WeakMap<object, number>();
  readonly #snapOf = new Map<number, number>();
  readonly dynamic = new Set<number>();
  #next = 0;

  constructor(
    readonly snapshotting: boolean,
    readonly real: Record<string, (...a: unknown[]) => unknown>,
  ) {}

  id(h: NativeHandle): number {
    let i = this.#ids.get(h as object);
    if (i === undefined) this.#ids.set(h as object, (i = this.#next++));
    return i;
  }
  meta(h: NativeHandle): Meta {
    return { shape: this.real.shape!(h) as number[], dtype: dtypeFromCode(this.real.dtype!(h) as number) };
  }
  anyDynamic(v: unknown): boolean {
    if (isHandle(v)) return this.dynamic.has(this.id(v));
    return Array.isArray(v) && v.some((x) => this.anyDynamic(x));
  }
  encode(v: unknown, snap: boolean): unknown {
    if (isHandle(v)) {
      const id = this.id(v);
      let s: number | null = null;
      if (snap && !this.dynamic.has(id)) {
        s = this.#snapOf.get(id) ?? null;
        if (s === null) {
          const meta = this.meta(v);
          this.snapshots.push({ bytes: new Uint8Array(this.real.toBuffer!(v) as ArrayBuffer), meta });
          this.#snapOf.set(id, (s = this.snapshots.length - 1));
        }
      }
      return new Ref(id, this.meta(v), s);
    }
    if (Array.isArray(v)) return v.map((x) => this.encode(x, snap));
    return v;
  }

  hook(name: string, real: (...a: unknown[]) => unknown, args: unknown[]): unknown {
    if (METADATA.has(name)) return real(...args);
    const dyn = this.anyDynamic(args);
    if (DATA_READS.has(name)) {
      if (dyn)
        throw new OnnxExportError(
          `ONNX export: "${name}" reads the values of an input-dependent tensor; data-dependent control flow cannot be traced`,
        );
      return real(...args);
    }
    const encoded = this.encode(args, dyn && this.snapshotting) as unknown[];
    const result = real(...args);
    let outs: NativeHandle[];
    if (INPLACE.has(name)) {
      outs = [args[0] as NativeHandle];
      if (!dyn) this.#snapOf.delete(this.id(args[0] as NativeHandle)); // a constant changed: snapshot it afresh
    } else if (isHandle(result)) outs = [result];
    else if (Array.isArray(result) && result.every(isHandle)) outs = result;
    else throw new OnnxExportError(`ONNX export: addon function "${name}" returned no tensor; the tracer does not know it`);
    const ids = outs.map((h) => this.id(h));
    for (const i of ids) {
      if (dyn) this.dynamic.add(i);
      else this.dynamic.delete(i);
    }
    this.calls.push({ op: name, args: encoded, outs: ids, outMeta: outs.map((h) => this.meta(h)), dynamic: dyn });
    return result;
  }
}

function record(
  spec: TraceSpec,
  batch: number,
  snapshotting: boolean,
  real: Record<string, (...a: unknown[]) => unknown>,
): { rec: Recorder; inputIds: number[]; outputIds: number[] } {
  const rec = new Recorder(snapshotting, real);
  const inputs = spec.inputs(batch);
  try {
    const inputIds = inputs.map((t) => rec.id(t._h));
    for (const i of inputIds) rec.dynamic.add(i);
    const outs = withHook(
      (n, f, a) => rec.hook(n, f, a),
      () => tidy(() => spec.forward(inputs)),
    );
    const outputIds = outs.map((t) => {
      const i = rec.id(t._h);
      if (!rec.dynamic.has(i)) throw new OnnxExportError('ONNX export: an output does not depend on the inputs');
      return i;
    });
    for (const t of outs) t.dispose();
    return { rec, inputIds, outputIds };
  } finally {
    for (const t of inputs) t.dispose();
  }
}

/** v at batch b1 and at b2 -> the number, or a·batch + c. */
function fitInt(v1: number, v2: number, b1: number, b2: number, what: () => string): number | SymInt {
  if (v1 === v2) return v1;
  const a = (v2 - v1) / (b2 - b1),
    c = v1 - a * b1;
  if (!Number.isInteger(a) || !Number.isInteger(c))
    throw new OnnxExportError(
      `ONNX export: ${what()} changes with the batch size as neither a constant nor a·batch + c (${v1} at ${b1}, ${v2} at ${b2})`,
    );
  return new SymInt(a, c);
}

/** Traces `spec.forward` and returns the ONNX model. */
export function traceOnnx(spec: TraceSpec): TraceResult {
  const [b1, b2] = spec.batchSizes ?? [2, 3];
  const real = Object.fromEntries(Object.entries(N)) as Record<string, (...a: unknown[]) => unknown>;
  spec.onPhase?.('warm-up forward');
  // Warm-up: lazily built caches (interpolation matrices, ...) are filled before either pass, so both record the same ops.
  {
    const ins = spec.inputs(b1);
    for (const t of tidy(() => spec.forward(ins))) t.dispose();
    for (const t of ins) t.dispose();
  }
  spec.onPhase?.(`recording at batch ${b1}`);
  const A = record(spec, b1, true, real);
  spec.onPhase?.(`recording at batch ${b2}`);
  const B = record(spec, b2, false, real);
  spec.onPhase?.(`building the graph (${A.rec.calls.filter((c) => c.dynamic).length} input-dependent ops)`);
  const ca = A.rec.calls,
    cb = B.rec.calls;
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    if (ca[i]!.op !== cb[i]!.op)
      throw new OnnxExportError(
        `ONNX export: the forward runs different ops at batch ${b1} and ${b2} (call ${i}: ${ca[i]!.op} vs ${cb[i]!.op}); it must not branch on the batch size`,
      );
  }
  if (ca.length !== cb.length)
    throw new OnnxExportError(`ONNX export: the forward runs ${ca.length} ops at batch ${b1} but ${cb.length} at batch ${b2}`);

  const g = new OnnxGraph();
  // Graph inputs: metadata from pass A's first calls is not needed; read it off fresh tensors.
  const probe = spec.inputs(1);
  const inputMeta = probe.map((t) => ({ shape: t.shape, dtype: t.dtype }));
  for (const t of probe) t.dispose();
  spec.inputNames.forEach((name, k) =>
    g.inputs.push({ name, dtype: inputMeta[k]!.dtype, shape: ['batch', ...inputMeta[k]!.shape.slice(1)] }),
  );

  const values = new Map<number, Val>();
  A.inputIds.forEach((id, k) =>
    values.set(id, new Val(spec.inputNames[k]!, inputMeta[k]!.dtype, [new SymInt(1, 0), ...inputMeta[k]!.shape.slice(1)])),
  );
  const ctx = makeCtx(g, spec.inputNames[0]!, b1);
  const constVals = new Map<string, Val>();
  let initializerBytes = 0;

  const constant = (ref: Ref, shapeB: number[], where: () => string): Val => {
    const key = `${ref.snap}:${shapeB.join(',')}`;
    let v = constVals.get(key);
    if (v) return v;
    const snap = A.rec.snapshots[ref.snap!]!;
    const sa = snap.meta.shape;
    let bytes = snap.bytes,
      shape = sa.slice();
    let tileDim = -1;
    if (sa.length !== shapeB.length) throw new OnnxExportError(`ONNX export: ${where()}: a constant changes rank with the batch size`);
    const diff = sa.map((d, i) => (d !== shapeB[i] ? i : -1)).filter((i) => i >= 0);
    if (diff.length > 1)
      throw new OnnxExportError(
        `ONNX export: ${where()}: a constant of shape [${sa.join(', ')}] changes in several dimensions with the batch size`,
      );
    if (diff.length === 1 && sa.length === 1 && snap.meta.dtype === 'int64' && isArange(snap.bytes)) {
      // arange(batch·k) (e.g. row indices for x[arange(B), idx]): a Range in the graph.
      const v = new Val(rangeOf(ctx, 0, fitInt(sa[0]!, shapeB[0]!, b1, b2, where)), 'int64', [fitInt(sa[0]!, shapeB[0]!, b1, b2, where)]);
      constVals.set(key, v);
      return v;
    }
    if (diff.length === 1) {
      tileDim = diff[0]!;
      const k = sa[tileDim]! / b1;
      if (!Number.isInteger(k) || shapeB[tileDim]! !== k * b2)
        throw new OnnxExportError(`ONNX export: ${where()}: a constant's dimension ${tileDim} is not a multiple of the batch size`);
      bytes = periodicBlock(bytes, sa, tileDim, k, snap.meta.dtype, where);
      shape[tileDim] = k;
    }
    let name: string;
    if (spec.weightsFloat16 && snap.meta.dtype === 'float32') {
      name = g.op('Cast', [g.initializer(toFloat16Bytes(bytes, shape, real), shape, 'float16', 'w')], { to: 1 });
    } else name = g.initializer(bytes, shape, snap.meta.dtype, 'w');
    initializerBytes += bytes.byteLength / (spec.weightsFloat16 && snap.meta.dtype === 'float32' ? 2 : 1);
    const symShape: (number | SymInt)[] = shape.slice();
    if (tileDim >= 0) {
      const reps = shape.map((_, i) => (i === tileDim ? new SymInt(1, 0) : 1));
      name = g.op('Tile', [name, ctx.intList(reps)]);
      symShape[tileDim] = new SymInt(shape[tileDim]!, 0);
    }
    v = new Val(name, snap.meta.dtype, symShape);
    constVals.set(key, v);
    return v;
  };

  let traced = 0;
  for (let i = 0; i < ca.length; i++) {
    const a = ca[i]!,
      b = cb[i]!;
    if (!a.dynamic) continue;
    traced++;
    const where = (): string => `op "${a.op}" (call ${i})`;
    const merge = (x: unknown, y: unknown): OpArg => {
      if (x instanceof Ref) {
        const dyn = values.get(x.id);
        if (dyn) return dyn;
        if (x.snap === null) throw new OnnxExportError(`ONNX export: ${where()}: internal: constant input without a snapshot`);
        return constant(x, (y as Ref).meta.shape, where);
      }
      if (Array.isArray(x)) return x.map((e, k) => merge(e, (y as unknown[])[k]));
      if (typeof x === 'number' && typeof y === 'number') return fitInt(x, y, b1, b2, () => `an argument of ${where()}`);
      return x as OpArg;
    };
    const args = a.args.map((x, k) => merge(x, b.args[k]));
    const outMeta = a.outMeta.map((m, k) => ({
      dtype: m.dtype,
      shape: m.shape.map((d, j) => fitInt(d, b.outMeta[k]!.shape[j]!, b1, b2, () => `the output shape of ${where()}`)),
    }));
    const exporter = EXPORTERS[a.op];
    if (!exporter)
      throw new OnnxExportError(
        `ONNX export: no exporter for op "${a.op}" (it is called on an input-dependent tensor); add one to src/torch/onnx/ops.ts`,
      );
    let outs: string | string[];
    try {
      outs = exporter(ctx, args, outMeta);
    } catch (e) {
      if (e instanceof OnnxExportError && !e.message.includes('call ')) throw new OnnxExportError(`${e.message} (${where()})`);
      throw e;
    }
    const names = typeof outs === 'string' ? [outs] : outs;
    a.outs.forEach((id, k) => values.set(id, new Val(names[k]!, outMeta[k]!.dtype, outMeta[k]!.shape)));
  }
  A.outputIds.forEach((id, k) => {
    const v = values.get(id)!;
    const name = spec.outputNames[k]!;
    g.node('Identity', [v.name], {}, [name]);
    g.outputs.push({
      name,
      dtype: v.dtype,
      shape: v.shape.map((d) => (typeof d === 'number' ? d : d.a === 1 && d.c === 0 ? 'batch' : `batch*${d.a}+${d.c}`)),
    });
  });
  spec.onPhase?.('encoding');
  const model = g.encode({
    opset: spec.opset ?? 17,
    producer: 'tunevlseg',
    ...(spec.docString ? { docString: spec.docString } : {}),
    ...(spec.metadata ? { metadata: spec.metadata } : {}),
  });
  const nodeCounts: Record<string, number> = {};
  for (const n of g.nodes) nodeCounts[n.opType!] = (nodeCounts[n.opType!] ?? 0) + 1;
  return { model, nodeCounts, tracedOps: traced, initializerBytes };
}

/**
 * Equal blocks: bytes for integer data; for floats within 1e-5 + 1e-4·|x| (the same prompt's
 * rows of a batched GEMM differ in the last bits).
 */
function sameBlock(a: Uint8Array, b: Uint8Array, dtype: DType): boolean {
  if (dtype !== 'float32' && dtype !== 'float64') return Buffer.compare(a, b) === 0;
  const Ctor = dtype === 'float32' ? Float32Array : Float64Array;
  const fa = new Ctor(a.slice().buffer),
    fb = new Ctor(b.slice().buffer);
  for (let i = 0; i < fa.length; i++) if (!(Math.abs(fa[i]! - fb[i]!) <= 1e-5 + 1e-4 * Math.abs(fa[i]!))) return false;
  return true;
}

function isArange(bytes: Uint8Array): boolean {
  const a = new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return a.every((x, i) => x === BigInt(i));
}

/** The first `k`-slice along `dim` of data that repeats it batch times (checked). */
function periodicBlock(bytes: Uint8Array, shape: number[], dim: number, k: number, dtype: DType, where: () => string): Uint8Array {
  const item =
    bytes.byteLength /
    Math.max(
      1,
      shape.reduce((x, y) => x * y, 1),
    );
  const outer = shape.slice(0, dim).reduce((x, y) => x * y, 1);
  const inner = shape.slice(dim + 1).reduce((x, y) => x * y, 1) * item;
  const reps = shape[dim]! / k,
    block = k * inner;
  const out = new Uint8Array(outer * block);
  for (let o = 0; o < outer; o++) {
    const base = o * reps * block;
    const first = bytes.subarray(base, base + block);
    for (let r = 1; r < reps; r++) {
      const other = bytes.subarray(base + r * block, base + (r + 1) * block);
      if (!sameBlock(first, other, dtype)) {
        throw new OnnxExportError(
          `ONNX export: ${where()}: a constant (${dtype} [${shape.join(', ')}]) follows the batch size but its ${reps} blocks along dimension ${dim} differ; ` +
            'only constants repeated per image (the same prompt for every image) can be folded',
        );
      }
    }
    out.set(first, o * block);
  }
  return out;
}

function toFloat16Bytes(bytes: Uint8Array, shape: number[], real: Record<string, (...a: unknown[]) => unknown>): Uint8Array {
  const h = real.fromBuffer!(bytes, shape, dtypeCode('float32'), null);
  const h16 = real.to!(h, dtypeCode('float16'));
  try {
    return new Uint8Array(real.toBuffer!(h16) as ArrayBuffer);
  } finally {
    real.dispose!(h16);
    real.dispose!(h);
  }
}

function makeCtx(g: OnnxGraph, firstInput: string, _b1: number): ExportCtx {
  let batch: string | null = null;
  const batchValue = (): string => (batch ??= g.op('Slice', [g.op('Shape', [firstInput]), g.ints([0]), g.ints([1])]));
  const symValue = (s: SymInt): string => {
    let v = batchValue();
    if (s.a !== 1) v = g.op('Mul', [v, g.ints([s.a])]);
    if (s.c !== 0) v = g.op('Add', [v, g.ints([s.c])]);
    return v;
  };
  return {
    g,
    intList(list) {
      if (list.every((x) => typeof x === 'number')) return g.ints(list as number[]);
      return g.op(
        'Concat',
        list.map((x) => (typeof x === 'number' ? g.ints([x]) : symValue(x))),
        { axis: 0 },
      );
    },
    scalarInt(x) {
      return typeof x === 'number' ? g.ints([x]) : symValue(x);
    },
  };
}
