/**
 * One sweep trial: the parameters TPE sampled, applied to the study's base training config,
 * become a training run; its objective value goes back to the sampler. (What a study samples
 * from: sweep-plan.ts.)
 */
import { join } from 'node:path';
import { learnerSpace, type LearnerName, type Params, type SearchSpace } from '../sweep/index.js';
import type { TrainConfigInput, TrainSummary } from '../train/index.js';
import { configTargetOf } from '../learners/param-names.js';

/**
 * What a trial returns to the sampler:
 * - `val_loss`: the last epoch's validation loss, minimised (the reference: Optuna reads the
 *   `val_loss` Lightning reports after `fit`, fixtures README quirk 21);
 * - `best_val_loss`: the validation loss of the best-Dice checkpoint, minimised;
 * - `val_dice`: the best checkpoint's validation Dice, maximised.
 * `auto` (the flag's default) is `val_loss` with `quirks: reference`, `best_val_loss` with `fixed`.
 */
export type SweepObjective = 'val_loss' | 'best_val_loss' | 'val_dice';
export const SWEEP_OBJECTIVES: readonly SweepObjective[] = ['val_loss', 'best_val_loss', 'val_dice'];

/** The `auto` objective of a model config (its quirks mode decides). */
export function autoObjective(model: Record<string, unknown>): SweepObjective {
  return model.quirks === 'fixed' ? 'best_val_loss' : 'val_loss';
}

/** A finished trial's objective value. */
export function objectiveValue(objective: SweepObjective, s: Pick<TrainSummary, 'val' | 'lastEpoch'>): number {
  if (objective === 'val_loss') return s.lastEpoch.valLoss;
  return objective === 'best_val_loss' ? s.val.loss : s.val.dice;
}

/** The training config of one trial: the study's base config with the sampled values applied. */
export function trialConfig(base: TrainConfigInput, params: Params, study: string, trialNumber: number): TrainConfigInput {
  const cfg = structuredClone(base) as TrainConfigInput & { model?: Record<string, unknown> };
  const model: Record<string, unknown> = { ...(cfg.model ?? {}) };
  for (const [k, v] of Object.entries(params)) {
    // The original's names (optimizer.lr, net.context_learner.prompt_depth) and Tab. 2's (lr, prompt_depth).
    const target = configTargetOf(k);
    if (!target) throw new Error(`sweep: no config key for parameter "${k}" (src/learners/param-names.ts)`);
    if (target.scope === 'train') cfg[target.key] = v as number;
    else model[target.key] = v;
  }
  cfg.model = model;
  // Trial run folders: <runsDir>/<study>/trial-NNN (a run name is one folder level).
  cfg.runsDir = join(cfg.runsDir ?? 'runs', study);
  cfg.name = `trial-${String(trialNumber).padStart(3, '0')}`;
  return cfg;
}

/** The per-learner space of paper.md, with the prompt depth capped (small encoders have fewer layers). */
export function sweepSpace(learner: LearnerName, maxDepth = 10): SearchSpace {
  const s = learnerSpace(learner);
  const depth = s.params.prompt_depth;
  if (!depth || depth.type !== 'int') return s;
  return { ...s, params: { ...s.params, prompt_depth: { ...depth, high: Math.max(depth.low, Math.min(depth.high, maxDepth)) } } };
}
