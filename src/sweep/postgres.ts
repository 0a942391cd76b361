/**
 * PostgreSQL study storage (node-postgres). Each claim runs in a transaction that first takes
 * `pg_advisory_xact_lock` on the study, so claims of one study are serialised across every
 * machine while other studies proceed; the lock is released by COMMIT/ROLLBACK, and also if
 * the connection dies. Times come from the server's clock, so workers on machines whose clocks
 * disagree still judge heartbeats the same way.
 *
 * A worker stopped while holding that lock (SIGSTOP, a frozen VM) must not freeze the others:
 * a claim waits for the lock at most `lockTimeoutMs` (then a transient error the worker loop
 * retries), and the server ends a session idle inside a transaction for
 * `idleInTransactionTimeoutMs`, which frees the lock. Heartbeats are plain row updates and never
 * wait for it. A connection that dies (a server restart) is dropped from the pool, never reused;
 * the next call connects again.
 */

import pg from 'pg';
import { redactUrl } from '../util/redact.js';
import { StorageError, TransientStorageError } from './storage.js';
import { SqlStudyStorage } from './sql-storage.js';
import type { OpenStorageOptions, Row, SqlDriver, SqlValue, StudyStorage } from './storage.js';

/** First half of the advisory-lock key pair: marks the locks as tunevlseg's. */
const LOCK_NAMESPACE = 0x7476;

/** `?` placeholders to `$1, $2, ...` (our SQL has no `?` inside literals). */
function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

const NOW_SQL = 'SELECT (extract(epoch from clock_timestamp()) * 1000)::float8 AS now';

function clientDriver(q: (sql: string, params?: readonly SqlValue[]) => Promise<pg.QueryResult>): Omit<SqlDriver, 'transaction' | 'close'> {
  return {
    dialect: 'postgres',
    all: async (sql, params = []) => (await q(numbered(sql), params)).rows as Row[],
    run: async (sql, params = []) => (await q(numbered(sql), params)).rowCount ?? 0,
    now: async () => Number((await q(NOW_SQL)).rows[0]?.now),
  };
}

/**
 * One connection and `SELECT 1` before the pool starts, so that a bad URL or a refused login
 * fails at once. On failure the socket is destroyed: node-postgres leaves it open after a failed
 * password exchange, which would keep the process alive until the server's authentication
 * timeout (a minute) after the error was already printed.
 */
async function probe(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
  } catch (e) {
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    let why = (e as Error).message;
    if (/password must be a string/.test(why))
      why = 'the server asks for a password and none was given: set PGPASSWORD or add the server to ~/.pgpass';
    // The cause keeps the error's code: a server restarting (ECONNREFUSED, 57P03) is transient, a bad password is not.
    throw new StorageError(`${redactUrl(url)}: cannot connect to PostgreSQL: ${why}`, { cause: e });
  }
}

export const PG_LOCK_TIMEOUT_MS = 10_000;
export const PG_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

export async function openPostgres(url: string, opts: OpenStorageOptions = {}): Promise<StudyStorage> {
  const lockTimeoutMs = Math.max(1, Math.round(opts.lockTimeoutMs ?? PG_LOCK_TIMEOUT_MS));
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    // A server that is down or restarting: fail the attempt (the worker loop retries) instead of waiting forever.
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    idle_in_transaction_session_timeout: Math.max(1, Math.round(opts.idleInTransactionTimeoutMs ?? PG_IDLE_IN_TRANSACTION_TIMEOUT_MS)),
  });
  // An idle client losing its connection must not crash the worker; the next query reconnects.
  pool.on('error', () => undefined);
  const base = clientDriver((sql, params) => pool.query(sql, params as SqlValue[]));
  const driver: SqlDriver = {
    ...base,
    transaction: async (lockKey, fn) => {
      const client = await pool.connect();
      // A checked-out client is not watched by the pool: without a listener, a connection the
      // server terminates (restart, admin shutdown) would be an uncaught 'error' event.
      const onError = (): void => undefined;
      client.on('error', onError);
      const tx: SqlDriver = {
        ...clientDriver((sql, params) => client.query(sql, params as SqlValue[])),
        transaction: () => Promise.reject(new StorageError('nested transactions are not supported')),
        close: async () => undefined,
      };
      let failed: Error | undefined;
      try {
        await client.query('BEGIN');
        await client.query(`SET LOCAL lock_timeout = ${lockTimeoutMs}`);
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, lockKey]);
        const out = await fn(tx);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        failed = e as Error;
        await client.query('ROLLBACK').catch(() => undefined);
        if ((e as { code?: string }).code === '55P03') {
          throw new TransientStorageError(
            `${redactUrl(url)}: the study's lock stayed taken for ${lockTimeoutMs / 1000} s (another worker is claiming, or stopped while claiming)`,
            { cause: e },
          );
        }
        throw e;
      } finally {
        client.off('error', onError);
        // A client whose transaction failed may hold a dead connection: destroy it, do not pool it.
        client.release(failed);
      }
    },
    close: () => pool.end(),
  };
  try {
    await probe(url);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  try {
    return await SqlStudyStorage.open(driver, redactUrl(url), opts);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
}
