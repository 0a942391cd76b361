/**
 * The worker loop of a study: claim a trial, sample its parameters with TPE, run the
 * objective (with heartbeats, intermediate reports and pruning), record the result; repeat
 * until the study has `nTrials` finished trials. Any number of processes on any number of
 * machines can run it on the same study through a shared storage.
 *
 * Reproducibility: trial seq s is sampled from (study seed, s, the finished trials with
 * seq < s - lag) only, and is handed out once those have finished (storage.ts). So with a
 * deterministic objective and no pruning, every trial's parameters and value - hence the best
 * value - are the same whether one worker or many run the study, and whether or not some
 * workers die on the way (their trials re-run with the same parameters). A study with lag L
 * keeps up to L + 1 trials in flight after its start-up trials; choose L >= workers - 1 to keep
 * every worker busy (lag 0 = serial semantics: Optuna's serial study.optimize). Pruning
 * decisions depend on what other trials have reported at the time, so they are not
 * reproducible across worker counts.
 *
 * The storage may go away for a while (a restart, a lost connection, a lock held by a stopped
 * process): every storage call here is retried with backoff on transient errors (retry.ts), and
 * the objective's errors are kept apart from the storage's, so a finished result is never
 * recorded as failed because the storage failed; one that cannot be written at all leaves the
 * trial running, to be reaped and re-run (docs/sweep.md, "When the storage goes away").
 */

import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { sampleForTrial, tpeOptionsFromSettings } from './tpe.js';
import type { TrialObservation } from './tpe.js';
import type { Params } from './space.js';
import type { FinishResult, StudyConfig, StudyRecord, StudyStorage, TrialRecord } from './storage.js';
import { StorageRetry } from './retry.js';
import { StorageError } from './storage.js';
import type { Pruner } from './pruners.js';
import { paramImportances } from './importance.js';
import { redactText } from '../util/redact.js';
import type { ParamImportance } from './importance.js';

/** Thrown by `report` when the pruner stops the trial; the trial is recorded as pruned. */
export class TrialPruned extends Error {
  override name = 'TrialPruned';
  constructor(message = 'trial pruned') {
    super(message);
  }
}

export interface TrialInfo {
  readonly study: string;
  readonly number: number;
  readonly seq: number;
  readonly retryOf: number | null;
  readonly workerId: string;
}

/** Records an intermediate value (e.g. the validation loss after an epoch); throws TrialPruned when the pruner says stop. */
export type Report = (step: number, value: number) => Promise<void>;

export type ObjectiveResult = number | { readonly value: number; readonly attrs?: Readonly<Record<string, unknown>> };

export type Objective = (params: Params, report: Report, trial: TrialInfo) => Promise<ObjectiveResult>;

export interface RunStudyOptions {
  readonly storage: StudyStorage;
  /** A study name (it must exist) or a config (created unless it exists with the same space). */
  readonly study: string | StudyConfig;
  readonly objective: Objective;
  /** Total number of trials of the study (not per worker). */
  readonly nTrials: number;
  readonly workerId?: string;
  readonly pruner?: Pruner;
  /** Seconds between heartbeats while a trial runs (default 10). */
  readonly heartbeatIntervalS?: number;
  /** A running trial without heartbeat for this long is failed and re-run (default 60). */
  readonly heartbeatTimeoutS?: number;
  /** Seconds between claims while waiting for other workers' trials (default 1). */
  readonly pollIntervalS?: number;
  /** Record objective errors as failed trials and go on (default true); false: record, then rethrow. */
  readonly catchErrors?: boolean;
  /** Stop claiming new trials when aborted (the running trial finishes first). */
  readonly signal?: AbortSignal;
  readonly onTrialFinished?: (trial: TrialRecord) => void;
  /** Where the worker says that the storage is away (one line per outage; default stderr). */
  readonly log?: (line: string) => void;
  /** How long the storage may stay away before the worker gives up (default 600 s; retry.ts). */
  readonly maxOutageS?: number;
}

export interface RunStudyResult {
  readonly study: StudyRecord;
  /** Trials this worker finished (any state). */
  readonly ran: number;
  readonly best: TrialRecord | null;
}

export function defaultWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

/** The best complete trial (lowest number among equals). */
export function bestTrial(study: Pick<StudyRecord, 'direction'>, trials: readonly TrialRecord[]): TrialRecord | null {
  let best: TrialRecord | null = null;
  for (const t of trials) {
    if (t.state !== 'complete' || t.value === null) continue;
    if (!best || (study.direction === 'minimize' ? t.value < (best.value as number) : t.value > (best.value as number))) best = t;
  }
  return best;
}

function toObservation(t: TrialRecord): TrialObservation {
  return { params: t.params ?? {}, state: t.state, value: t.value, intermediate: t.intermediate, seq: t.seq };
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

async function resolveStudy(storage: StudyStorage, study: string | StudyConfig): Promise<StudyRecord> {
  if (typeof study !== 'string') return storage.createStudy(study, { loadIfExists: true });
  const found = await storage.loadStudy(study);
  if (!found) throw new StorageError(`no study named "${study}" in ${storage.url}`);
  return found;
}

export async function runStudy(opts: RunStudyOptions): Promise<RunStudyResult> {
  const { storage, objective, pruner, signal } = opts;
  if (!Number.isInteger(opts.nTrials) || opts.nTrials < 0)
    throw new RangeError(`nTrials must be a non-negative integer, got ${opts.nTrials}`);
  const workerId = opts.workerId ?? defaultWorkerId();
  const heartbeatMs = (opts.heartbeatIntervalS ?? 10) * 1000;
  const timeoutS = opts.heartbeatTimeoutS ?? 60;
  if (timeoutS * 1000 <= heartbeatMs) throw new RangeError('heartbeatTimeoutS must be longer than heartbeatIntervalS');
  const pollMs = (opts.pollIntervalS ?? 1) * 1000;
  const retry = new StorageRetry({
    url: storage.url,
    log: opts.log ?? ((l) => console.error(l)),
    ...(opts.maxOutageS !== undefined ? { maxOutageMs: opts.maxOutageS * 1000 } : {}),
  });
  const study = await retry.run('load the study', () => resolveStudy(storage, opts.study));
  const tpe = { ...tpeOptionsFromSettings(study.sampler), direction: study.direction };
  const independentBelow = study.lag === null ? 0 : (tpe.nStartupTrials ?? 10) + study.lag;
  const trialRecord = async (id: number): Promise<TrialRecord | undefined> =>
    (await retry.run("read the study's trials", () => storage.getTrials(study.id))).find((t) => t.id === id);
  let ran = 0;

  while (!signal?.aborted) {
    const claim = await retry.run('claim a trial', () =>
      storage.claimTrial(study.id, { workerId, nTrials: opts.nTrials, heartbeatTimeoutS: timeoutS, independentBelow }),
    );
    if (claim.kind === 'done') break;
    if (claim.kind === 'wait') {
      await sleep(pollMs, signal);
      continue;
    }
    const trial = claim.trial;
    const beat = startHeartbeat(storage, trial.id, workerId, heartbeatMs);
    try {
      let params = trial.params;
      if (params === null) {
        const history = claim.history.filter((t) => t.params !== null).map(toObservation);
        params = sampleForTrial(study.space, history, { ...tpe, seed: study.seed, seq: trial.seq, lag: study.lag });
        const p = params;
        if (!(await retry.run(`record the parameters of trial ${trial.number}`, () => storage.setParams(trial.id, workerId, p)))) continue; // reaped meanwhile
      }
      // A storage failure inside report() is the storage's, not the objective's: remembered here
      // so that whatever the objective makes of it, the trial is not recorded as failed.
      let storageFailure: unknown = null;
      const report: Report = async (step, value) => {
        let ok: boolean;
        try {
          ok = await retry.run(`report step ${step} of trial ${trial.number}`, () => storage.report(trial.id, workerId, step, value));
        } catch (e) {
          storageFailure ??= e;
          throw e;
        }
        if (!ok) {
          beat.lost = true;
          throw new TrialPruned(`trial ${trial.number} is no longer this worker's (heartbeat timed out)`);
        }
        if (!pruner) return;
        let trials: TrialRecord[];
        try {
          trials = await retry.run("read the study's trials", () => storage.getTrials(study.id));
        } catch (e) {
          storageFailure ??= e;
          throw e;
        }
        const self = trials.find((t) => t.id === trial.id);
        if (self && pruner.prune({ trial: self, trials, direction: study.direction }))
          throw new TrialPruned(`trial ${trial.number} pruned at step ${step}`);
      };
      const info: TrialInfo = { study: study.name, number: trial.number, seq: trial.seq, retryOf: trial.retryOf, workerId };
      if (beat.lost) continue;

      // 1. The objective. Its errors are the trial's; nothing below this block is.
      let outcome:
        | { kind: 'value'; value: unknown; attrs?: Readonly<Record<string, unknown>> }
        | { kind: 'pruned' }
        | { kind: 'error'; error: unknown };
      try {
        const out = await objective(params, report, info);
        outcome =
          typeof out === 'number'
            ? { kind: 'value', value: out }
            : { kind: 'value', value: out.value, ...(out.attrs ? { attrs: out.attrs } : {}) };
      } catch (e) {
        outcome = e instanceof TrialPruned ? { kind: 'pruned' } : { kind: 'error', error: e };
      }
      // The storage failed under the objective: leave the trial RUNNING (its heartbeats stop
      // below), so that it is reaped and re-run, and stop this worker with the storage's error.
      if (storageFailure !== null) throw storageFailure;
      if (beat.lost && outcome.kind !== 'value') continue;

      // 2. Recording the result: storage errors are retried (retry.ts), never taken for the
      // objective's. A result that cannot be written leaves the trial RUNNING (see above).
      let result: FinishResult;
      let thrown: unknown = null;
      if (outcome.kind === 'value') {
        const { value, attrs } = outcome;
        result =
          typeof value !== 'number' || Number.isNaN(value)
            ? { state: 'failed', error: `objective returned ${String(value)}`, ...(attrs ? { attrs } : {}) }
            : { state: 'complete', value, ...(attrs ? { attrs } : {}) };
      } else if (outcome.kind === 'pruned') {
        const last = (await trialRecord(trial.id))?.intermediate.at(-1);
        result = { state: 'pruned', value: last ? last[1] : null };
      } else {
        // The whole message (not its first line) is the trial's record, credentials masked.
        const e = outcome.error;
        result = { state: 'failed', error: redactText(e instanceof Error ? `${e.name}: ${e.message}` : String(e)) };
        if (opts.catchErrors === false) thrown = e;
      }
      let attempts = 0;
      let finished = await retry.run(`record the result of trial ${trial.number}`, () => {
        attempts++;
        return storage.finishTrial(trial.id, workerId, result);
      });
      if (!finished && attempts > 1) {
        // A retried write may have landed before its connection dropped: the row says.
        const rec = await trialRecord(trial.id);
        finished = rec?.state === result.state && rec.workerId === workerId;
      }
      if (finished) {
        ran++;
        if (opts.onTrialFinished) {
          const rec = await trialRecord(trial.id);
          if (rec) opts.onTrialFinished(rec);
        }
      } else if (outcome.kind === 'value') {
        (opts.log ?? ((l) => console.error(l)))(
          `trial ${trial.number}: its result was not recorded: the trial was given to another worker (no heartbeat for ${timeoutS} s), which runs it again`,
        );
      }
      if (thrown) throw thrown;
    } finally {
      beat.stop();
    }
  }
  return { study, ran, best: bestTrial(study, await retry.run("read the study's trials", () => storage.getTrials(study.id))) };
}

/**
 * Heartbeats of a running trial, one at a time (a slow one is never stacked behind another).
 * A heartbeat the storage refuses means the trial was given to another worker (`lost`); one that
 * fails (the storage is away) is simply tried again at the next beat.
 */
function startHeartbeat(storage: StudyStorage, trialId: number, workerId: string, everyMs: number): { lost: boolean; stop(): void } {
  let pending = false;
  const state = {
    lost: false,
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    if (pending) return;
    pending = true;
    storage
      .heartbeat(trialId, workerId)
      .then(
        (ok) => {
          if (!ok) state.lost = true;
        },
        () => undefined,
      )
      .finally(() => {
        pending = false;
      });
  }, everyMs);
  timer.unref();
  return state;
}

export interface StudySummary {
  readonly study: StudyRecord;
  readonly trials: readonly TrialRecord[];
  readonly counts: Readonly<Record<TrialRecord['state'], number>>;
  readonly best: TrialRecord | null;
  readonly importances: readonly ParamImportance[];
}

/** Everything `tunevlseg study show` prints: states, best trial, parameter importances. */
export async function summarizeStudy(storage: StudyStorage, name: string): Promise<StudySummary> {
  const study = await storage.loadStudy(name);
  if (!study) throw new StorageError(`no study named "${name}" in ${storage.url}`);
  const trials = await storage.getTrials(study.id);
  const counts = { waiting: 0, running: 0, complete: 0, pruned: 0, failed: 0 };
  for (const t of trials) counts[t.state]++;
  return { study, trials, counts, best: bestTrial(study, trials), importances: paramImportances(study.space, trials) };
}
