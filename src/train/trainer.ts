/**
 * The training loop over any `Segmenter` (see docs/train.md):
 *
 * - AdamW over `segmenter.parameterGroups(weightDecay)`, gradient accumulation of `batchSize`
 *   passes up to `effectiveBatchSize` samples per step (each pass's loss weighted by its share
 *   of the step's samples, so a step's gradient equals the big batch's), optional norm clipping;
 * - validation once per epoch or where `valCheckInterval` puts it (Lightning's
 *   val_check_interval: validation-rules.ts, validation.ts), ReduceLROnPlateau on the latest validation loss at each
 *   epoch's end (factor 0.2, patience 5), min/max epochs, early stopping on `earlyStopping.monitor`
 *   (validation loss or Dice; patience 12 validations, min delta 1e-4, Lightning semantics);
 * - `best.safetensors` (highest validation Dice) and `last.safetensors` checkpoints, a resume
 *   state at every epoch end (after a mid-epoch validation on a step boundary, and every
 *   `checkpointEverySteps` optimizer steps), metrics.jsonl,
 *   summary.json with the best checkpoint's validation and test scores;
 * - determinism: `manualSeed(seed)` before the segmenter is built, a seeded loader (order,
 *   prompts), augmentation seeded per (seed, epoch, batch), and libtorch's generator re-seeded
 *   per (seed, epoch, batch) before each forward pass (dropout). A resumed run therefore
 *   replays exactly what an uninterrupted run does;
 * - a non-finite loss or gradient norm: the optimizer never steps on it; with `quirks: fixed`
 *   the run stops with an error naming the epoch and step (the run folder keeps its last good
 *   checkpoint), with `reference` the epoch's validation loss is inf and early stopping ends
 *   the run, as in the original (non-finite.ts);
 * - every training step runs inside `tidy`, evaluation under `noGrad`.
 *
 * A run goes through four stages, one module each: setup (run-setup.ts: data, loaders,
 * optimizer), resume (run-setup.ts: a fresh state or an interrupted run's), epochs (epoch.ts)
 * and the final evaluation (final.ts). This file orders them, holds the run folder's lock and
 * start/rollback, and frees what the run made. Records and errors: records.ts.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { BatchLoader } from '../data/loader.js';
import { ensureOutputDir } from '../util/output-guard.js';
import { manualSeed, type optim } from '../torch/index.js';
import { stringifyJson } from '../util/json.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from './config.js';
import { resumeConfig } from './run-config.js';
import { releaseCachedMemory } from './device-memory.js';
import { runEpoch } from './epoch.js';
import { finalEvaluation } from './final.js';
import { createProgress } from './progress.js';
import type { TrainOptions, TrainSummary } from './records.js';
import { runDirOf, runFiles } from './run-folder.js';
import { acquireRunLock } from './run-lock.js';
import { loadRunData, resumeState, setupRun, startClock, startState } from './run-setup.js';
import { checkRunFolderPlacement, startRunFolder, withAbsolutePaths, type RunFolderStart } from './run-start.js';

export * from './records.js';

/** Continues an interrupted run (its folder holds config.json and a resume state), where the folder is now. */
export async function resumeRun(runDir: string, opts: Omit<TrainOptions, 'resume' | 'overwrite'>): Promise<TrainSummary> {
  return train(resumeConfig(runDir), { ...opts, resume: true });
}

/**
 * Trains a segmenter as configured; see the file header and docs/train.md. The run folder is
 * locked against other processes for the whole run (src/train/run-lock.ts).
 */
export async function train(input: TrainConfigInput | TrainConfig, opts: TrainOptions): Promise<TrainSummary> {
  const typed = parseTrainConfig(input);
  // An unusable runs folder (/proc/x, read-only, a file) fails here, named as the user typed it.
  ensureOutputDir(typed.runsDir, 'runs folder (runsDir)');
  const config = withAbsolutePaths(typed);
  checkRunFolderPlacement(runDirOf(config), config);
  const lock = acquireRunLock(runDirOf(config));
  try {
    return await trainLocked(config, opts);
  } finally {
    lock.release();
  }
}

async function trainLocked(config: TrainConfig, opts: TrainOptions): Promise<TrainSummary> {
  const files = runFiles(runDirOf(config));
  const runDir = files.dir;
  if (opts.resume) {
    if (!existsSync(files.resume)) throw new Error(`${runDir}: nothing to resume (no checkpoints/resume/state.safetensors)`);
    if (existsSync(files.summary)) throw new Error(`${runDir}: the run has already finished (summary.json exists)`);
  } else if (existsSync(runDir) && readdirSync(runDir).length > 0 && !opts.overwrite) {
    throw new Error(`run folder ${runDir} already exists: resume it (--resume), pick another name, or overwrite it`);
  }
  const sessionStart = performance.now();
  const progress = createProgress(config.progress, {
    ...(opts.stream ? { stream: opts.stream } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });

  // Data first: a dataset problem should fail before a run folder is made or a large model built.
  const data = await loadRunData(config, (line) => progress.message(line));
  // The model is built before the run folder is touched: a bad model config must not cost a run.
  manualSeed(config.seed);
  const segmenter = await opts.buildSegmenter(config.model, config);
  const own: { loaders: BatchLoader[]; optimizer: optim.AdamW | null } = { loaders: [], optimizer: null };
  let folder: RunFolderStart | null = null;
  try {
    if (!opts.resume) {
      folder = startRunFolder(runDir, opts.overwrite === true);
      writeFileAtomic(files.config, `${stringifyJson(config, 2)}\n`);
    }
    const run = setupRun(config, files, segmenter, data, progress, sessionStart, own);
    let st;
    if (opts.resume) st = resumeState(run);
    else {
      st = startState(run);
      folder?.commit(); // resumable from here on
    }
    startClock(run, st, sessionStart);
    while (!st.done) await runEpoch(run, st, opts);
    return await finalEvaluation(run, st);
  } catch (e) {
    folder?.rollback();
    throw e;
  } finally {
    progress.close();
    await Promise.all(own.loaders.map((l) => l.close()));
    own.optimizer?.dispose();
    segmenter.dispose();
    releaseCachedMemory(); // CUDA: hand the cached blocks back (a sweep's next trial starts clean)
  }
}
