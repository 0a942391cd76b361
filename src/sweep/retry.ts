/**
 * The worker loop's answer to a storage that goes away for a while (a PostgreSQL restart, a lost
 * connection, a SQLite write lock held by another process): which errors pass, and retrying a
 * call with backoff until they do, for a bounded time, saying so once per outage.
 *
 * Transient: TransientStorageError (the drivers' own: SQLite busy past its wait, PostgreSQL lock
 * timeout), SQLite's BUSY/LOCKED codes, PostgreSQL's connection exceptions (SQLSTATE class 08),
 * serialization failures and deadlocks (40001, 40P01), lock and statement timeouts (55P03,
 * 57014), administrator and crash shutdowns and a server starting up (57P01-57P03), too many
 * connections (53300), node-postgres' "Connection terminated" family and the socket errors of a
 * server that is down or restarting. Anything else (a constraint, a bad study name, a bug) is
 * thrown at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { redactText } from '../util/redact.js';
import { StorageError, TransientStorageError } from './storage.js';

const PG_TRANSIENT = new Set(['40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03', '53300']);
const SOCKET_TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);
const PG_MESSAGES =
  /Connection terminated|connection error|timeout exceeded when trying to connect|terminating connection|Query read timeout/i;

/** Whether `e` (or an error it wraps) is a storage failure that may pass by itself. */
export function isTransientStorageError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== null && cur !== undefined && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    if (cur instanceof TransientStorageError) return true;
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return true;
      if (/^08/.test(code) || PG_TRANSIENT.has(code) || SOCKET_TRANSIENT.has(code)) return true;
    }
    if (cur instanceof Error && !(cur instanceof StorageError) && PG_MESSAGES.test(cur.message)) return true;
  }
  return false;
}

/** The storage stayed unreachable for the whole retry budget. */
export class StorageUnavailableError extends StorageError {
  override name = 'StorageUnavailableError';
}

export interface StorageRetryOptions {
  /** The storage, as it may be printed (no password). */
  readonly url: string;
  /** How long one outage may last before the call fails (default 10 min). */
  readonly maxOutageMs?: number;
  /** Where the one line per outage goes. */
  readonly log: (line: string) => void;
}

export const DEFAULT_MAX_OUTAGE_MS = 10 * 60_000;

/**
 * Runs storage calls, retrying transient failures with exponential backoff (0.1 s doubling to
 * 10 s, jittered). An outage starts at the first failure and ends at the next success of any
 * call; it is logged once, when it starts. A call still failing once the outage has lasted
 * `maxOutageMs` throws StorageUnavailableError (with the last error as its cause).
 */
export class StorageRetry {
  private outageSince: number | null = null;
  private readonly maxOutageMs: number;

  constructor(private readonly o: StorageRetryOptions) {
    this.maxOutageMs = o.maxOutageMs ?? DEFAULT_MAX_OUTAGE_MS;
  }

  /** `what` says what was being done, e.g. "record the result of trial 3". */
  async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await fn();
        this.outageSince = null;
        return out;
      } catch (e) {
        if (!isTransientStorageError(e)) throw e;
        const now = Date.now();
        const reason = redactText(e instanceof Error ? e.message : String(e));
        if (this.outageSince === null) {
          this.outageSince = now;
          this.o.log(
            `storage ${this.o.url}: cannot ${what} (${reason}); retrying with backoff for up to ${Math.round(this.maxOutageMs / 1000)} s`,
          );
        }
        if (now - this.outageSince >= this.maxOutageMs) {
          throw new StorageUnavailableError(
            `storage ${this.o.url} unreachable for ${Math.round((now - this.outageSince) / 1000)} s: cannot ${what} (${reason})`,
            { cause: e },
          );
        }
        const delay = Math.min(10_000, 100 * 2 ** Math.min(attempt, 10));
        await sleep(delay * (0.5 + Math.random() / 2));
      }
    }
  }
}
