/**
 * One sweep trial: the parameters TPE sampled, applied to the study's base training config,
 * become a training run; its objective value goes back to the sampler. (What a study samples
 * from: sweep-plan.ts.)
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { checkStudyName, type Params, type SearchSpace, type StudyRecord } from '../sweep/index.js';
import type { LearnerName } from '../learners/types.js';
import { learnerSpace } from './spaces.js';
import { ConfigError, parseTrainConfig, type TrainConfigInput } from '../train/config.js';
import type { EpochRecord, TrainSummary } from '../train/records.js';
import { isLearnerName, learnerEntry } from '../learners/registry.js';
import { configTargetOf } from '../learners/param-names.js';

/**
 * What a trial returns to the sampler:
 * - `val_loss`: the last epoch's validation loss, minimised (the reference: Optuna reads the
 *   `val_loss` Lightning reports after `fit`, fixtures README quirk 21);
 * - `best_val_loss`: the validation loss of the best-Dice checkpoint, minimised;
 * - `val_dice`: the best checkpoint's validation Dice, maximised;
 * - `last_val_dice`: the last validation's Dice (the checkpoint-selection protocol's), maximised
 *   (VLSM-Adapter's `clipseg_optuna.yaml`: the fit's last `val/dice_epoch`).
 * `auto` (the flag's default) is what the learner's original optimised (its registry entry's
 * `originalSweep.objective`), else TuneVLSeg's: `val_loss` with `quirks: reference`,
 * `best_val_loss` with `fixed`.
 */
export type SweepObjective = 'val_loss' | 'best_val_loss' | 'val_dice' | 'last_val_dice';
export const SWEEP_OBJECTIVES: readonly SweepObjective[] = ['val_loss', 'best_val_loss', 'val_dice', 'last_val_dice'];

/** The `auto` objective of a model config (its learner and quirks mode decide). */
export function autoObjective(model: Record<string, unknown>): SweepObjective {
  const quirks = model.quirks === 'fixed' ? 'fixed' : 'reference';
  const own = isLearnerName(model.learner) ? learnerEntry(model.learner).originalSweep?.objective?.[quirks] : undefined;
  return own ?? (quirks === 'fixed' ? 'best_val_loss' : 'val_loss');
}

/** Whether the study maximises or minimises the objective. */
export function objectiveDirection(objective: SweepObjective): 'maximize' | 'minimize' {
  return objective === 'val_dice' || objective === 'last_val_dice' ? 'maximize' : 'minimize';
}

/** A finished trial's objective value. */
export function objectiveValue(objective: SweepObjective, s: Pick<TrainSummary, 'val' | 'lastEpoch'>): number {
  if (objective === 'val_loss') return s.lastEpoch.valLoss;
  if (objective === 'last_val_dice') return s.lastEpoch.valSelectDice;
  return objective === 'best_val_loss' ? s.val.loss : s.val.dice;
}

/** The value an epoch reports to the pruner (the objective's own measure, taken at that epoch). */
export function epochObjectiveValue(objective: SweepObjective, r: EpochRecord): number {
  if (objective === 'last_val_dice') return r.valSelectDice;
  return objective === 'val_dice' ? r.valDice : r.valLoss;
}

/** What makes a study itself rather than another of the same name (storage.ts: StudyRecord). */
export type StudyIdentity = Pick<StudyRecord, 'name' | 'id' | 'createdAt'>;

/**
 * The folder of a study's trial runs, `<name>-<key>`: the key hashes the study's identity in its
 * storage (name, row id, creation time), so a study of the same name in another storage, or one
 * deleted and created again, never shares (and never overwrites) another's trial folders,
 * whatever spelling of the storage URL each worker was given.
 */
export function studyRunsFolder(study: StudyIdentity): string {
  checkStudyName(study.name);
  const key = createHash('sha256').update(`${study.name}\0${study.id}\0${study.createdAt}`).digest('hex').slice(0, 8);
  return `${study.name}-${key}`;
}

/**
 * The training config of one trial: the study's base config with the sampled values applied.
 * Its run folder is `<runsDir>/<studyRunsFolder>/trial-NNN`; trial numbers are never reused in a
 * study, so the folder is new, and `train` (without overwrite) refuses one that exists.
 */
export function trialConfig(base: TrainConfigInput, params: Params, study: StudyIdentity, trialNumber: number): TrainConfigInput {
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
  cfg.runsDir = join(cfg.runsDir ?? 'runs', studyRunsFolder(study));
  cfg.name = `trial-${String(trialNumber).padStart(3, '0')}`;
  return cfg;
}

/**
 * Refuses, before any trial, a base training config that no trial could train with (a bad key,
 * minEpochs > maxEpochs): every trial would fail on it. `file` (the -c file) and `flags` (keys
 * set by a flag) name where the values came from.
 */
export function checkTrialConfig(
  base: TrainConfigInput,
  from: { file?: string | undefined; flags?: Readonly<Record<string, string>> } = {},
): void {
  const sources = new Map<string, string>(Object.entries(from.flags ?? {}));
  if (from.file) {
    for (const k of Object.keys(base)) if (!sources.has(k) && k !== 'data' && k !== 'model' && k !== 'runsDir') sources.set(k, from.file);
  }
  try {
    parseTrainConfig(base, sources);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new ConfigError(
      `the trials' training config${from.file ? ` (${from.file})` : ''} is refused before any trial runs: ${e.message}`,
    );
  }
}

/** Top-level keys in which two training configs differ (a study's recorded one and a rerun's). */
export function trainConfigDiff(oldTrain: unknown, base: TrainConfigInput): string[] {
  const a = (oldTrain ?? {}) as Record<string, unknown>,
    b = base as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/** The per-learner space of paper.md, with the prompt depth capped (small encoders have fewer layers). */
export function sweepSpace(learner: LearnerName, maxDepth = 10): SearchSpace {
  const s = learnerSpace(learner);
  const depth = s.params.prompt_depth;
  if (!depth || depth.type !== 'int') return s;
  return { ...s, params: { ...s.params, prompt_depth: { ...depth, high: Math.max(depth.low, Math.min(depth.high, maxDepth)) } } };
}
