/**
 * Device memory of a run: what "peak memory" means per device, handing cached CUDA blocks
 * back between runs, and refusing a batch that cannot fit before the first step.
 *
 * - CUDA: the caching allocator's peak of allocated bytes (torch.cuda.max_memory_allocated),
 *   reset when the meter starts;
 * - CPU: the process's peak resident set size (getrusage ru_maxrss). It cannot be reset, so
 *   it includes whatever the process held before the run (the model, the loader workers'
 *   share of the heap).
 */
import {
  type Tensor,
  cudaMemory,
  cudaResetPeakMemory,
  cudaEmptyCache,
  cudaIndexOf,
  processPeakRss,
  runtimeInfo,
  tidy,
  zeros,
} from '../torch/index.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { float32 } from '../inference/precision.js';
import type { MixedPrecision } from './precision.js';

export interface PeakMemory {
  bytes: number;
  /** what `bytes` measures */
  kind: 'cuda-allocator-peak' | 'process-peak-rss' | 'unavailable';
}

export interface PeakMemoryMeter {
  read(): PeakMemory;
}

/** Starts measuring the peak memory of work on `device`. */
export function peakMemoryMeter(device: string): PeakMemoryMeter {
  if (device === 'cpu') return { read: () => ({ bytes: processPeakRss(), kind: 'process-peak-rss' }) };
  const idx = cudaIndexOf(device);
  cudaResetPeakMemory(idx);
  return {
    read: () => {
      const m = cudaMemory(idx);
      return m ? { bytes: m.peakAllocated, kind: 'cuda-allocator-peak' } : { bytes: 0, kind: 'unavailable' };
    },
  };
}

/** torch.cuda.empty_cache() when this process has CUDA; a no-op otherwise. */
export function releaseCachedMemory(): void {
  if (runtimeInfo().cudaAvailable) cudaEmptyCache();
}

export interface BatchFitEstimate {
  /** bytes held before the probe (weights, optimizer state, cached inputs) */
  baseBytes: number;
  /** peak bytes a one-sample step added on top of the base */
  perSampleBytes: number;
  /** base + batch x per sample */
  estimateBytes: number;
  /** the device's memory (cudaMemGetInfo total) */
  totalBytes: number;
  fits: boolean;
}

const GiB = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;

/**
 * Estimates a step's peak memory at `batchSize` from a one-sample probe step (`probe` runs
 * forward + backward on one sample), on CUDA only: activations grow linearly with the batch,
 * weights and optimizer state do not. `headroom` keeps a margin for the allocator's
 * fragmentation and cuDNN workspaces. Returns null on CPU or without allocator statistics.
 */
export function estimateBatchFit(device: string, batchSize: number, probe: () => void, headroom = 0.9): BatchFitEstimate | null {
  if (device === 'cpu') return null;
  const idx = cudaIndexOf(device);
  const before = cudaMemory(idx);
  if (!before) return null;
  cudaResetPeakMemory(idx);
  probe();
  const after = cudaMemory(idx)!;
  const base = before.allocated;
  const perSample = Math.max(0, after.peakAllocated - base);
  const estimate = base + batchSize * perSample;
  cudaResetPeakMemory(idx);
  return {
    baseBytes: base,
    perSampleBytes: perSample,
    estimateBytes: estimate,
    totalBytes: after.total,
    fits: estimate <= headroom * after.total,
  };
}

/** The message of a batch that does not fit (names the estimate and what to change). */
export function batchTooLargeMessage(device: string, batchSize: number, e: BatchFitEstimate): string {
  const maxBatch = Math.max(0, Math.floor((0.9 * e.totalBytes - e.baseBytes) / Math.max(1, e.perSampleBytes)));
  return (
    `batchSize ${batchSize} does not fit on ${device}: a one-sample probe step peaked at ${GiB(e.perSampleBytes)} per sample on top of ` +
    `${GiB(e.baseBytes)} held, so a batch of ${batchSize} needs about ${GiB(e.estimateBytes)} of the device's ${GiB(e.totalBytes)} ` +
    `(90% usable). Use batchSize <= ${maxBatch} with effectiveBatchSize for the same step size (gradient accumulation), ` +
    'or precision "16-mixed" / "bf16-mixed" to halve the activations.'
  );
}

/**
 * On CUDA, runs one forward + backward on a single blank sample (in eval mode, so that no
 * running statistics move; gradients are dropped afterwards) and throws a readable error
 * when `batchSize` samples would not fit. CPU: nothing to do (the OS pages, it does not throw).
 */
export function refuseBatchThatCannotFit(
  segmenter: Segmenter,
  amp: MixedPrecision,
  device: string,
  batchSize: number,
  imageSize: number,
  prompt: string,
  params: readonly Tensor[],
): BatchFitEstimate | null {
  if (device === 'cpu') return null;
  const wasTraining = segmenter.training;
  segmenter.eval();
  let est: BatchFitEstimate | null;
  try {
    est = estimateBatchFit(device, batchSize, () =>
      tidy(() => {
        const images = zeros([1, 3, imageSize, imageSize], { device });
        const { loss } = amp.run(() => {
          const logits = float32(segmenter.forward(images, segmenter.tokenize([prompt])));
          return { loss: logits.sigmoid().mean() };
        });
        (amp.scaler ? amp.scaler.scaleLoss(loss) : loss).backward();
      }),
    );
  } finally {
    for (const p of params) p.zeroGrad();
    if (wasTraining) segmenter.train();
  }
  if (est && !est.fits) throw new Error(batchTooLargeMessage(device, batchSize, est));
  return est;
}
