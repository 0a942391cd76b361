// Data types: names as PyTorch spells them, codes as c10::ScalarType numbers them.
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export const DTYPE_CODE: Record<DType, number> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
};
const CODE_DTYPE = new Map<number, DType>(Object.entries(DTYPE_CODE).map(([k, v]) => [v, k as DType]));

export function dtypeFromCode(code: number): DType {
  const d = CODE_DTYPE.get(code);
  if (!d) throw new Error(`unsupported native dtype code ${code}`);
  return d;
}

export function dtypeCode(d: DType): number {
  const c = DTYPE_CODE[d];
  if (c === undefined) throw new TypeError(`unknown dtype '${String(d)}' (expected one of ${Object.keys(DTYPE_CODE).join(', ')})`);
  return c;
}

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int8'
            ? Int8Array
            : D extends 'uint8' | 'bool'
              ? Uint8Array
              : Uint16Array;

export type AnyTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

/** A typed-array view of raw bytes for a dtype (float16/bfloat16 as raw Uint16 bits). */
export function typedView(d: DType, buf: ArrayBuffer, byteOffset = 0, length?: number): AnyTypedArray {
  const n = length ?? (buf.byteLength - byteOffset) / DTYPE_BYTES[d];
  switch (d) {
    case 'float32':
      return new Float32Array(buf, byteOffset, n);
    case 'float64':
      return new Float64Array(buf, byteOffset, n);
    case 'int64':
      return new BigInt64Array(buf, byteOffset, n);
    case 'int32':
      return new Int32Array(buf, byteOffset, n);
    case 'int16':
      return new Int16Array(buf, byteOffset, n);
    case 'int8':
      return new Int8Array(buf, byteOffset, n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, byteOffset, n);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf, byteOffset, n);
  }
}

/** The dtype a typed array maps to by default. */
export function dtypeOfArray(a: AnyTypedArray | number[]): DType {
  if (Array.isArray(a)) return 'float32';
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  throw new TypeError('unsupported typed array for a tensor (Uint16Array needs an explicit float16/bfloat16 dtype)');
}

export const isFloating = (d: DType): boolean => d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
