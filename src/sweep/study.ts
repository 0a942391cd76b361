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
 */

import os from "node:os";
import { randomBytes } from "node:crypto";
import { sampleForTrial, tpeOptionsFromSettings } from "./tpe.js";
import type { TrialObservation } from "./tpe.js";
import type { Params } from "./space.js";
import type { StudyConfig, StudyRecord, StudyStorage, TrialRecord } from "./storage.js";
import { StorageError } from "./storage.js";
import type { Pruner } from "./pruners.js";
import { paramImportances } from "./importance.js";
import { redactText } from "../hub/redact.js";
import type { ParamImportance } from "./importance.js";

/** Thrown by `report` when the pruner stops the trial; the trial is recorded as pruned. */
export class TrialPruned extends Error {
  override name = "TrialPruned";
  constructor(message = "trial pruned") {
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
}

export interface RunStudyResult {
  readonly study: StudyRecord;
  /** Trials this worker finished (any state). */
  readonly ran: number;
  readonly best: TrialRecord | null;
}

export function defaultWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

/** The best complete trial (lowest number among equals). */
export function bestTrial(study: Pick<StudyRecord, "direction">, trials: readonly TrialRecord[]): TrialRecord | null {
  let best: TrialRecord | null = null;
  for (const t of trials) {
    if (t.state !== "complete" || t.value === null) continue;
    if (!best || (study.direction === "minimize" ? t.value < (best.value as number) : t.value > (best.value as number))) best = t;
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
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

async function resolveStudy(storage: StudyStorage, study: string | StudyConfig): Promise<StudyRecord> {
  if (typeof study !== "string") return storage.createStudy(study, { loadIfExists: true });
  const found = await storage.loadStudy(study);
  if (!found) throw new StorageError(`no study named "${study}" in ${storage.url}`);
  return found;
}

export async function runStudy(opts: RunStudyOptions): Promise<RunStudyResult> {
  const { storage, objective, pruner, signal } = opts;
  if (!Number.isInteger(opts.nTrials) || opts.nTrials < 0) throw new RangeError(`nTrials must be a non-negative integer, got ${opts.nTrials}`);
  const workerId = opts.workerId ?? defaultWorkerId();
  const heartbeatMs = (opts.heartbeatIntervalS ?? 10) * 1000;
  const timeoutS = opts.heartbeatTimeoutS ?? 60;
  if (timeoutS * 1000 <= heartbeatMs) throw new RangeError("heartbeatTimeoutS must be longer than heartbeatIntervalS");
  const pollMs = (opts.pollIntervalS ?? 1) * 1000;
  const study = await resolveStudy(storage, opts.study);
  const tpe = { ...tpeOptionsFromSettings(study.sampler), direction: study.direction };
  const independentBelow = study.lag === null ? 0 : (tpe.nStartupTrials ?? 10) + study.lag;
  let ran = 0;

  while (!signal?.aborted) {
    const claim = await storage.claimTrial(study.id, { workerId, nTrials: opts.nTrials, heartbeatTimeoutS: timeoutS, independentBelow });
    if (claim.kind === "done") break;
    if (claim.kind === "wait") {
      await sleep(pollMs, signal);
      continue;
    }
    const trial = claim.trial;
    let lost = false;
    const beat = setInterval(() => {
      storage.heartbeat(trial.id, workerId).then(
        (ok) => {
          if (!ok) lost = true;
        },
        () => undefined, // a storage hiccup: the next beat retries
      );
    }, heartbeatMs);
    beat.unref();
    try {
      let params = trial.params;
      if (params === null) {
        const history = claim.history.filter((t) => t.params !== null).map(toObservation);
        params = sampleForTrial(study.space, history, { ...tpe, seed: study.seed, seq: trial.seq, lag: study.lag });
        if (!(await storage.setParams(trial.id, workerId, params))) lost = true;
      }
      const report: Report = async (step, value) => {
        if (!(await storage.report(trial.id, workerId, step, value))) {
          lost = true;
          throw new TrialPruned(`trial ${trial.number} is no longer this worker's (heartbeat timed out)`);
        }
        if (!pruner) return;
        const trials = await storage.getTrials(study.id);
        const self = trials.find((t) => t.id === trial.id);
        if (self && pruner.prune({ trial: self, trials, direction: study.direction })) throw new TrialPruned(`trial ${trial.number} pruned at step ${step}`);
      };
      const info: TrialInfo = { study: study.name, number: trial.number, seq: trial.seq, retryOf: trial.retryOf, workerId };
      let finished: boolean;
      let thrown: unknown = null;
      if (lost) continue;
      try {
        const out = await objective(params, report, info);
        const value = typeof out === "number" ? out : out.value;
        const attrs = typeof out === "number" ? undefined : out.attrs;
        finished = Number.isNaN(value) || typeof value !== "number"
          ? await storage.finishTrial(trial.id, workerId, { state: "failed", error: `objective returned ${String(value)}`, ...(attrs ? { attrs } : {}) })
          : await storage.finishTrial(trial.id, workerId, { state: "complete", value, ...(attrs ? { attrs } : {}) });
      } catch (e) {
        if (e instanceof TrialPruned) {
          if (lost) continue;
          const current = (await storage.getTrials(study.id)).find((t) => t.id === trial.id);
          const last = current?.intermediate.at(-1);
          finished = await storage.finishTrial(trial.id, workerId, { state: "pruned", value: last ? last[1] : null });
        } else {
          // The whole message (not its first line) is the trial's record, credentials masked.
          const msg = redactText(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
          finished = await storage.finishTrial(trial.id, workerId, { state: "failed", error: msg });
          if (opts.catchErrors === false) thrown = e;
        }
      }
      if (finished) {
        ran++;
        if (opts.onTrialFinished) {
          const rec = (await storage.getTrials(study.id)).find((t) => t.id === trial.id);
          if (rec) opts.onTrialFinished(rec);
        }
      }
      if (thrown) throw thrown;
    } finally {
      clearInterval(beat);
    }
  }
  return { study, ran, best: bestTrial(study, await storage.getTrials(study.id)) };
}

export interface StudySummary {
  readonly study: StudyRecord;
  readonly trials: readonly TrialRecord[];
  readonly counts: Readonly<Record<TrialRecord["state"], number>>;
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
