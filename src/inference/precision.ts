/**
 * Running a forward pass in the `precision` and `tf32` settings of a run, with Lightning's names
 * and PyTorch's semantics:
 *
 * - `32`: float32 everywhere.
 * - `16-mixed`: autocast to float16 around the forward and the loss, dynamic loss scaling
 *   (GradScaler). CUDA only: libtorch 1.13's CPU autocast has no float16 kernels for
 *   matmul/conv (Lightning refuses it on CPU too).
 * - `bf16-mixed`: autocast to bfloat16, no loss scaling (bfloat16 has float32's range). Works
 *   on CUDA and, through libtorch's CPU autocast, on CPU (fast where the CPU has AVX512-BF16
 *   or AMX).
 *
 * Master weights and optimizer state stay float32 in every mode: autocast only casts op
 * inputs. The loss is always computed on float32 logits (`float32()` below), so Dice's sums
 * and the BCE's log-sum-exp never run in 16 bits. The loss scaler of `16-mixed` is training's
 * (src/train/precision.ts).
 */
import { readFileSync } from 'node:fs';
import {
  type Tensor,
  autocast,
  autocastDeviceOf,
  applyTf32,
  tensor,
  tidy,
  F,
  type AutocastDevice,
  type AutocastDtype,
  type CudaFlags,
  type Tf32Mode,
} from '../torch/index.js';
import type { Precision } from './precision-modes.js';

export { PRECISIONS, TF32_MODES, type Precision } from './precision-modes.js';

export interface Autocast {
  readonly precision: Precision;
  readonly deviceType: AutocastDevice;
  /** The autocast dtype; null for `32`. */
  readonly dtype: AutocastDtype | null;
  /** Runs fn (forward and loss) under autocast; plain call for `32`. */
  run<T>(fn: () => T): T;
}

/** Logits as float32 (the loss and the metrics always compute in float32). */
export function float32(t: Tensor): Tensor {
  return t.dtype === 'float32' ? t : t.to('float32');
}

/** The autocast of `precision` on `device`; throws a readable error where it cannot run. */
export function autocastFor(precision: Precision, device: string): Autocast {
  const deviceType = autocastDeviceOf(device);
  if (precision === '32') {
    return { precision, deviceType, dtype: null, run: (fn) => fn() };
  }
  if (precision === '16-mixed' && deviceType === 'cpu') {
    throw new Error(
      'precision "16-mixed" needs a CUDA device (libtorch\'s CPU autocast has no float16 matmul/conv kernels); ' +
        'on CPU use precision "bf16-mixed" or "32"',
    );
  }
  const dtype: AutocastDtype = precision === '16-mixed' ? 'float16' : 'bfloat16';
  if (deviceType === 'cpu') {
    const probe = cpuBf16Autocast();
    if (!probe.available) throw new Error(`precision "bf16-mixed" is not available on this CPU: ${probe.detail}`);
  }
  return { precision, deviceType, dtype, run: (fn) => autocast(deviceType, dtype, fn) };
}

export interface CpuBf16Report {
  /** libtorch's CPU autocast runs a linear layer in bfloat16 here. */
  available: boolean;
  /** The CPU has native bfloat16 dot products (AVX512-BF16 or AMX-BF16); without them bf16 is emulated and slow. */
  nativeHardware: boolean;
  detail: string;
}

let cpuProbe: CpuBf16Report | null = null;

/** Whether CPU bf16 autocast works in this libtorch, and whether the CPU runs it natively. */
export function cpuBf16Autocast(): CpuBf16Report {
  if (cpuProbe) return cpuProbe;
  let flags = '';
  try {
    flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch {
    /* not Linux: unknown */
  }
  const nativeHardware = /\b(avx512_bf16|amx_bf16)\b/.test(flags);
  let available = false;
  let detail: string;
  try {
    const dt = tidy(() =>
      autocast(
        'cpu',
        'bfloat16',
        () =>
          F.linear(
            tensor([[1, 2, 3, 4]]),
            tensor([
              [1, 0, 0, 0],
              [0, 1, 0, 0],
            ]),
          ).dtype,
      ),
    );
    available = dt === 'bfloat16';
    detail = available
      ? `libtorch CPU autocast runs linear in bfloat16${nativeHardware ? ', CPU has native bf16 (avx512_bf16/amx_bf16)' : ', but the CPU lacks avx512_bf16/amx_bf16 (emulated, slow)'}`
      : `libtorch CPU autocast left linear in ${dt}`;
  } catch (e) {
    detail = `libtorch CPU autocast failed: ${(e as Error).message}`;
  }
  cpuProbe = { available, nativeHardware, detail };
  return cpuProbe;
}

/** Sets the TF32 flags for a run on `device` (no-op on CPU) and returns what is in force. */
export function applyTf32For(mode: Tf32Mode, device: string): CudaFlags | null {
  return autocastDeviceOf(device) === 'cuda' ? applyTf32(mode) : null;
}
