/**
 * Workers: the loop that claims a study's trials and runs each as a training run, in this
 * process (`runWorker`) or as local worker processes (`spawnWorkers`), and what a finished study
 * must hold to count as a result (`assertSomeTrialCompleted`).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  openStorage,
  openStoragePatiently,
  runStudy,
  summarizeStudy,
  MedianPruner,
  SuccessiveHalvingPruner,
  TrialPruned,
  type Pruner,
  type StudyStorage,
  type StudySummary,
} from '../sweep/index.js';
import { train, TrainingInterruptedError, type TrainConfigInput, type TrainSummary } from '../train/index.js';
import { urlPassword, urlWithoutPassword } from '../util/redact.js';
import { shellCommand } from '../util/shell-quote.js';
import { epochObjectiveValue, objectiveValue, trialConfig, type SweepObjective } from './trial.js';

export function makePruner(name: string): Pruner | undefined {
  if (name === 'none') return undefined;
  if (name === 'median') return new MedianPruner({ nStartupTrials: 5, nWarmupSteps: 2 });
  if (name === 'halving') return new SuccessiveHalvingPruner();
  throw new Error(`unknown pruner "${name}" (none, median, halving)`);
}

export interface WorkerOptions {
  nTrials?: number;
  pruner?: string;
  quiet?: boolean;
  workerId?: string;
  /** Train every trial on this device (`cpu`, `cuda:1`, ...), whatever the study's config says. */
  device?: string;
}

const DEVICE = /^(cpu|cuda(:\d+)?)$/;

/**
 * `--devices`: a comma-separated list (`cuda:0,cuda:1`, `cpu,cpu`) or `all` (every CUDA device
 * libtorch sees), one worker process each. A device may repeat (two workers sharing it).
 */
export function parseDevices(spec: string, cudaDeviceCount: number): string[] {
  if (spec.trim() === 'all') {
    if (cudaDeviceCount === 0)
      throw new Error('--devices all: libtorch sees no CUDA device here (tunevlseg doctor); list devices instead, e.g. --devices cpu,cpu');
    return Array.from({ length: cudaDeviceCount }, (_, i) => `cuda:${i}`);
  }
  const list = spec
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  if (list.length === 0) throw new Error('--devices: expected a list such as cuda:0,cuda:1, or all');
  for (const d of list) {
    if (!DEVICE.test(d)) throw new Error(`--devices: "${d}" is not a device (expected cpu, cuda or cuda:<n>)`);
    const n = /^cuda:(\d+)$/.exec(d);
    if (n && Number(n[1]) >= cudaDeviceCount)
      throw new Error(`--devices: ${d} does not exist (libtorch sees ${cudaDeviceCount} CUDA device(s))`);
    if (d === 'cuda' && cudaDeviceCount === 0) throw new Error('--devices: cuda given but libtorch sees no CUDA device');
  }
  return list;
}

/** Runs trials of an existing study until it has nTrials (any number of these may run at once). */
export async function runWorker(storage: StudyStorage, studyName: string, o: WorkerOptions): Promise<number> {
  const study = await storage.loadStudy(studyName);
  if (!study) throw new Error(`no study named "${studyName}" in ${storage.url} (create it with tunevlseg sweep)`);
  const base = study.attrs.train as TrainConfigInput | undefined;
  const objective = (study.attrs.objective as SweepObjective | undefined) ?? 'val_loss';
  if (!base) throw new Error(`study "${studyName}" has no training config (attrs.train): it was not created by tunevlseg sweep`);
  const nTrials = o.nTrials ?? (study.attrs.nTrials as number | undefined) ?? 20;
  const pruner = makePruner(o.pruner ?? (study.attrs.pruner as string | undefined) ?? 'none');
  const res = await runStudy({
    storage,
    study: studyName,
    nTrials,
    pruner,
    workerId: o.workerId,
    objective: async (params, report, trial) => {
      const cfg = trialConfig(base, params, study, trial.number);
      if (o.device !== undefined) cfg.device = o.device;
      const ac = new AbortController();
      let pruned: unknown = null;
      const pending: Promise<void>[] = [];
      let summary: TrainSummary;
      try {
        // Never overwrite: the folder is this trial's own (trial.ts); one that exists was made by
        // something else and the trial fails naming it.
        summary = await train(
          { ...cfg, progress: o.quiet ? 'none' : 'lines' },
          {
            buildSegmenter: async (model) => (await import('../tuning/factory.js')).buildSegmenter(model as Record<string, unknown>),
            signal: ac.signal,
            onEpoch: (r) => {
              const v = epochObjectiveValue(objective, r);
              pending.push(
                report(r.epoch, v).catch((e: unknown) => {
                  pruned = e;
                  ac.abort();
                }),
              );
            },
          },
        );
      } catch (e) {
        await Promise.all(pending);
        if (pruned && e instanceof TrainingInterruptedError) throw pruned;
        throw e;
      }
      await Promise.all(pending);
      if (pruned instanceof TrialPruned) throw pruned;
      const value = objectiveValue(objective, summary);
      return {
        value,
        attrs: { runDir: summary.runDir, testDice: summary.test?.dice ?? null, valDice: summary.val.dice, epochs: summary.epochs },
      };
    },
    onTrialFinished: (t) => {
      // A failed trial's reason always reaches the log: silent failures make a useless sweep.
      if (t.state === 'failed') console.error(`trial ${t.number} failed: ${t.error ?? 'unknown error'}`);
      else if (!o.quiet)
        console.log(
          `trial ${t.number}: ${t.state}${t.value !== null && t.value !== undefined ? ` value=${t.value.toFixed(5)}` : ''} ${JSON.stringify(t.params)}`,
        );
    },
  });
  return res.ran;
}

/** `worker`: joins an existing study (its storage must exist) and runs trials; returns how many. */
export async function joinStudy(url: string, studyName: string, o: WorkerOptions): Promise<number> {
  const storage = await openStudyStorage(url, studyName, true);
  try {
    const ran = await runWorker(storage, studyName, o);
    if (ran > 0) assertSomeTrialCompleted(await summarizeStudy(storage, studyName));
    return ran;
  } finally {
    await storage.close();
  }
}

/**
 * Storage that must already hold the study: reading or joining never creates a database. A
 * joining worker (`patient`) waits for a database that is away for a transient reason (a restart).
 */
export async function openStudyStorage(url: string, study: string, patient = false): Promise<StudyStorage> {
  try {
    return patient
      ? await openStoragePatiently(url, { create: false }, (l) => console.error(l))
      : await openStorage(url, { create: false });
  } catch (e) {
    throw new Error(`study "${study}": ${(e as Error).message}`);
  }
}

/** A study's summary, read without creating anything (`study show`). */
export async function readStudy(url: string, studyName: string): Promise<StudySummary> {
  const storage = await openStudyStorage(url, studyName);
  try {
    return await summarizeStudy(storage, studyName);
  } finally {
    await storage.close();
  }
}

/**
 * How to join from another machine, with no credential in it: the password goes through the
 * environment (PGPASSWORD or ~/.pgpass), never into a command line that shell history and the
 * process list keep.
 */
export function joinHint(url: string, study: string): string {
  const cmd = shellCommand(['tunevlseg', 'worker', '--storage', urlWithoutPassword(url), '--study', study]);
  if (!/^postgres(ql)?:\/\//.test(url)) return `join from elsewhere with\n  ${cmd}`;
  const lines = [`join from elsewhere with (the password in $PGPASSWORD or ~/.pgpass, not in the URL)\n  PGPASSWORD=... ${cmd}`];
  if (urlPassword(url) !== null) {
    lines.push(
      'note: --storage holds a password, which the process list and your shell history keep; pass it as PGPASSWORD or in ~/.pgpass instead',
    );
  }
  return lines.join('\n');
}

/**
 * Local worker processes, one per entry of `devices` (null: the study's device); the storage
 * password reaches them through PGPASSWORD, never argv.
 */
export async function spawnWorkers(
  url: string,
  study: string,
  nTrials: number,
  devices: readonly (string | null)[],
  quiet: boolean,
): Promise<number[]> {
  const bin = fileURLToPath(new URL('../../../bin/tunevlseg.js', import.meta.url));
  const password = urlPassword(url);
  const env = {
    ...process.env,
    TUNEVLSEG_THREADS: process.env.TUNEVLSEG_THREADS ?? '1',
    ...(password !== null ? { PGPASSWORD: password } : {}),
  };
  return Promise.all(
    devices.map(
      (device, i) =>
        new Promise<number>((res) => {
          const args = [
            bin,
            'worker',
            '--storage',
            urlWithoutPassword(url),
            '--study',
            study,
            '--trials',
            String(nTrials),
            '--worker-id',
            `local-${i}${device ? `-${device}` : ''}`,
          ];
          if (device) args.push('--device', device);
          if (quiet) args.push('--quiet');
          const p = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
          p.on('exit', (code) => res(code ?? 1));
        }),
    ),
  );
}

/** A study none of whose trials completed; carries the summary so the caller can still show it. */
export class StudyFailedError extends Error {
  override name = 'StudyFailedError';
  constructor(
    message: string,
    readonly summary: StudySummary,
  ) {
    super(message);
  }
}

/** A study with no completed trial is a failed sweep: an error with the first reason, whole. */
export function assertSomeTrialCompleted(s: StudySummary): void {
  if (s.counts.complete > 0 || s.trials.length === 0) return;
  const first = s.trials.find((t) => t.state === 'failed');
  const what = `${s.counts.failed} failed${s.counts.pruned ? `, ${s.counts.pruned} pruned` : ''}`;
  throw new StudyFailedError(
    `study "${s.study.name}": no trial completed (${what})` +
      (first ? `; first failure, trial ${first.number}:\n${first.error ?? 'unknown error'}` : ''),
    s,
  );
}
