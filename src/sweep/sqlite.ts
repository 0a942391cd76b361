/**
 * SQLite study storage (better-sqlite3): WAL journal so readers never block the writer, and
 * `BEGIN IMMEDIATE` transactions so a claim takes the write lock before it reads (no two
 * processes can claim the same trial).
 *
 * Waiting for another process's write lock never blocks this thread: better-sqlite3 is
 * synchronous, so SQLite's own busy timeout would freeze the whole worker (its heartbeats, its
 * training) for as long as the holder keeps the lock, e.g. a worker stopped mid-claim. Each
 * attempt waits at most BUSY_SLICE_MS inside SQLite; between attempts the event loop runs
 * (with backoff), up to `busyTimeoutMs` per call, after which the call fails with a
 * TransientStorageError that the worker loop retries (retry.ts). Stretches of waiting longer
 * than STALL_MS are reported through `takeStall` (sql-storage.ts: no heartbeat could be written
 * meanwhile, so the reaper does not count that time against running trials).
 */

import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageError, TransientStorageError } from './storage.js';
import { SqlStudyStorage } from './sql-storage.js';
import type { OpenStorageOptions, Row, SqlDriver, SqlValue, StudyStorage } from './storage.js';

/** How long a call waits for another process's write lock before failing (transiently). */
export const SQLITE_BUSY_TIMEOUT_MS = 60_000;
/** How long one attempt may block the thread inside SQLite's busy handler. */
const BUSY_SLICE_MS = 25;
/** A wait for the lock longer than this is a stall (see takeStall). */
const STALL_MS = 2_000;

const isBusy = (e: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/.test(String((e as { code?: unknown }).code ?? ''));
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const queues = new Map<string | symbol, Promise<void>>();

export async function openSqlite(file: string, url = `sqlite:${file}`, opts: OpenStorageOptions = {}): Promise<StudyStorage> {
  const create = opts.create !== false;
  if (!create && file !== ':memory:' && !fs.existsSync(file)) {
    throw new StorageError(
      `${url}: no study database at ${path.resolve(file)} (no sweep has written there; pass the --storage the sweep used)`,
    );
  }
  if (create && file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let db: Database.Database;
  try {
    // Opening waits as SQLite does (a sweep creating the file at the same moment); calls then
    // wait in slices (patiently, below).
    db = new Database(file, { timeout: SQLITE_BUSY_TIMEOUT_MS, fileMustExist: !create });
    // A database made by a sweep is already in WAL mode; an opener that may not create leaves the file's mode alone.
    if (create) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_SLICE_MS}`);
  } catch (e) {
    throw new StorageError(`${url}: cannot open SQLite database ${file}: ${(e as Error).message}`);
  }
  const cache = new Map<string, Database.Statement>();
  const stmt = (sql: string): Database.Statement => {
    let s = cache.get(sql);
    if (!s) cache.set(sql, (s = db.prepare(sql)));
    return s;
  };
  // One operation at a time per database file in this process, over all its connections: a
  // heartbeat timer must not slip a statement into another task's open transaction, and a
  // second connection waiting for the write lock would block the thread (better-sqlite3 is
  // synchronous) while the holder, on the same thread, can never finish.
  const key = file === ':memory:' ? Symbol('memory') : path.resolve(file);
  const exclusive = <T>(fn: () => Promise<T> | T): Promise<T> => {
    const prev = queues.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    queues.set(key, tail);
    void tail.then(() => {
      if (queues.get(key) === tail) queues.delete(key);
    });
    return next;
  };
  const busyTimeoutMs = opts.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS;
  let busySince: number | null = null;
  let stallEnd: number | null = null;
  /** Runs `fn` until it does not find the database locked (the event loop runs between attempts). */
  const patiently = async <T>(fn: () => T | Promise<T>): Promise<T> => {
    const t0 = Date.now();
    for (let delay = 5; ; delay = Math.min(250, delay * 2)) {
      try {
        const out = await fn();
        if (busySince !== null && Date.now() - busySince > STALL_MS) stallEnd = Date.now();
        busySince = null;
        return out;
      } catch (e) {
        if (!isBusy(e)) throw e;
        busySince ??= Date.now();
        if (Date.now() - t0 >= busyTimeoutMs) {
          throw new TransientStorageError(
            `${url}: the database stayed locked by another process for ${Math.round((Date.now() - t0) / 1000)} s (${(e as Error).message})`,
            { cause: e },
          );
        }
        await pause(delay);
      }
    }
  };
  const raw: SqlDriver = {
    dialect: 'sqlite',
    all: async (sql, params: readonly SqlValue[] = []) => {
      const s = stmt(sql);
      if (s.reader) return s.all(...params) as Row[];
      s.run(...params);
      return [];
    },
    run: async (sql, params: readonly SqlValue[] = []) => stmt(sql).run(...params).changes,
    transaction: async (_lockKey, fn) => fn(raw),
    now: async () => Date.now(),
    close: async () => {
      db.close();
    },
  };
  const driver: SqlDriver = {
    dialect: 'sqlite',
    all: (sql, params) => exclusive(() => patiently(() => raw.all(sql, params))),
    run: (sql, params) => exclusive(() => patiently(() => raw.run(sql, params))),
    transaction: (_lockKey, fn) =>
      exclusive(async () => {
        await patiently(() => db.exec('BEGIN IMMEDIATE'));
        try {
          const out = await fn(raw);
          db.exec('COMMIT');
          return out;
        } catch (e) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw e;
        }
      }),
    now: async () => Date.now(),
    takeStall: () => {
      const t = stallEnd;
      stallEnd = null;
      return t;
    },
    close: () => exclusive(() => raw.close()),
  };
  try {
    return await SqlStudyStorage.open(driver, url, opts);
  } catch (e) {
    db.close();
    throw e;
  }
}
