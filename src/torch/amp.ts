// Automatic mixed precision and device-memory controls, with PyTorch's semantics:
//  - autocast(deviceType, dtype, fn) is `with torch.autocast(deviceType, dtype): fn()`: ops on
//    autocast's lower-precision list (matmul, linear, conv, bmm...) run in `dtype`, ops on its
//    float32 list (losses; on CUDA also softmax, layer_norm...) run in float32, the rest follow
//    their inputs. The lists are libtorch's own, per device type and version.
//  - TF32 and cuDNN flags (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.*);
//  - the CUDA caching allocator's statistics and empty_cache().
// Like tidy(), autocast() is synchronous: autocast state is per thread, and an await inside
// the region would leak it into unrelated work.
import { N } from './native.js';
import { type DType, dtypeCode, dtypeFromCode } from './dtype.js';

export type AutocastDevice = 'cpu' | 'cuda';
export type AutocastDtype = Extract<DType, 'float16' | 'bfloat16'>;

/** The autocast device type of a device string ('cuda:1' -> 'cuda'). */
export function autocastDeviceOf(device: string): AutocastDevice {
  if (device === 'cpu') return 'cpu';
  if (device === 'cuda' || device.startsWith('cuda:')) return 'cuda';
  throw new Error(`autocast: unsupported device '${device}' (expected cpu or cuda[:n])`);
}

export function autocastState(deviceType: AutocastDevice): { enabled: boolean; dtype: DType } {
  const s = N.autocastState(deviceType) as { enabled: boolean; dtype: number };
  return { enabled: s.enabled, dtype: dtypeFromCode(s.dtype) };
}

/** Runs fn with autocast on (or, with `enabled` false, explicitly off) for one device type. */
export function autocast<T>(deviceType: AutocastDevice, dtype: AutocastDtype, fn: () => T, enabled = true): T {
  const prev = N.autocastEnter(deviceType, enabled, dtypeCode(dtype)) as { enabled: boolean; dtype: number };
  try {
    const r = fn();
    if (typeof r === 'object' && r !== null && typeof (r as { then?: unknown }).then === 'function') {
      throw new Error(
        'autocast() was given an async function: autocast state is per thread and would leak across awaits. ' +
          'Run the synchronous forward/loss inside autocast() and await outside it.',
      );
    }
    return r;
  } finally {
    N.autocastExit(deviceType, prev.enabled, prev.dtype);
  }
}

// ---------------------------------------------------------------- TF32 / cuDNN
export interface CudaFlags {
  /** torch.backends.cuda.matmul.allow_tf32 */
  tf32Matmul: boolean;
  /** torch.backends.cudnn.allow_tf32 */
  tf32Cudnn: boolean;
  /** torch.backends.cudnn.benchmark */
  cudnnBenchmark: boolean;
}

export function cudaFlags(): CudaFlags {
  return N.cudaFlags() as CudaFlags;
}
export function setCudaFlags(flags: Partial<CudaFlags>): void {
  N.setCudaFlags(flags);
}

export type Tf32Mode = 'auto' | 'on' | 'off';

/**
 * Applies a `tf32` setting: on/off set both the matmul and the cuDNN flag; auto leaves
 * libtorch's defaults (matmul off, cuDNN on) but still sets them explicitly, so that what is
 * in force never depends on which libtorch version the process loaded.
 */
export function applyTf32(mode: Tf32Mode): CudaFlags {
  if (mode === 'on') setCudaFlags({ tf32Matmul: true, tf32Cudnn: true });
  else if (mode === 'off') setCudaFlags({ tf32Matmul: false, tf32Cudnn: false });
  else setCudaFlags({ tf32Matmul: false, tf32Cudnn: true });
  return cudaFlags();
}

// ---------------------------------------------------------------- device memory
export interface CudaMemory {
  allocated: number;
  peakAllocated: number;
  reserved: number;
  peakReserved: number;
  /** free / total bytes on the device (cudaMemGetInfo) */
  free: number;
  total: number;
}

/** Allocator statistics of a CUDA device; null when the addon was built without the CUDA runtime headers. */
export function cudaMemory(deviceIndex = 0): CudaMemory | null {
  return N.cudaMemory(deviceIndex) as CudaMemory | null;
}
export function cudaResetPeakMemory(deviceIndex = 0): boolean {
  return N.cudaResetPeakMemory(deviceIndex) as boolean;
}
/** torch.cuda.empty_cache(): returns cached unused blocks to the driver; false when there is no CUDA. */
export function cudaEmptyCache(): boolean {
  return N.cudaEmptyCache() as boolean;
}
/** Whether this addon build carries the CUDA allocator bindings. */
export function cudaAllocatorBuilt(): boolean {
  return N.cudaAllocatorBuilt() as boolean;
}

/** The index of a CUDA device string ('cuda' -> 0, 'cuda:2' -> 2). */
export function cudaIndexOf(device: string): number {
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw new Error(`not a CUDA device: '${device}'`);
  return m[1] ? Number(m[1]) : 0;
}

/** Peak resident set size of this process in bytes (what "peak memory" means on CPU). */
export function processPeakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}
