/**
 * What `eval` and `predict` share: their prediction flags (each concept declared once in
 * flag-table.ts; a command gives only its own help or default where it differs) and the progress
 * bar both draw while the library reports batches.
 */
import type { Command } from 'commander';
import { flag, type FlagUse } from './flags.js';
import { countBar, type CountBar, type ProgressStream } from './progress.js';

/** The flags of a prediction, in their help order. */
export const PREDICTION_FLAGS = ['prompt', 'prompts', 'out', 'overlays', 'batchSize', 'imageSize', 'threshold', 'precision', 'tf32'] as const;
export type PredictionFlag = (typeof PREDICTION_FLAGS)[number];

/** Adds the prediction flags to `cmd`, with this command's help or defaults where given. */
export function predictionFlags(cmd: Command, uses: Partial<Record<PredictionFlag, FlagUse>>): void {
  for (const name of PREDICTION_FLAGS) flag(cmd, name, uses[name] ?? {});
}

/** A progress bar of `label` for a library's `(done, total)` reports, and its stop. */
export function progressOf(label: string, unit: string, o: { quiet?: boolean | undefined; stream?: ProgressStream; rate?: boolean }): {
  onProgress: (done: number, total: number, perSecond?: number) => void;
  stop: () => void;
} {
  const bar: CountBar | null = countBar(label, unit, o);
  return { onProgress: (done, total, perSecond) => bar?.update(done, total, perSecond), stop: () => bar?.stop() };
}
