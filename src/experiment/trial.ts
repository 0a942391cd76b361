/**
 * One sweep trial: the parameters TPE sampled, applied to the study's base training config,
 * become a training run; its objective value goes back to the sampler. Also the search space a
 * study samples from, clamped to what the base model can take.
 */
import { join } from 'node:path';
import { learnerSpace, type LearnerName, type Params, type SearchSpace } from '../sweep/index.js';
import type { TrainConfigInput, TrainSummary } from '../train/index.js';
import { optionForReferenceName } from '../learners/reference.js';

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
    if (k === 'lr') cfg.lr = v as number;
    else if (k === 'weight_decay') cfg.weightDecay = v as number;
    else if (k === 'learner') model.learner = v;
    else if (optionForReferenceName(k)) model[optionForReferenceName(k)!] = v; // paper Tab. 2 name -> our option
    else throw new Error(`sweep: no config key for parameter "${k}"`);
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

/**
 * The per-learner space with its depth range clamped to what the base model takes (a depth
 * the encoders lack would only make trials fail), saying so through `log` when it clamps.
 * The limit comes from the model's config alone, before any trial (or weight load) runs.
 */
export async function clampedSpace(learner: LearnerName, maxDepth: number, model: Record<string, unknown>, log: (line: string) => void): Promise<SearchSpace> {
  const space = sweepSpace(learner, maxDepth);
  const depth = space.params.prompt_depth;
  if (!depth || depth.type !== 'int') return space;
  const { promptDepthLimit } = await import('../tuning/factory.js');
  const limit = await promptDepthLimit(model);
  if (depth.high <= limit.maxDepth) return space;
  const high = Math.max(depth.low, limit.maxDepth);
  log(`sweep: prompt depth range ${depth.low}..${depth.high} clamped to ${depth.low}..${high}: ${String(model.model)} takes at most ${limit.maxDepth} (${limit.maxDepthWhy})`);
  return { ...space, params: { ...space.params, prompt_depth: { ...depth, high } } };
}
