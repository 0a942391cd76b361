/**
 * Decoding one batch: the unit of work of the loader's workers (also run in-process when the
 * loader has no workers). Everything here is plain data so that jobs and results cross
 * `postMessage`; result buffers are transferred, never copied, and may come back with a
 * later job to be filled again (see `Batch.release` in loader.ts).
 */
import { decodeImage, decodeMask, ImageError } from './image.js';

export interface BatchItem {
  image: string;
  /** null: no mask (the mask plane stays 0). */
  mask: string | null;
}

export interface BatchJob {
  id: number;
  size: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** null: soft masks (gray / 255). */
  maskThreshold: number | null;
  failOn: 'none' | 'truncated' | 'error' | 'warning';
  fastShrinkOnLoad: boolean;
  /** How many items of the batch are decoded concurrently (overlaps libvips and JS work). */
  concurrency: number;
  items: BatchItem[];
  /** Buffers of a released batch to decode into; new ones are allocated when absent or too small. */
  buffers?: BatchBuffers;
}

export interface BatchBuffers {
  images: ArrayBuffer;
  masks: ArrayBuffer;
}

export type BatchResult =
  | {
      id: number;
      ok: true;
      /** [B, 3, S, S] */
      images: Float32Array;
      /** [B, 1, S, S] */
      masks: Float32Array;
      originalSizes: [number, number][];
    }
  | {
      id: number;
      ok: false;
      /** Position of the failing item in the batch. */
      item: number;
      file: string;
      reason: string;
    };

export async function decodeBatch(job: BatchJob): Promise<BatchResult> {
  const S = job.size;
  const imgLen = 3 * S * S;
  const maskLen = S * S;
  const n = job.items.length;
  const b = job.buffers;
  const reuse = b !== undefined && b.images.byteLength >= n * imgLen * 4 && b.masks.byteLength >= n * maskLen * 4;
  const images = reuse ? new Float32Array(b.images, 0, n * imgLen) : new Float32Array(n * imgLen);
  const masks = reuse ? new Float32Array(b.masks, 0, n * maskLen) : new Float32Array(n * maskLen);
  const originalSizes: [number, number][] = new Array(n);
  const state: { failure: { item: number; file: string; reason: string } | null } = { failure: null };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (state.failure === null && next < n) {
      const i = next++;
      const item = job.items[i] as BatchItem;
      let current = item.image;
      try {
        const img = await decodeImage(
          item.image,
          { size: S, mean: job.mean, std: job.std, failOn: job.failOn, fastShrinkOnLoad: job.fastShrinkOnLoad },
          images.subarray(i * imgLen, (i + 1) * imgLen),
        );
        originalSizes[i] = [img.width, img.height];
        if (item.mask === null) {
          if (reuse) masks.fill(0, i * maskLen, (i + 1) * maskLen);
        } else {
          current = item.mask;
          await decodeMask(
            item.mask,
            { size: S, threshold: job.maskThreshold, failOn: job.failOn },
            masks.subarray(i * maskLen, (i + 1) * maskLen),
          );
        }
      } catch (err) {
        // Another item may have failed meanwhile (the state is shared across awaits): keep the first.
        const earlier = state.failure as { item: number } | null;
        if (earlier !== null && earlier.item < i) return;
        const file = err instanceof ImageError ? err.file : current;
        let reason = err instanceof Error ? err.message : String(err);
        if (reason.startsWith(`${file}: `)) reason = reason.slice(file.length + 2);
        state.failure = { item: i, file, reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(job.concurrency, n)) }, worker));
  if (state.failure !== null) return { id: job.id, ok: false, ...state.failure };
  return { id: job.id, ok: true, images, masks, originalSizes };
}
