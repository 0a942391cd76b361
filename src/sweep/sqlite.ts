/**
 * SQLite study storage (better-sqlite3): WAL journal so readers never block the writer, a busy
 * timeout so concurrent processes queue instead of failing, and `BEGIN IMMEDIATE` transactions
 * so a claim takes the write lock before it reads (no two processes can claim the same trial).
 */

import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { StorageError } from "./storage.js";
import { SqlStudyStorage } from "./sql-storage.js";
import type { OpenStorageOptions, Row, SqlDriver, SqlValue, StudyStorage } from "./storage.js";

/** How long a statement waits for another process's write lock before failing. */
export const SQLITE_BUSY_TIMEOUT_MS = 60_000;

const queues = new Map<string | symbol, Promise<void>>();

export async function openSqlite(file: string, url = `sqlite:${file}`, opts: OpenStorageOptions = {}): Promise<StudyStorage> {
  const create = opts.create !== false;
  if (!create && file !== ":memory:" && !fs.existsSync(file)) {
    throw new StorageError(`${url}: no study database at ${path.resolve(file)} (no sweep has written there; pass the --storage the sweep used)`);
  }
  if (create && file !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: SQLITE_BUSY_TIMEOUT_MS, fileMustExist: !create });
    // A database made by a sweep is already in WAL mode; an opener that may not create leaves the file's mode alone.
    if (create) db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
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
  const key = file === ":memory:" ? Symbol("memory") : path.resolve(file);
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
  const raw: SqlDriver = {
    dialect: "sqlite",
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
    dialect: "sqlite",
    all: (sql, params) => exclusive(() => raw.all(sql, params)),
    run: (sql, params) => exclusive(() => raw.run(sql, params)),
    transaction: (_lockKey, fn) =>
      exclusive(async () => {
        db.exec("BEGIN IMMEDIATE");
        try {
          const out = await fn(raw);
          db.exec("COMMIT");
          return out;
        } catch (e) {
          if (db.inTransaction) db.exec("ROLLBACK");
          throw e;
        }
      }),
    now: async () => Date.now(),
    close: () => exclusive(() => raw.close()),
  };
  try {
    return await SqlStudyStorage.open(driver, url, opts);
  } catch (e) {
    db.close();
    throw e;
  }
}
