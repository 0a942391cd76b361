/**
 * What `eval` and `predict` share: their prediction flags (each concept declared once in
 * flag-table.ts; a command gives only its own help or default where it differs). Both draw their
 * progress with `progressOf` (progress.ts).
 */
import type { Command } from 'commander';
import { flag, type FlagUse } from './flags.js';

/** The flags of a prediction, in their help order. */
export const PREDICTION_FLAGS = [
  'prompt',
  'prompts',
  'out',
  'overlays',
  'batchSize',
  'imageSize',
  'threshold',
  'precision',
  'tf32',
] as const;
export type PredictionFlag = (typeof PREDICTION_FLAGS)[number];

/** Adds the prediction flags to `cmd`, with this command's help or defaults where given. */
export function predictionFlags(cmd: Command, uses: Partial<Record<PredictionFlag, FlagUse>>): void {
  for (const name of PREDICTION_FLAGS) flag(cmd, name, uses[name] ?? {});
}
