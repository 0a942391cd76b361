/**
 * The study storage in SQL, written once for both dialects (sqlite.ts and postgres.ts provide
 * the driver): schema and migration, trial numbering, atomic claims with the reproducibility lag
 * of storage.ts, heartbeats and re-runs of trials whose worker died.
 */

import { DEFAULT_SETTINGS, parseTpeSettings } from './tpe.js';
import type { Direction, TrialState } from './tpe.js';
import type { Params } from './space.js';
import { parseSpace } from './space.js';
import { checkStudyName, StorageError } from './storage.js';
import type {
  Claim,
  ClaimOptions,
  FinishResult,
  Row,
  SqlDriver,
  SqlValue,
  StudyConfig,
  StudyRecord,
  StudyStorage,
  TrialRecord,
} from './storage.js';

const SCHEMA_VERSION = 1;

function schema(dialect: 'sqlite' | 'postgres'): string[] {
  const id = dialect === 'sqlite' ? 'INTEGER PRIMARY KEY AUTOINCREMENT' : 'BIGSERIAL PRIMARY KEY';
  return [
    `CREATE TABLE IF NOT EXISTS tvs_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS tvs_studies (
      id ${id},
      name TEXT NOT NULL UNIQUE,
      direction TEXT NOT NULL CHECK (direction IN ('minimize', 'maximize')),
      space TEXT NOT NULL,
      seed BIGINT NOT NULL,
      sampler TEXT NOT NULL,
      lag INTEGER,
      created_at DOUBLE PRECISION NOT NULL,
      attrs TEXT NOT NULL DEFAULT '{}'
    )`,
    `CREATE TABLE IF NOT EXISTS tvs_trials (
      id ${id},
      study_id BIGINT NOT NULL REFERENCES tvs_studies(id) ON DELETE CASCADE,
      number INTEGER NOT NULL,
      seq INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'complete', 'pruned', 'failed')),
      params TEXT,
      value DOUBLE PRECISION,
      worker_id TEXT,
      heartbeat_at DOUBLE PRECISION,
      started_at DOUBLE PRECISION,
      finished_at DOUBLE PRECISION,
      retry_of INTEGER,
      error TEXT,
      attrs TEXT NOT NULL DEFAULT '{}',
      UNIQUE (study_id, number)
    )`,
    `CREATE INDEX IF NOT EXISTS tvs_trials_state ON tvs_trials (study_id, state)`,
    `CREATE INDEX IF NOT EXISTS tvs_trials_seq ON tvs_trials (study_id, seq)`,
    `CREATE TABLE IF NOT EXISTS tvs_intermediate (
      trial_id BIGINT NOT NULL REFERENCES tvs_trials(id) ON DELETE CASCADE,
      step INTEGER NOT NULL,
      value DOUBLE PRECISION,
      PRIMARY KEY (trial_id, step)
    )`,
  ];
}

const num = (x: unknown): number => Number(x);
const numOrNull = (x: unknown): number | null => (x === null || x === undefined ? null : Number(x));
const json = <T>(x: unknown, fallback: T): T => (typeof x === 'string' ? (JSON.parse(x) as T) : fallback);

/** Lock key of the schema migration (studies use their id, which is >= 1). */
const MIGRATION_LOCK = 0;

function checkVersion(rows: Row[], url: string): void {
  if (Number(rows[0]?.['value']) !== SCHEMA_VERSION) {
    throw new StorageError(`${url}: study schema version ${String(rows[0]?.['value'])} is not the supported ${SCHEMA_VERSION}`);
  }
}

export class SqlStudyStorage implements StudyStorage {
  private constructor(
    private readonly db: SqlDriver,
    readonly url: string,
  ) {}

  /**
   * With `create: false` (readers: `study show`, `worker`) nothing is created: storage that holds
   * no studies is an error, not an empty schema written as a side effect of looking.
   */
  static async open(db: SqlDriver, url: string, opts: { create?: boolean } = {}): Promise<SqlStudyStorage> {
    if (opts.create === false) {
      const exists =
        db.dialect === 'sqlite'
          ? `SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?`
          : `SELECT 1 AS x FROM information_schema.tables WHERE table_name = ? AND table_schema = current_schema()`;
      if ((await db.all(exists, ['tvs_meta'])).length === 0)
        throw new StorageError(`${url} holds no tunevlseg studies (no sweep has written there)`);
      checkVersion(await db.all(`SELECT value FROM tvs_meta WHERE key = 'schema_version'`), url);
      return new SqlStudyStorage(db, url);
    }
    await db.transaction(MIGRATION_LOCK, async (tx) => {
      for (const stmt of schema(db.dialect)) await tx.run(stmt);
      const rows = await tx.all(`SELECT value FROM tvs_meta WHERE key = 'schema_version'`);
      if (rows.length === 0) await tx.run(`INSERT INTO tvs_meta (key, value) VALUES ('schema_version', ?)`, [String(SCHEMA_VERSION)]);
      else checkVersion(rows, url);
    });
    return new SqlStudyStorage(db, url);
  }

  private studyFromRow(r: Row): StudyRecord {
    return {
      id: num(r['id']),
      name: String(r['name']),
      direction: r['direction'] as Direction,
      space: parseSpace(json(r['space'], {}), `study "${String(r['name'])}" space`),
      seed: num(r['seed']),
      sampler: parseTpeSettings(json(r['sampler'], {}), `study "${String(r['name'])}" sampler`),
      lag: numOrNull(r['lag']),
      createdAt: num(r['created_at']),
      attrs: json(r['attrs'], {}),
    };
  }

  private trialFromRow(r: Row, intermediate: ReadonlyArray<readonly [number, number]>): TrialRecord {
    return {
      id: num(r['id']),
      studyId: num(r['study_id']),
      number: num(r['number']),
      seq: num(r['seq']),
      state: r['state'] as TrialState,
      params: r['params'] === null || r['params'] === undefined ? null : json<Params>(r['params'], {}),
      value: numOrNull(r['value']),
      intermediate,
      workerId: (r['worker_id'] as string | null) ?? null,
      heartbeatAt: numOrNull(r['heartbeat_at']),
      startedAt: numOrNull(r['started_at']),
      finishedAt: numOrNull(r['finished_at']),
      retryOf: numOrNull(r['retry_of']),
      error: (r['error'] as string | null) ?? null,
      attrs: json(r['attrs'], {}),
    };
  }

  /** Trials of a study matching `where` (on columns of tvs_trials t), with intermediate values. */
  private async trials(
    db: SqlDriver,
    studyId: number,
    where = '',
    params: readonly SqlValue[] = [],
    order = 't.number',
  ): Promise<TrialRecord[]> {
    const rows = await db.all(`SELECT t.* FROM tvs_trials t WHERE t.study_id = ? ${where} ORDER BY ${order}`, [studyId, ...params]);
    if (rows.length === 0) return [];
    const iv = await db.all(
      `SELECT i.trial_id, i.step, i.value FROM tvs_intermediate i JOIN tvs_trials t ON t.id = i.trial_id WHERE t.study_id = ? ${where} ORDER BY i.trial_id, i.step`,
      [studyId, ...params],
    );
    const byTrial = new Map<number, [number, number][]>();
    for (const r of iv) {
      const id = num(r['trial_id']);
      let list = byTrial.get(id);
      if (!list) byTrial.set(id, (list = []));
      list.push([num(r['step']), r['value'] === null ? NaN : num(r['value'])]);
    }
    return rows.map((r) => this.trialFromRow(r, byTrial.get(num(r['id'])) ?? []));
  }

  async createStudy(config: StudyConfig, opts: { loadIfExists?: boolean } = {}): Promise<StudyRecord> {
    checkStudyName(config.name);
    if (config.direction !== 'minimize' && config.direction !== 'maximize')
      throw new StorageError(`direction must be "minimize" or "maximize", got ${JSON.stringify(config.direction)}`);
    if (!Number.isInteger(config.seed) || config.seed < 0 || config.seed > 0xffffffff)
      throw new StorageError(`seed must be an integer in [0, 2**32 - 1], got ${config.seed}`);
    const lag = config.lag === undefined ? 0 : config.lag;
    if (lag !== null && (!Number.isInteger(lag) || lag < 0))
      throw new StorageError(`lag must be a non-negative integer or null, got ${lag}`);
    parseSpace(config.space);
    if (config.sampler) parseTpeSettings(config.sampler);
    const now = await this.db.now();
    const inserted = await this.db.run(
      `INSERT INTO tvs_studies (name, direction, space, seed, sampler, lag, created_at, attrs) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
      [
        config.name,
        config.direction,
        JSON.stringify(config.space),
        config.seed,
        JSON.stringify(config.sampler ?? DEFAULT_SETTINGS),
        lag,
        now,
        JSON.stringify(config.attrs ?? {}),
      ],
    );
    const study = await this.loadStudy(config.name);
    if (!study) throw new StorageError(`study "${config.name}" vanished while being created`);
    if (inserted === 0) {
      if (!opts.loadIfExists) throw new StorageError(`study "${config.name}" already exists in ${this.url}`);
      if (study.direction !== config.direction)
        throw new StorageError(`study "${config.name}" exists with direction ${study.direction}, not ${config.direction}`);
      if (JSON.stringify(study.space) !== JSON.stringify(config.space))
        throw new StorageError(`study "${config.name}" exists with a different search space`);
    }
    return study;
  }

  async loadStudy(name: string): Promise<StudyRecord | null> {
    const rows = await this.db.all(`SELECT * FROM tvs_studies WHERE name = ?`, [name]);
    return rows[0] ? this.studyFromRow(rows[0]) : null;
  }

  async listStudies(): Promise<StudyRecord[]> {
    return (await this.db.all(`SELECT * FROM tvs_studies ORDER BY id`)).map((r) => this.studyFromRow(r));
  }

  async deleteStudy(name: string): Promise<boolean> {
    const study = await this.loadStudy(name);
    if (!study) return false;
    await this.db.transaction(study.id, async (tx) => {
      await tx.run(`DELETE FROM tvs_intermediate WHERE trial_id IN (SELECT id FROM tvs_trials WHERE study_id = ?)`, [study.id]);
      await tx.run(`DELETE FROM tvs_trials WHERE study_id = ?`, [study.id]);
      await tx.run(`DELETE FROM tvs_studies WHERE id = ?`, [study.id]);
    });
    return true;
  }

  getTrials(studyId: number): Promise<TrialRecord[]> {
    return this.trials(this.db, studyId);
  }

  private async nextNumbers(tx: SqlDriver, studyId: number): Promise<{ number: number; seq: number }> {
    const r = (await tx.all(`SELECT MAX(number) AS n, MAX(seq) AS s FROM tvs_trials WHERE study_id = ?`, [studyId]))[0] ?? {};
    return {
      number: r['n'] === null || r['n'] === undefined ? 0 : num(r['n']) + 1,
      seq: r['s'] === null || r['s'] === undefined ? 0 : num(r['s']) + 1,
    };
  }

  async enqueueTrial(studyId: number, params: Params): Promise<TrialRecord> {
    return this.db.transaction(studyId, async (tx) => {
      const { number, seq } = await this.nextNumbers(tx, studyId);
      await tx.run(`INSERT INTO tvs_trials (study_id, number, seq, state, params) VALUES (?, ?, ?, 'waiting', ?)`, [
        studyId,
        number,
        seq,
        JSON.stringify(params),
      ]);
      return (await this.trials(tx, studyId, 'AND t.number = ?', [number]))[0] as TrialRecord;
    });
  }

  /**
   * Records a stall the driver saw (SQLite: the database locked for seconds, e.g. by a worker
   * stopped mid-claim), so that no process reaps a trial for missing heartbeats it could not
   * write. Called after a write succeeded, i.e. once the database is writable again.
   */
  private async noteStall(db: SqlDriver): Promise<void> {
    const end = this.db.takeStall?.() ?? null;
    if (end === null) return;
    const sql = `INSERT INTO tvs_meta (key, value) VALUES ('stall_end', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
    if (db !== this.db) return void (await db.run(sql, [String(end)]));
    // Outside a transaction it is a courtesy to the reapers: the write it follows has succeeded
    // and must not be reported as failed because this one found the lock taken again.
    await db.run(sql, [String(end)]).catch(() => undefined);
  }

  private async reap(tx: SqlDriver, studyId: number, timeoutS: number, now: number): Promise<number[]> {
    await this.noteStall(tx);
    // Within a heartbeat timeout of a stall, missing heartbeats prove nothing: wait.
    const stallEnd = Number((await tx.all(`SELECT value FROM tvs_meta WHERE key = 'stall_end'`))[0]?.['value'] ?? 0);
    if (now - stallEnd < timeoutS * 1000) return [];
    const stale = await tx.all(`SELECT * FROM tvs_trials WHERE study_id = ? AND state = 'running' AND heartbeat_at < ? ORDER BY number`, [
      studyId,
      now - timeoutS * 1000,
    ]);
    const failed: number[] = [];
    for (const r of stale) {
      const n = num(r['number']);
      const msg = `worker ${String(r['worker_id'])} stopped sending heartbeats (none for ${timeoutS} s); re-enqueued`;
      await tx.run(`UPDATE tvs_trials SET state = 'failed', finished_at = ?, error = ? WHERE id = ?`, [now, msg, num(r['id'])]);
      const { number } = await this.nextNumbers(tx, studyId);
      await tx.run(`INSERT INTO tvs_trials (study_id, number, seq, state, params, retry_of) VALUES (?, ?, ?, 'waiting', ?, ?)`, [
        studyId,
        number,
        num(r['seq']),
        (r['params'] as string | null) ?? null,
        n,
      ]);
      failed.push(n);
    }
    return failed;
  }

  failStaleTrials(studyId: number, heartbeatTimeoutS: number): Promise<number[]> {
    return this.db.transaction(studyId, async (tx) => this.reap(tx, studyId, heartbeatTimeoutS, await tx.now()));
  }

  /** The finished trials trial `seq` learns from. */
  private async history(tx: SqlDriver, studyId: number, lag: number | null, seq: number): Promise<TrialRecord[]> {
    if (lag === null) return this.trials(tx, studyId, "AND t.state IN ('complete', 'pruned')");
    return this.trials(tx, studyId, "AND t.state IN ('complete', 'pruned') AND t.seq < ?", [seq - lag], 't.seq, t.number');
  }

  async claimTrial(studyId: number, opts: ClaimOptions): Promise<Claim> {
    const lagRow = (await this.db.all(`SELECT lag FROM tvs_studies WHERE id = ?`, [studyId]))[0];
    if (!lagRow) throw new StorageError(`no study with id ${studyId} in ${this.url}`);
    const lag = numOrNull(lagRow['lag']);
    return this.db.transaction(studyId, async (tx): Promise<Claim> => {
      const now = await tx.now();
      await this.reap(tx, studyId, opts.heartbeatTimeoutS, now);
      const take = async (id: number, _number: number, seq: number, needsHistory: boolean): Promise<Claim> => {
        const trial = (await this.trials(tx, studyId, 'AND t.id = ?', [id]))[0] as TrialRecord;
        return { kind: 'trial', trial, history: needsHistory ? await this.history(tx, studyId, lag, seq) : [] };
      };

      // 1. Enqueued trials (user-enqueued, or re-runs of trials whose worker died) first.
      const waiting = (
        await tx.all(
          `SELECT id, number, seq, params FROM tvs_trials WHERE study_id = ? AND state = 'waiting' ORDER BY seq, number LIMIT 1`,
          [studyId],
        )
      )[0];
      if (waiting) {
        const id = num(waiting['id']);
        await tx.run(`UPDATE tvs_trials SET state = 'running', worker_id = ?, heartbeat_at = ?, started_at = ? WHERE id = ?`, [
          opts.workerId,
          now,
          now,
          id,
        ]);
        return take(id, num(waiting['number']), num(waiting['seq']), waiting['params'] === null);
      }

      // 2. A new logical trial, once the trials it learns from have finished.
      const { number, seq } = await this.nextNumbers(tx, studyId);
      if (seq >= opts.nTrials) {
        const active = await tx.all(`SELECT id FROM tvs_trials WHERE study_id = ? AND state IN ('running', 'waiting') LIMIT 1`, [studyId]);
        return active.length > 0 ? { kind: 'wait' } : { kind: 'done' };
      }
      if (lag !== null && seq >= (opts.independentBelow ?? 0)) {
        const pending = await tx.all(
          `SELECT id FROM tvs_trials WHERE study_id = ? AND state IN ('running', 'waiting') AND seq < ? LIMIT 1`,
          [studyId, seq - lag],
        );
        if (pending.length > 0) return { kind: 'wait' };
      }
      const rows = await tx.all(
        `INSERT INTO tvs_trials (study_id, number, seq, state, worker_id, heartbeat_at, started_at) VALUES (?, ?, ?, 'running', ?, ?, ?) RETURNING id`,
        [studyId, number, seq, opts.workerId, now, now],
      );
      return take(num(rows[0]?.['id']), number, seq, true);
    });
  }

  private owns = "id = ? AND state = 'running' AND worker_id = ?";

  async setParams(trialId: number, workerId: string, params: Params): Promise<boolean> {
    const ok =
      (await this.db.run(`UPDATE tvs_trials SET params = ? WHERE ${this.owns}`, [JSON.stringify(params), trialId, workerId])) === 1;
    await this.noteStall(this.db);
    return ok;
  }

  async heartbeat(trialId: number, workerId: string): Promise<boolean> {
    const now = await this.db.now();
    const ok = (await this.db.run(`UPDATE tvs_trials SET heartbeat_at = ? WHERE ${this.owns}`, [now, trialId, workerId])) === 1;
    await this.noteStall(this.db);
    return ok;
  }

  async report(trialId: number, workerId: string, step: number, value: number): Promise<boolean> {
    if (!Number.isInteger(step) || step < 0) throw new StorageError(`step must be a non-negative integer, got ${step}`);
    const now = await this.db.now();
    if ((await this.db.run(`UPDATE tvs_trials SET heartbeat_at = ? WHERE ${this.owns}`, [now, trialId, workerId])) !== 1) return false;
    await this.db.run(
      `INSERT INTO tvs_intermediate (trial_id, step, value) VALUES (?, ?, ?) ON CONFLICT (trial_id, step) DO UPDATE SET value = excluded.value`,
      [trialId, step, Number.isNaN(value) ? null : value],
    );
    return true;
  }

  async finishTrial(trialId: number, workerId: string, result: FinishResult): Promise<boolean> {
    const now = await this.db.now();
    const value = result.value === undefined || result.value === null || Number.isNaN(result.value) ? null : result.value;
    if (result.state === 'complete' && value === null) throw new StorageError('a complete trial needs a numeric value');
    const sets = ['state = ?', 'value = ?', 'finished_at = ?', 'heartbeat_at = ?', 'error = ?'];
    const params: SqlValue[] = [result.state, value, now, now, result.error ?? null];
    if (result.attrs) {
      sets.push('attrs = ?');
      params.push(JSON.stringify(result.attrs));
    }
    const ok = (await this.db.run(`UPDATE tvs_trials SET ${sets.join(', ')} WHERE ${this.owns}`, [...params, trialId, workerId])) === 1;
    await this.noteStall(this.db);
    return ok;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
