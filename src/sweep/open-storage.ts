/**
 * Opening study storage from a URL. Its own module so that the storage contract (storage.ts),
 * the SQL implementation (sql-storage.ts) and the two drivers (sqlite.ts, postgres.ts) import
 * one another in one direction only.
 */

import { StorageError } from './storage.js';
import type { OpenStorageOptions, StudyStorage } from './storage.js';

/** Path of a `sqlite:` URL: `sqlite:path`, `sqlite:///relative`, `sqlite:////absolute`, `sqlite::memory:`. */
export function sqlitePath(url: string): string {
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(3); // sqlite:///x -> x, sqlite:////abs -> /abs
  if (!rest) throw new StorageError(`${url}: no database path (expected sqlite:path/to/study.db)`);
  return rest;
}

/**
 * Opens study storage from a URL:
 * - `sqlite:path/to/studies.db` (also `sqlite:///rel.db`, `sqlite:////abs.db`): a file shared by
 *   the processes of one machine (WAL mode);
 * - `postgres://user:pass@host:5432/db` (or `postgresql://`): a server shared by many machines.
 * Tables are created on first use, unless `create: false`: then the storage must already hold
 * tunevlseg studies (reading never creates a database file or tables).
 */
export async function openStorage(url: string, opts: OpenStorageOptions = {}): Promise<StudyStorage> {
  if (url.startsWith('sqlite:')) {
    const { openSqlite } = await import('./sqlite.js');
    return openSqlite(sqlitePath(url), url, opts);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgres } = await import('./postgres.js');
    return openPostgres(url, opts);
  }
  throw new StorageError(
    `unsupported storage URL ${JSON.stringify(url)}: expected sqlite:path/to/studies.db or postgres://user:pass@host:port/db`,
  );
}

/**
 * `openStorage` for a worker: a storage that cannot be reached for a transient reason (a
 * PostgreSQL server restarting, refusing or resetting connections) is waited for, with backoff,
 * for up to `maxOutageMs` (default 10 min; one line through `log`), instead of failing at once.
 * A bad URL, a refused login or a missing database still fails at once.
 */
export async function openStoragePatiently(
  url: string,
  opts: OpenStorageOptions,
  log: (line: string) => void,
  maxOutageMs?: number,
): Promise<StudyStorage> {
  const { StorageRetry } = await import('./retry.js');
  const { redactUrl } = await import('../util/redact.js');
  return new StorageRetry({ url: redactUrl(url), log, ...(maxOutageMs !== undefined ? { maxOutageMs } : {}) }).run('connect', () =>
    openStorage(url, opts),
  );
}
