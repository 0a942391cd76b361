/**
 * A cross-process lock per run folder, so that two `train` processes never write one run
 * (two `--resume` at once would interleave metrics.jsonl and race on the checkpoints).
 *
 * The lock is a file next to the run folder, `<runsDir>/.<name>.lock`, created with O_EXCL and
 * holding `{ pid, host, started }`. It sits beside the folder rather than inside it so that
 * `--overwrite` can move the old folder away and make a new one while holding it. A lock whose
 * process is gone (same host, pid no longer alive) is stale and taken over; a live holder makes
 * the second process fail at once with the run and the holder's pid named.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class RunLockedError extends Error {
  constructor(
    readonly runDir: string,
    readonly holderPid: number,
    readonly holderHost: string,
  ) {
    super(
      `run ${runDir} is in use by another tunevlseg process (pid ${holderPid}${holderHost !== os.hostname() ? ` on ${holderHost}` : ''}); ` +
        `wait for it to finish or stop it. If no such process exists, delete ${lockFileOf(runDir)}`,
    );
    this.name = 'RunLockedError';
  }
}

interface LockRecord {
  pid: number;
  host: string;
  started: string;
}

export function lockFileOf(runDir: string): string {
  const abs = path.resolve(runDir);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.lock`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function readRecord(file: string): LockRecord | null {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockRecord>;
    return typeof r.pid === 'number' && typeof r.host === 'string' ? { pid: r.pid, host: r.host, started: String(r.started ?? '') } : null;
  } catch {
    return null;
  }
}

export interface RunLock {
  readonly file: string;
  /** Removes the lock file (idempotent). */
  release(): void;
}

/**
 * Takes the lock of `runDir` (its parent folder must exist) or throws RunLockedError. The lock is
 * also released when the process exits normally; after a crash it is stale and the next run
 * takes it over.
 */
export function acquireRunLock(runDir: string): RunLock {
  const file = lockFileOf(runDir);
  const record: LockRecord = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  // The record is written to a private file first and linked into place: link() fails with
  // EEXIST when the lock exists, and the lock never appears without its content.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e;
      }
      const holder = readRecord(file);
      const held = (h: LockRecord | null): h is LockRecord =>
        h !== null && (h.host !== os.hostname() || h.pid === process.pid || alive(h.pid));
      if (held(holder)) throw new RunLockedError(runDir, holder.pid, holder.host);
      // Stale (its process is gone): move it aside, then check that what was moved is still the
      // stale lock (another process may have taken the lock over in between) before retrying.
      const aside = `${file}.stale-${process.pid}`;
      try {
        renameSync(file, aside);
      } catch {
        continue; // someone else moved it first
      }
      const moved = readRecord(aside);
      if (held(moved)) {
        try {
          linkSync(aside, file);
        } catch {
          // a third process holds it now; its lock stays
        }
        unlinkSync(aside);
        throw new RunLockedError(runDir, moved.pid, moved.host);
      }
      unlinkSync(aside);
    }
  } finally {
    unlinkSync(tmp);
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const now = readRecord(file);
    if (now && now.pid === process.pid) {
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', release);
  return { file, release };
}
