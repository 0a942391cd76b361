/**
 * A cross-process lock file made with O_EXCL (`open(path, 'wx')`), good for processes on one
 * machine and on shared file systems. The holder writes `{pid, host, token}` into it and touches
 * its mtime every few seconds, so a lock counts as stale when:
 *   - its holder is on this host and that pid no longer exists, or
 *   - its mtime is older than `staleMs` (the holder stopped heart-beating: crashed, or on another
 *     host that died).
 * A stale lock is broken by renaming it to a unique name (only one waiter can win that rename)
 * and checking that what was renamed is the lock that was judged stale.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNodeError, uniqueSuffix } from './cache.js';
import { HubError } from './errors.js';

export interface LockOptions {
  /** A lock untouched for this long is stale (default 60 s; the holder touches it every staleMs/6, at most 5 s). */
  staleMs?: number;
  /** Give up waiting after this long (default: wait as long as the holder is alive). */
  timeoutMs?: number;
  /** Poll interval while waiting (default 100 ms, with jitter). */
  pollMs?: number;
}

export interface FileLock {
  readonly path: string;
  release(): Promise<void>;
}

interface LockInfo {
  pid: number;
  host: string;
  token: string;
}

function parseLockInfo(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.token === 'string') {
      return { pid: v.pid, host: v.host, token: v.token };
    }
  } catch {
    // empty or half-written lock: judged by its mtime alone
  }
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isNodeError(e) && e.code === 'EPERM';
  }
}

async function readLock(file: string): Promise<{ info: LockInfo | undefined; mtimeMs: number; ino: number } | undefined> {
  try {
    const st = await fsp.stat(file);
    const text = await fsp.readFile(file, 'utf8');
    return { info: parseLockInfo(text), mtimeMs: st.mtimeMs, ino: st.ino };
  } catch (e) {
    if (isNodeError(e) && e.code === 'ENOENT') return undefined;
    throw e;
  }
}

function isStale(lock: { info: LockInfo | undefined; mtimeMs: number }, staleMs: number): boolean {
  if (Date.now() - lock.mtimeMs > staleMs) return true;
  const info = lock.info;
  return info !== undefined && info.host === os.hostname() && !pidAlive(info.pid);
}

/** Breaks the lock at `file` if it is still the stale one we looked at (same inode). */
async function breakStaleLock(file: string, judged: { ino: number }): Promise<void> {
  const aside = `${file}.stale-${uniqueSuffix()}`;
  try {
    await fsp.rename(file, aside);
  } catch (e) {
    if (isNodeError(e) && e.code === 'ENOENT') return; // someone else broke or released it
    throw e;
  }
  const st = await fsp.stat(aside).catch(() => undefined);
  if (st !== undefined && st.ino !== judged.ino) {
    // We moved a fresh lock that replaced the stale one meanwhile: put it back unless a new
    // lock already exists (link fails with EEXIST then, like O_EXCL).
    await fsp.link(aside, file).catch(() => undefined);
  }
  await fsp.rm(aside, { force: true });
}

export async function acquireLock(file: string, opts: LockOptions = {}): Promise<FileLock> {
  const staleMs = opts.staleMs ?? 60_000;
  const pollMs = opts.pollMs ?? 100;
  const started = Date.now();
  const info: LockInfo = { pid: process.pid, host: os.hostname(), token: uniqueSuffix() };
  await fsp.mkdir(path.dirname(file), { recursive: true });
  for (;;) {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(file, 'wx');
    } catch (e) {
      if (!(isNodeError(e) && e.code === 'EEXIST')) throw e;
    }
    if (fh !== undefined) {
      try {
        await fh.writeFile(JSON.stringify(info));
      } finally {
        await fh.close();
      }
      return heldLock(file, info, staleMs);
    }
    const current = await readLock(file);
    if (current !== undefined && isStale(current, staleMs)) {
      await breakStaleLock(file, current);
      continue;
    }
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) {
      throw new HubError(
        'LOCK_TIMEOUT',
        `timed out after ${opts.timeoutMs} ms waiting for lock ${file}` +
          (current?.info ? ` (held by pid ${current.info.pid} on ${current.info.host})` : '') +
          `; if no download is running, delete that file`,
      );
    }
    await sleep(pollMs * (0.5 + Math.random()));
  }
}

function heldLock(file: string, info: LockInfo, staleMs: number): FileLock {
  const beatMs = Math.max(10, Math.min(5_000, Math.floor(staleMs / 6)));
  const timer = setInterval(() => {
    const now = new Date();
    fsp.utimes(file, now, now).catch(() => undefined);
  }, beatMs);
  timer.unref();
  let released = false;
  return {
    path: file,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      clearInterval(timer);
      const current = await readLock(file).catch(() => undefined);
      // Only remove the lock if it is still ours (it may have been broken as stale).
      if (current?.info?.token === info.token) await fsp.rm(file, { force: true });
    },
  };
}
