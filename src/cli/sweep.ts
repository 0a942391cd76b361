// `tunevlseg sweep | worker | study show`: TPE hyperparameter sweeps of a model x learner x
// dataset cell, each trial a full training run, studies kept in SQLite or PostgreSQL so that
// workers on any machine can join (src/sweep does the sampling, storage and claiming).
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  openStorage, runStudy, summarizeStudy, learnerSpace, MedianPruner, SuccessiveHalvingPruner, TrialPruned,
  LEARNERS, type LearnerName, type Params, type Pruner, type StudyConfig, type SearchSpace, type StudyStorage,
} from '../sweep/index.js';
import { optionForReferenceName } from '../learners/reference.js';
import { DEFAULT_LEARNER } from '../learners/registry.js';
import { train, readConfigFile, TrainingInterruptedError, type TrainConfigInput, type TrainSummary } from '../train/index.js';


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

function makePruner(name: string): Pruner | undefined {
  if (name === 'none') return undefined;
  if (name === 'median') return new MedianPruner({ nStartupTrials: 5, nWarmupSteps: 2 });
  if (name === 'halving') return new SuccessiveHalvingPruner();
  throw new Error(`unknown pruner "${name}" (none, median, halving)`);
}

/** Runs trials of an existing study until it has nTrials (any number of these may run at once). */
export async function runWorker(storage: StudyStorage, studyName: string, o: { nTrials?: number; pruner?: string; quiet?: boolean; workerId?: string }): Promise<number> {
  const study = await storage.loadStudy(studyName);
  if (!study) throw new Error(`no study named "${studyName}" in ${storage.url} (create it with tunevlseg sweep)`);
  const base = study.attrs.train as TrainConfigInput | undefined;
  const objective = (study.attrs.objective as SweepObjective | undefined) ?? 'val_loss';
  if (!base) throw new Error(`study "${studyName}" has no training config (attrs.train): it was not created by tunevlseg sweep`);
  const nTrials = o.nTrials ?? (study.attrs.nTrials as number | undefined) ?? 20;
  const pruner = makePruner(o.pruner ?? (study.attrs.pruner as string | undefined) ?? 'none');
  const res = await runStudy({
    storage, study: studyName, nTrials, pruner, workerId: o.workerId,
    objective: async (params, report, trial) => {
      const cfg = trialConfig(base, params, studyName, trial.number);
      const ac = new AbortController();
      let pruned: unknown = null;
      const pending: Promise<void>[] = [];
      let summary: TrainSummary;
      try {
        summary = await train({ ...cfg, progress: o.quiet ? 'none' : 'lines' }, {
          buildSegmenter: async (model) => (await import('../tuning/factory.js')).buildSegmenter(model as Record<string, unknown>),
          overwrite: true,
          signal: ac.signal,
          onEpoch: (r) => {
            const v = objective === 'val_dice' ? r.valDice : r.valLoss;
            pending.push(report(r.epoch, v).catch((e: unknown) => {
              pruned = e;
              ac.abort();
            }));
          },
        });
      } catch (e) {
        await Promise.all(pending);
        if (pruned && e instanceof TrainingInterruptedError) throw pruned;
        throw e;
      }
      await Promise.all(pending);
      if (pruned instanceof TrialPruned) throw pruned;
      const value = objectiveValue(objective, summary);
      return { value, attrs: { runDir: summary.runDir, testDice: summary.test?.dice ?? null, valDice: summary.val.dice, epochs: summary.epochs } };
    },
    onTrialFinished: (t) => {
      // A failed trial's reason always reaches the log: silent failures make a useless sweep.
      if (t.state === 'failed') console.error(`trial ${t.number} failed: ${t.error ?? 'unknown error'}`);
      else if (!o.quiet) console.log(`trial ${t.number}: ${t.state}${t.value !== null && t.value !== undefined ? ` value=${t.value.toFixed(5)}` : ''} ${JSON.stringify(t.params)}`);
    },
  });
  return res.ran;
}

export interface SweepOptions {
  model: string;
  learner: string;
  dataset: string;
  trials: string;
  storage: string;
  study?: string;
  workers: string;
  seed: string;
  objective: SweepObjective | 'auto';
  pruner: string;
  maxDepth: string;
  config?: string;
  runsDir: string;
  maxEpochs?: string;
  quiet?: boolean;
}

export async function sweep(o: SweepOptions): Promise<void> {
  if (!(LEARNERS as readonly string[]).includes(o.learner)) throw new Error(`unknown learner "${o.learner}" (${LEARNERS.join(', ')})`);
  const learner = o.learner as LearnerName;
  const nTrials = Number.parseInt(o.trials, 10);
  const workers = Number.parseInt(o.workers, 10);
  if (!(nTrials > 0) || !(workers > 0)) throw new Error('--trials and --workers must be positive integers');
  const fileCfg = o.config ? readConfigFile(o.config) : {};
  const studyName = o.study ?? `${o.model.replace(/[^\w.-]+/g, '_')}__${learner}__${resolve(o.dataset).split('/').filter(Boolean).pop()}`;
  const base = {
    ...fileCfg,
    data: { ...((fileCfg.data as Record<string, unknown> | undefined) ?? {}), dir: resolve(o.dataset) },
    model: { ...((fileCfg.model as Record<string, unknown> | undefined) ?? {}), model: o.model, learner },
    runsDir: resolve(o.runsDir),
    ...(o.maxEpochs ? { maxEpochs: Number.parseInt(o.maxEpochs, 10) } : {}),
  } as TrainConfigInput;
  const objective = o.objective === 'auto' ? autoObjective((base.model ?? {}) as Record<string, unknown>) : o.objective;
  const config: StudyConfig = {
    name: studyName,
    direction: objective === 'val_dice' ? 'maximize' : 'minimize',
    space: sweepSpace(learner, Number.parseInt(o.maxDepth, 10)),
    seed: Number.parseInt(o.seed, 10),
    lag: workers - 1,
    attrs: { train: base, objective, nTrials, pruner: o.pruner, model: o.model, learner, dataset: resolve(o.dataset) },
  };
  const storage = await openStorage(o.storage);
  try {
    await storage.createStudy(config, { loadIfExists: true });
    console.log(`study ${studyName} in ${o.storage}: ${nTrials} trials, ${workers} worker(s); join from elsewhere with\n  tunevlseg worker --storage ${o.storage} --study ${studyName}`);
    if (workers === 1) {
      await runWorker(storage, studyName, { nTrials, pruner: o.pruner, quiet: o.quiet });
    } else {
      const bin = fileURLToPath(new URL('../../../bin/tunevlseg.js', import.meta.url));
      const codes = await Promise.all(Array.from({ length: workers }, (_, i) => new Promise<number>((res) => {
        const args = [bin, 'worker', '--storage', o.storage, '--study', studyName, '--trials', String(nTrials), '--worker-id', `local-${i}`];
        if (o.quiet) args.push('--quiet');
        const p = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, TUNEVLSEG_THREADS: process.env.TUNEVLSEG_THREADS ?? '1' } });
        p.on('exit', (code) => res(code ?? 1));
      })));
      if (codes.some((c) => c !== 0)) throw new Error(`worker exit codes: ${codes.join(', ')}`);
    }
    printStudy(await summarizeStudy(storage, studyName), false);
  } finally {
    await storage.close();
  }
}

function printStudy(s: Awaited<ReturnType<typeof summarizeStudy>>, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ study: s.study.name, direction: s.study.direction, counts: s.counts, best: s.best, importances: s.importances,
      trials: s.trials.map((t) => ({ number: t.number, state: t.state, value: t.value, params: t.params, attrs: t.attrs })) }));
    return;
  }
  console.log(`study ${s.study.name} (${s.study.direction}), ${JSON.stringify(s.counts)}`);
  const names = Object.keys(s.trials[0]?.params ?? {});
  console.log(['#', 'state', 'value', ...names].join('\t'));
  for (const t of s.trials) {
    console.log([t.number, t.state, t.value === null || t.value === undefined ? '-' : t.value.toPrecision(5), ...names.map((n) => JSON.stringify(t.params?.[n] ?? null))].join('\t'));
  }
  for (const t of s.trials) if (t.state === 'failed' && t.error) console.log(`trial ${t.number} failed: ${t.error.split('\n')[0]}`);
  if (s.best) console.log(`best: trial ${s.best.number}, value ${String(s.best.value)}, ${JSON.stringify(s.best.params)}`);
  const imp = [...s.importances].sort((a, b) => b.importance - a.importance);
  if (imp.length) console.log(`importance: ${imp.map((i) => `${i.param} ${i.importance.toFixed(2)}`).join(', ')}`);
}

export function registerSweepCommands(program: Command): void {
  program.command('sweep')
    .description('TPE hyperparameter sweep of one model x learner x dataset (each trial a training run)')
    .requiredOption('--dataset <dir>', 'dataset folder (docs/data.md)')
    .option('--model <m>', 'base model: preset, folder or hub id', 'clipseg')
    .option('--learner <l>', `context learner (${LEARNERS.join(', ')})`, DEFAULT_LEARNER)
    .option('--trials <n>', 'trials in the study', '20')
    .option('--storage <url>', 'sqlite:<file> or postgres://...', 'sqlite:runs/studies.db')
    .option('--study <name>', 'study name (default <model>__<learner>__<dataset>)')
    .option('--workers <n>', 'local worker processes (each trial still uses the threads it is given)', '1')
    .option('--seed <n>', 'sampler seed', '0')
    .option('--objective <o>', 'auto, val_loss (last epoch, minimised: the reference), best_val_loss (best checkpoint\'s) or val_dice (maximised); auto: val_loss with quirks reference, best_val_loss with fixed', 'auto')
    .option('--pruner <p>', 'none, median or halving (stops bad trials early, on per-epoch values)', 'none')
    .option('--max-depth <n>', 'largest prompt depth sampled (<= the encoders\' layers)', '10')
    .option('-c, --config <file>', 'base training config (YAML/JSON, docs/train.md)')
    .option('--runs-dir <dir>', 'trial run folders go to <dir>/<study>/trial-NNN', 'runs/sweeps')
    .option('--max-epochs <n>', 'override the training config\'s maxEpochs')
    .option('-q, --quiet', 'no per-epoch lines')
    .action(async (o: SweepOptions) => {
      if (o.objective !== 'auto' && !SWEEP_OBJECTIVES.includes(o.objective)) throw new Error(`--objective must be auto or one of ${SWEEP_OBJECTIVES.join(', ')}, got "${o.objective}"`);
      await sweep(o);
    });
  program.command('worker')
    .description('join a sweep study from any machine and run its trials until it has enough')
    .requiredOption('--storage <url>', 'the study storage (postgres://... for many machines)')
    .requiredOption('--study <name>', 'study name')
    .option('--trials <n>', 'total trials of the study (default: what the study was created with)')
    .option('--pruner <p>', 'override the study\'s pruner')
    .option('--worker-id <id>', 'name in the trials table (default host:pid)')
    .option('-q, --quiet', 'no per-trial lines')
    .action(async (o: { storage: string; study: string; trials?: string; pruner?: string; workerId?: string; quiet?: boolean }) => {
      const storage = await openStorage(o.storage);
      try {
        const ran = await runWorker(storage, o.study, { nTrials: o.trials ? Number.parseInt(o.trials, 10) : undefined, pruner: o.pruner, quiet: o.quiet, workerId: o.workerId });
        if (!o.quiet) console.log(`worker ran ${ran} trial(s)`);
      } finally {
        await storage.close();
      }
    });
  const study = program.command('study').description('inspect sweep studies');
  study.command('show <name>')
    .description('trials table, best parameters and the importance of each parameter')
    .option('--storage <url>', 'the study storage', 'sqlite:runs/studies.db')
    .option('--json', 'one JSON object')
    .action(async (name: string, o: { storage: string; json?: boolean }) => {
      const storage = await openStorage(o.storage);
      try {
        printStudy(await summarizeStudy(storage, name), o.json === true);
      } finally {
        await storage.close();
      }
    });
}

