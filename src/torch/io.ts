// Tensors <-> safetensors files (the only weight format read by default: it cannot execute code).
import { readSafetensors, writeSafetensors, type RawTensor, type StDtype } from './safetensors.js';
import { Tensor, fromBytes } from './tensor.js';
import type { DType } from './dtype.js';

const ST_TO_DTYPE: Record<StDtype, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_TO_ST = Object.fromEntries(Object.entries(ST_TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, StDtype>;

export function rawToTensor(r: RawTensor, device?: string): Tensor {
  return fromBytes(r.data, r.shape, ST_TO_DTYPE[r.dtype], device);
}

export function tensorToRaw(t: Tensor): RawTensor {
  return { dtype: DTYPE_TO_ST[t.dtype], shape: t.shape, data: t.toBytes() };
}

/** Every tensor of a safetensors file (copied into libtorch memory), plus its metadata. */
export function loadSafetensors(
  path: string,
  opts: { device?: string; only?: (name: string) => boolean } = {},
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const f = readSafetensors(path);
  const tensors = new Map<string, Tensor>();
  for (const [name, raw] of f.tensors) {
    if (opts.only && !opts.only(name)) continue;
    tensors.set(name, rawToTensor(raw, opts.device));
  }
  return { tensors, metadata: f.metadata };
}

/** Writes tensors atomically; tensors on any device/layout are copied out contiguously. */
export function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const raw = new Map<string, RawTensor>(entries.map(([k, t]) => [k, tensorToRaw(t)]));
  writeSafetensors(path, raw, metadata);
}
