// What an op exporter sees: its recorded arguments (graph values, numbers, batch-linear
// integers) and the graph it adds nodes to.
import type { DType } from '../dtype.js';
import { dtypeFromCode } from '../dtype.js';
import { onnxElemType, type OnnxGraph } from './graph.js';

export class OnnxExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

/** An integer that follows the batch size: a·batch + c. */
export class SymInt {
  constructor(
    readonly a: number,
    readonly c: number,
  ) {}
  toString(): string {
    return `${this.a}·batch${this.c ? ` + ${this.c}` : ''}`;
  }
}
export type IntArg = number | SymInt;

/** A graph value with the dtype and shape it had in the trace. */
export class Val {
  constructor(
    readonly name: string,
    readonly dtype: DType,
    readonly shape: IntArg[],
  ) {}
  get rank(): number {
    return this.shape.length;
  }
}

export type OpArg = Val | number | SymInt | string | boolean | null | undefined | OpArg[];
export interface OutMeta {
  dtype: DType;
  shape: IntArg[];
}

export interface ExportCtx {
  readonly g: OnnxGraph;
  /** An int64 [n] value for a list of (possibly batch-linear) integers. */
  intList(list: IntArg[]): string;
  /** An int64 [1] value. */
  scalarInt(x: IntArg): string;
}

export type Exporter = (ctx: ExportCtx, args: OpArg[], out: OutMeta[]) => string | string[];

// ------------------------------------------------------------------------ argument helpers

export function val(a: OpArg, what: string): Val {
  if (a instanceof Val) return a;
  throw new OnnxExportError(`ONNX export: ${what} must be a tensor, got ${String(a)}`);
}
export function num(a: OpArg, what: string): number {
  if (typeof a === 'number') return a;
  if (a instanceof SymInt) throw new OnnxExportError(`ONNX export: ${what} depends on the batch size (${a}); export needs it fixed`);
  throw new OnnxExportError(`ONNX export: ${what} must be a number, got ${String(a)}`);
}
export function nums(a: OpArg, what: string): number[] {
  if (typeof a === 'number' || a instanceof SymInt) return [num(a, what)];
  if (!Array.isArray(a)) throw new OnnxExportError(`ONNX export: ${what} must be a list of numbers, got ${String(a)}`);
  return a.map((x, i) => num(x, `${what}[${i}]`));
}
export function ints(a: OpArg, what: string): IntArg[] {
  if (typeof a === 'number' || a instanceof SymInt) return [a];
  if (!Array.isArray(a)) throw new OnnxExportError(`ONNX export: ${what} must be a list of integers, got ${String(a)}`);
  return a.map((x) => {
    if (typeof x === 'number' || x instanceof SymInt) return x;
    throw new OnnxExportError(`ONNX export: ${what} must be a list of integers`);
  });
}
export const normDim = (d: number, rank: number): number => (d < 0 ? d + rank : d);
/** dims (a number, a list, or null = all) normalised against a rank. */
export function dimsOf(a: OpArg, rank: number, what: string): number[] {
  if (a === null || a === undefined) return Array.from({ length: rank }, (_, i) => i);
  return nums(a, what).map((d) => normDim(d, rank));
}
export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float16' || d === 'float64' || d === 'bfloat16';
export const dtypeArg = (a: OpArg): DType | null => (typeof a === 'number' ? dtypeFromCode(a) : null);

/** The value `a` (a tensor or a number) as a graph value of `dtype`. */
export function asType(ctx: ExportCtx, a: OpArg, dtype: DType, what: string): string {
  if (typeof a === 'number' || typeof a === 'boolean') return ctx.g.scalar(Number(a), dtype);
  const v = val(a, what);
  return v.dtype === dtype ? v.name : ctx.g.op('Cast', [v.name], { to: onnxElemType(dtype) });
}

/** PyTorch's result type of two operands (tensor dtypes; a Python number adopts the tensor's unless it is float and the tensor is not). */
export function promote(a: OpArg, b: OpArg): DType {
  const ta = a instanceof Val ? a.dtype : null,
    tb = b instanceof Val ? b.dtype : null;
  if (ta && tb) {
    if (ta === tb) return ta;
    if (isFloat(ta) !== isFloat(tb)) return isFloat(ta) ? ta : tb;
    const order: DType[] = ['bool', 'uint8', 'int8', 'int16', 'int32', 'int64', 'float16', 'bfloat16', 'float32', 'float64'];
    return order.indexOf(ta) > order.indexOf(tb) ? ta : tb;
  }
  const t = (ta ?? tb)!;
  const s = ta ? b : a;
  if (typeof s === 'number' && !Number.isInteger(s) && !isFloat(t)) return 'float32';
  return t;
}
