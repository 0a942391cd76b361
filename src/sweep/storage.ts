/**
 * Study storage: studies (name, direction, search space, sampler seed and settings) and their
 * trials (parameters, state, value, per-step intermediate values, worker id, heartbeats), in
 * SQLite (one machine, many processes) or PostgreSQL (many machines), behind one interface.
 *
 * Trials have two numbers:
 * - `number`: the row's number in the study, 0, 1, 2, ... A number is given to one worker
 *   only, and a finished trial is never reopened.
 * - `seq`: the logical trial ("trial k of the study"). A trial whose worker died (no heartbeat
 *   for `heartbeatTimeoutS`) is marked failed and its parameters are enqueued again as a new
 *   row with a new number and the same seq, so it runs again on another worker.
 *
 * The next trial is claimed atomically (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction
 * holding `pg_advisory_xact_lock` on the study), and the claim returns the finished trials the
 * sampler may learn from: in a study with `lag` L, trial seq s sees exactly the finished trials
 * with seq < s - L, and is only handed out once all of those have finished. Its parameters are
 * then a function of (seed, s, those trials), which is what makes a study run by many workers
 * give the same trials as a serial run (see study.ts). With `lag: null` a claim sees whatever
 * has finished (Optuna's asynchronous behaviour: faster, not reproducible).
 */

import type { Direction, TpeSettings, TrialState } from './tpe.js';
import type { Params, SearchSpace } from './space.js';

export interface StudyConfig {
  readonly name: string;
  readonly direction: Direction;
  readonly space: SearchSpace;
  /** Seed of the sampler's random streams. */
  readonly seed: number;
  /** Sampler settings (default: DEFAULT_SETTINGS of tpe.ts). */
  readonly sampler?: TpeSettings;
  /** Reproducibility lag (see above); null = asynchronous. Default 0. */
  readonly lag?: number | null;
  readonly attrs?: Readonly<Record<string, unknown>>;
}

export interface StudyRecord {
  readonly id: number;
  readonly name: string;
  readonly direction: Direction;
  readonly space: SearchSpace;
  readonly seed: number;
  readonly sampler: TpeSettings;
  readonly lag: number | null;
  readonly createdAt: number;
  readonly attrs: Readonly<Record<string, unknown>>;
}

export interface TrialRecord {
  readonly id: number;
  readonly studyId: number;
  readonly number: number;
  readonly seq: number;
  readonly state: TrialState;
  /** null until the claiming worker has sampled them. */
  readonly params: Params | null;
  readonly value: number | null;
  /** [step, value] pairs in step order. */
  readonly intermediate: ReadonlyArray<readonly [number, number]>;
  readonly workerId: string | null;
  /** Milliseconds since the epoch (storage clock). */
  readonly heartbeatAt: number | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** The number of the trial this one re-runs, if any. */
  readonly retryOf: number | null;
  readonly error: string | null;
  readonly attrs: Readonly<Record<string, unknown>>;
}

export interface ClaimOptions {
  readonly workerId: string;
  /** The study's total number of logical trials (seqs). */
  readonly nTrials: number;
  /** Running trials without a heartbeat for this long are failed and re-enqueued. */
  readonly heartbeatTimeoutS: number;
  /**
   * Seqs below this need no history (their parameters are random whatever they would see:
   * the sampler's start-up trials plus the lag), so they are handed out without waiting.
   */
  readonly independentBelow?: number;
}

export type Claim =
  | { readonly kind: 'trial'; readonly trial: TrialRecord; readonly history: readonly TrialRecord[] }
  | { readonly kind: 'wait' }
  | { readonly kind: 'done' };

export interface FinishResult {
  readonly state: 'complete' | 'pruned' | 'failed';
  readonly value?: number | null;
  readonly error?: string | null;
  readonly attrs?: Readonly<Record<string, unknown>>;
}

export interface StudyStorage {
  readonly url: string;
  /** Creates a study; with `loadIfExists`, returns the existing one if its direction and space agree. */
  createStudy(config: StudyConfig, opts?: { loadIfExists?: boolean }): Promise<StudyRecord>;
  loadStudy(name: string): Promise<StudyRecord | null>;
  listStudies(): Promise<StudyRecord[]>;
  deleteStudy(name: string): Promise<boolean>;
  getTrials(studyId: number): Promise<TrialRecord[]>;
  /** Adds a trial with fixed parameters, run before any newly sampled one. */
  enqueueTrial(studyId: number, params: Params): Promise<TrialRecord>;
  claimTrial(studyId: number, opts: ClaimOptions): Promise<Claim>;
  /** The following return false when the trial is no longer this worker's running trial. */
  setParams(trialId: number, workerId: string, params: Params): Promise<boolean>;
  heartbeat(trialId: number, workerId: string): Promise<boolean>;
  report(trialId: number, workerId: string, step: number, value: number): Promise<boolean>;
  finishTrial(trialId: number, workerId: string, result: FinishResult): Promise<boolean>;
  /** Fails running trials whose heartbeat is older than the timeout and re-enqueues them; returns their numbers. */
  failStaleTrials(studyId: number, heartbeatTimeoutS: number): Promise<number[]>;
  close(): Promise<void>;
}

export interface OpenStorageOptions {
  /** false: open existing storage only (default true: create the file and tables if missing). */
  readonly create?: boolean;
  /** SQLite: how long one call waits for another process's write lock before a TransientStorageError (default 60 s). */
  readonly busyTimeoutMs?: number;
  /** PostgreSQL: how long a claim waits for the study's lock before a TransientStorageError (default 10 s). */
  readonly lockTimeoutMs?: number;
  /**
   * PostgreSQL: the server ends a session left idle inside a transaction this long (default
   * 60 s), so a worker stopped while holding a study's lock (SIGSTOP, a frozen VM) frees it.
   */
  readonly idleInTransactionTimeoutMs?: number;
}

export class StorageError extends Error {
  override name = 'StorageError';
}

/**
 * A storage call that failed for a reason that passes (a lock held by another process, a lost
 * connection, a server restarting): the same call may succeed later. The worker loop retries
 * these (retry.ts); anything else is a real error.
 */
export class TransientStorageError extends StorageError {
  override name = 'TransientStorageError';
}

/**
 * Study names are names, not paths: a trial's run folder is made from it, so `/`, `\`, a leading
 * `.` (`..`, hidden folders) and control characters are refused, and so is an empty or overlong
 * name. Throws a StorageError saying which rule the name breaks.
 */
export function checkStudyName(name: string): void {
  const bad = (why: string): never => {
    throw new StorageError(`study name ${JSON.stringify(name)} ${why}: a study name is a name, not a path (e.g. clipseg__coop__kvasir)`);
  };
  if (typeof name !== 'string' || name.length === 0) bad('is empty');
  if (name.length > 200) bad('is longer than 200 characters');
  if (/[/\\]/.test(name)) bad('contains a path separator');
  if (name.startsWith('.')) bad('starts with a dot');
  if (/[\u0000-\u001f\u007f]/.test(name)) bad('contains a control character');
}

// ---------------------------------------------------------------- the SQL dialect contract

export type SqlValue = string | number | null;
export type Row = Record<string, unknown>;

/** The little a dialect has to provide; SQL is written with `?` placeholders. */
export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres';
  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs fn in a transaction that excludes other writers (to the whole database or to `lockKey`). */
  transaction<T>(lockKey: number, fn: (tx: SqlDriver) => Promise<T>): Promise<T>;
  /**
   * SQLite: the end (ms since the epoch) of the last stretch longer than a couple of seconds in
   * which this process found the database locked, once (null after it was taken). During such a
   * stretch no worker could write a heartbeat, so the reaper must not count it against them.
   */
  takeStall?(): number | null;
  /** The storage clock, in ms since the epoch. */
  now(): Promise<number>;
  close(): Promise<void>;
}
