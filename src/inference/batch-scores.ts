/**
 * Scores of one batch and their means, shared by the evaluation loop and a scored prediction:
 * the DiceCE loss per sample (against soft or thresholded targets), the model-side protocols
 * and, from the probabilities on the CPU, the original-size protocol.
 */
import type { Batch } from '../data/loader.js';
import { readMaskGray } from '../data/image.js';
import type { Tensor } from '../torch/index.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { diceCELossPerSample, type DiceCEOptions } from './loss.js';
import {
  modelSideScores,
  originalSizePrediction,
  originalSizeScores,
  protocolMeans,
  type EvalProtocol,
  type ProtocolMeans,
  type ProtocolSample,
} from './protocols.js';

export interface SampleResult {
  /** The sample's mask name (unique per entry) or image path. */
  name: string;
  /** Position in the split. */
  index: number;
  prompt: string;
  loss: number;
  /** `model-resolution` Dice and IoU. */
  dice: number;
  iou: number;
  /** The sample under each protocol asked for (`EvalLoopOptions.protocols`). */
  protocols?: Partial<Record<EvalProtocol, ProtocolSample>>;
}

export interface EvalMeans {
  samples: number;
  loss: number;
  /** `model-resolution` means (see `protocols` for the others). */
  dice: number;
  iou: number;
  /** Each protocol asked for, kept apart: `protocols['original-size'].dice`. */
  protocols?: Partial<Record<EvalProtocol, ProtocolMeans>>;
}

export interface EvalResult extends EvalMeans {
  perSample: SampleResult[];
}

/** Whether a segmenter's loss sees soft targets by default (its quirks mode; reference when unknown). */
export function softTargetsOf(m: Segmenter): boolean {
  return m.quirks !== 'fixed';
}

/** The loss targets of soft masks: themselves, or thresholded at 0.5 (gray >= 128). */
export function lossTargets(masks: Tensor, soft: boolean): Tensor {
  return soft ? masks : masks.gt(0.5).to(masks.dtype);
}

export interface BatchScores {
  losses: number[];
  side: ReturnType<typeof modelSideScores>;
  /** [B, S, S] probabilities on the CPU (for the original-size protocol), or null. */
  probs: Float32Array | null;
}

/** Loss and the model-side protocols of one batch of logits [B, 1, S, S] against soft masks. */
export function scoreBatch(
  logits: Tensor,
  masks: Tensor,
  o: { threshold: number; soft: boolean; loss: DiceCEOptions | undefined; cpuProbs: boolean },
): BatchScores {
  const probs = logits.sigmoid();
  return {
    losses: diceCELossPerSample(logits, lossTargets(masks, o.soft), o.loss).toArray(),
    side: modelSideScores(probs, masks, o.threshold),
    probs: o.cpuProbs ? probs.to('float32').to('cpu').toFloat32Array() : null,
  };
}

/** The original-size protocol of each item of a batch that has a mask file (null: none). */
export async function originalSizeBatch(probs: Float32Array, b: Batch): Promise<(ProtocolSample | null)[]> {
  const S = b.imageSize;
  const out: (ProtocolSample | null)[] = [];
  for (let i = 0; i < b.size; i++) {
    const file = b.maskPaths[i];
    if (!file) {
      out.push(null);
      continue;
    }
    const truth = await readMaskGray(file);
    out.push(
      originalSizeScores(originalSizePrediction(probs.subarray(i * S * S, (i + 1) * S * S), S, truth.width, truth.height), truth.gray),
    );
  }
  return out;
}

/** Item `i`'s scores under `protocols` (`orig[origIndex]`: its original-size score, if any). */
export function pickProtocols(
  protocols: readonly EvalProtocol[],
  side: BatchScores['side'],
  orig: (ProtocolSample | null)[] | null,
  origIndex: number,
  i: number,
): Partial<Record<EvalProtocol, ProtocolSample>> {
  const out: Partial<Record<EvalProtocol, ProtocolSample>> = {};
  for (const p of protocols) {
    const v = p === 'original-size' ? orig?.[origIndex] : side[p][i];
    if (v) out[p] = v;
  }
  return out;
}

/** Means over samples (summed in arrival order), and each protocol's aggregate. */
export function meansOf(rs: readonly SampleResult[], protocols: readonly EvalProtocol[] = []): EvalMeans {
  const n = rs.length;
  let loss = 0,
    dice = 0,
    iou = 0;
  for (const r of rs) {
    loss += r.loss;
    dice += r.dice;
    iou += r.iou;
  }
  const out: EvalMeans =
    n === 0
      ? { samples: 0, loss: Number.NaN, dice: Number.NaN, iou: Number.NaN }
      : { samples: n, loss: loss / n, dice: dice / n, iou: iou / n };
  if (protocols.length > 0) {
    out.protocols = {};
    for (const p of protocols)
      out.protocols[p] = protocolMeans(
        p,
        rs.flatMap((r) => (r.protocols?.[p] ? [r.protocols[p]] : [])),
      );
  }
  return out;
}
