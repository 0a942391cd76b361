// An ONNX graph under construction and its encoding with the official schema (onnx-proto, the
// protobufjs build of onnx.proto). Values are named strings; initializers carry raw
// little-endian bytes, as libtorch holds them.
import onnxProto from 'onnx-proto';
import type { DType } from '../dtype.js';

const { onnx } = onnxProto;
type Attr = onnxProto.onnx.IAttributeProto;
const AT = onnx.AttributeProto.AttributeType;
const TP = onnx.TensorProto.DataType;

/** ONNX element type of a libtorch dtype. */
export function onnxElemType(d: DType): number {
  switch (d) {
    case 'float32':
      return TP.FLOAT;
    case 'float16':
      return TP.FLOAT16;
    case 'bfloat16':
      return TP.BFLOAT16;
    case 'float64':
      return TP.DOUBLE;
    case 'int64':
      return TP.INT64;
    case 'int32':
      return TP.INT32;
    case 'int16':
      return TP.INT16;
    case 'int8':
      return TP.INT8;
    case 'uint8':
      return TP.UINT8;
    case 'bool':
      return TP.BOOL;
    default:
      throw new Error(`ONNX export: no ONNX element type for dtype ${String(d)}`);
  }
}

export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };

/** Attribute helpers: integers stay ints unless wrapped as { float } / { floats }. */
function attr(name: string, v: AttrValue): Attr {
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: AT.INT, i: v } : { name, type: AT.FLOAT, f: v };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  if ('float' in v) return { name, type: AT.FLOAT, f: v.float };
  return { name, type: AT.FLOATS, floats: v.floats };
}

export interface ValueSpec {
  name: string;
  dtype: DType;
  /** numbers, or a name for a symbolic dimension */
  shape: (number | string)[];
}

export class OnnxGraph {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly inputs: ValueSpec[] = [];
  readonly outputs: ValueSpec[] = [];
  #counter = 0;
  readonly #constCache = new Map<string, string>();

  /** A fresh value name. */
  fresh(hint = 'v'): string {
    return `${hint}_${this.#counter++}`;
  }

  /** Adds a node; returns its output names (`outputs` fresh ones by default). */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, outputs: number | string[] = 1): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : outputs;
    const attribute = Object.entries(attrs)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => attr(k, v!));
    this.nodes.push({ opType, input: inputs, output: outs, name: `${opType}_${this.nodes.length}`, attribute });
    return outs;
  }

  /** One-output node. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}): string {
    return this.node(opType, inputs, attrs, 1)[0]!;
  }

  /** An initializer from raw little-endian bytes. */
  initializer(bytes: Uint8Array, shape: number[], dtype: DType, hint = 'w'): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: shape, dataType: onnxElemType(dtype), rawData: bytes });
    return name;
  }

  /** A small int64 constant (cached by value). */
  ints(values: number[], scalar = false): string {
    const key = `i64:${scalar ? 's' : ''}${values.join(',')}`;
    let n = this.#constCache.get(key);
    if (!n) {
      const a = BigInt64Array.from(values, (x) => BigInt(x));
      n = this.initializer(new Uint8Array(a.buffer), scalar ? [] : [values.length], 'int64', 'c');
      this.#constCache.set(key, n);
    }
    return n;
  }

  /** A scalar constant of a dtype (cached by value). */
  scalar(value: number, dtype: DType): string {
    const key = `${dtype}:${value}`;
    let n = this.#constCache.get(key);
    if (!n) {
      n = this.initializer(scalarBytes(value, dtype), [], dtype, 'c');
      this.#constCache.set(key, n);
    }
    return n;
  }

  /** The serialized ModelProto. */
  encode(o: { opset: number; producer: string; docString?: string; metadata?: Record<string, string> }): Uint8Array {
    const vi = (v: ValueSpec): onnxProto.onnx.IValueInfoProto => ({
      name: v.name,
      type: {
        tensorType: {
          elemType: onnxElemType(v.dtype),
          shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: o.opset }],
      producerName: o.producer,
      producerVersion: '1',
      docString: o.docString ?? '',
      metadataProps: Object.entries(o.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: 'tunevlseg',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(vi),
        output: this.outputs.map(vi),
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

function scalarBytes(v: number, d: DType): Uint8Array {
  switch (d) {
    case 'float32':
      return new Uint8Array(Float32Array.of(v).buffer);
    case 'float64':
      return new Uint8Array(Float64Array.of(v).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.of(BigInt(Math.trunc(v))).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.of(v).buffer);
    case 'bool':
      return Uint8Array.of(v ? 1 : 0);
    case 'uint8':
      return Uint8Array.of(v);
    default:
      throw new Error(`ONNX export: no scalar constant of dtype ${d}`);
  }
}
