/**
 * How an evaluation reads a split: which split stands in for the one asked, whether its inputs go
 * through a run's training augmentation (with which draws), in batches of which size, and the
 * notes that say why. A run folder decides it from its config (src/train/run-evaluation.ts); a
 * checkpoint file alone reads clean inputs.
 */
import type { Split } from '../data/format.js';
import type { AugmentConfig } from './augment.js';

/** `eval --eval-augment`: as the run's training read its val/test (auto), always, or never. */
export type EvalAugmentMode = 'auto' | 'on' | 'off';
export const EVAL_AUGMENT_MODES: readonly EvalAugmentMode[] = ['auto', 'on', 'off'];

/** The augmentation draws of one evaluation: settings, seed, and the epoch that keys the stream with the batch index. */
export interface EvalDraws {
  config: AugmentConfig;
  seed: number;
  epoch: number;
}

export interface EvalReading {
  /** the split to read */
  split: Split;
  /** the augmentation draws (null: clean inputs) */
  augment: EvalDraws | null;
  /** samples per batch: the draws are made per batch, so the run's evaluation batch size when augmented (null: the caller's) */
  batchSize: number | null;
  notes: string[];
}
