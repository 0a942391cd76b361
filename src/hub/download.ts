/**
 * downloadFile / snapshotDownload: fetch files from the Hugging Face hub into the cache
 * (layout in cache.ts), resumably, verified, atomically, and safely under concurrency:
 *
 *   1. HEAD the resolve URL -> commit, etag, size, download location (http.ts).
 *   2. Under a lock on the blob (lock.ts, shared by threads of work in this process and by other
 *      processes), if blobs/<etag> is not there yet: GET into blobs/<etag>.incomplete, sending
 *      `Range: bytes=<n>-` when a partial exists (206 appends; 200 starts over), check the size
 *      the server stated and the hash the etag names (sha256 for LFS, git blob sha1 otherwise),
 *      fsync, rename into blobs/<etag>. A bad partial is deleted; the cache never holds a blob
 *      that failed its checks.
 *   3. Link snapshots/<commit>/<file> to the blob and record refs/<revision>.
 * Offline (option or $HF_HUB_OFFLINE / $TUNEVLSEG_OFFLINE) only the cache is read; when the hub
 * cannot be reached at all, a cached copy is used too.
 *
 * Why one file over 450 lines: the download's stages (HEAD, lock, resume, verify, rename) share
 * one error vocabulary and one retry loop.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  blobPath,
  defaultCacheDir,
  defaultEndpoint,
  expandHome,
  isCommitHash,
  isNodeError,
  linkSnapshotFile,
  lookupCachedFile,
  offlineFromEnv,
  repoCachePaths,
  snapshotDir,
  snapshotFilePath,
  validateFilename,
  validateRepoId,
  validateRevision,
  writeRef,
} from './cache.js';
import { HubError, HubHttpError, OfflineCacheMissError } from './errors.js';
import { downloadCommand, offlineHelp } from './offline-help.js';
import { fetchFollowing, fetchMetadata, httpError, resolveUrl, type FileMetadata, type RequestContext } from './http.js';
import { redactUrl } from '../util/redact.js';
import { acquireLock } from './lock.js';

/** Options shared by every hub call. Each defaults from the environment at call time. */
export interface HubOptions {
  /** Cache root (default `$TUNEVLSEG_CACHE`, else `~/.cache/tunevlseg`). */
  cacheDir?: string;
  /** Hub endpoint (default `$HF_ENDPOINT`, else https://huggingface.co). */
  endpoint?: string;
  /** Access token (default `$HF_TOKEN`); `false` sends none. Sent to the endpoint's origin only, never logged. */
  token?: string | false;
  /** Use only the cache (default: `$HF_HUB_OFFLINE` or `$TUNEVLSEG_OFFLINE` is 1/true/yes/on). */
  offline?: boolean;
  /** Extra attempts after a dropped connection or a 5xx/429, each resuming the partial file (default 3). */
  retries?: number;
  /** Timeout of the metadata (HEAD) request in ms (default 10 000). */
  timeoutMs?: number;
  /** A download's response (headers) must start within this many ms (default 30 000). */
  connectTimeoutMs?: number;
  /** A download stalled this long without a byte is cut and resumed (a retry; default 60 000 ms). */
  readTimeoutMs?: number;
  /**
   * Largest file accepted, in bytes (default `$TUNEVLSEG_MAX_DOWNLOAD_BYTES`, else 10 GiB): a
   * larger size in the hub's metadata is refused before anything is written, and a download
   * without a stated size is cut once it passes it.
   */
  maxBytes?: number;
  /** Told when a file cannot be verified (no hash from the hub); default: a line on stderr. */
  onWarning?: (message: string) => void;
  /** A download lock whose holder has not touched it for this long is stale (default 60 000 ms). */
  lockStaleMs?: number;
  /** Give up waiting for another download's lock after this long (default: wait while its holder lives). */
  lockTimeoutMs?: number;
}

export interface DownloadProgress {
  repo: string;
  filename: string;
  /** Bytes of the file now on disk (including any resumed part). */
  downloaded: number;
  /** Total size, when the server stated it. */
  total: number | undefined;
  /** Bytes already on disk when this transfer started (0 for a fresh download). */
  resumedFrom: number;
  /** True when the file was already in the cache and nothing was transferred. */
  cached: boolean;
}

export interface DownloadFileOptions extends HubOptions {
  /** `org/name` */
  repo: string;
  /** Path of the file inside the repo, "/"-separated. */
  filename: string;
  /** Branch, tag or commit hash (default `main`). */
  revision?: string;
  onProgress?: (p: DownloadProgress) => void;
}

/** The default largest download: 10 GiB (the largest CLIPSeg/CRIS/CLIP file is under 2 GB). */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 10 * 2 ** 30;

function maxBytesFromEnv(): number {
  const v = process.env['TUNEVLSEG_MAX_DOWNLOAD_BYTES'];
  if (v === undefined || v.trim() === '') return DEFAULT_MAX_DOWNLOAD_BYTES;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new HubError('INVALID_ARGUMENT', `$TUNEVLSEG_MAX_DOWNLOAD_BYTES must be a positive whole number of bytes, got ${JSON.stringify(v)}`);
  return n;
}

interface Config {
  cacheDir: string;
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  retries: number;
  timeoutMs: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  maxBytes: number;
  warn: (message: string) => void;
  lockStaleMs: number;
  lockTimeoutMs: number | undefined;
}

function configFrom(opts: HubOptions): Config {
  const envToken = process.env['HF_TOKEN'];
  const token =
    opts.token === false ? undefined : opts.token ?? (envToken !== undefined && envToken.trim() !== '' ? envToken.trim() : undefined);
  return {
    cacheDir: opts.cacheDir !== undefined ? path.resolve(expandHome(opts.cacheDir)) : defaultCacheDir(),
    endpoint: opts.endpoint !== undefined ? opts.endpoint.replace(/\/+$/, '') : defaultEndpoint(),
    token,
    offline: opts.offline ?? offlineFromEnv(),
    retries: Math.max(0, opts.retries ?? 3),
    timeoutMs: opts.timeoutMs ?? 10_000,
    connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
    readTimeoutMs: opts.readTimeoutMs ?? 60_000,
    maxBytes: opts.maxBytes ?? maxBytesFromEnv(),
    warn: opts.onWarning ?? ((m) => process.stderr.write(`warning: ${m}\n`)),
    lockStaleMs: opts.lockStaleMs ?? 60_000,
    lockTimeoutMs: opts.lockTimeoutMs,
  };
}

/** The command that fills the cache for `repo@revision`, for error messages. */
export const downloadHint = downloadCommand;

interface FileResult {
  path: string;
  commit: string;
}

/**
 * Downloads one file of a model repo into the cache (or finds it there) and returns its path in
 * the snapshot folder, `<cache>/models--org--name/snapshots/<commit>/<filename>`.
 */
export async function downloadFile(opts: DownloadFileOptions): Promise<string> {
  return (await fetchFile(opts, configFrom(opts))).path;
}

/**
 * `pinned`: the commit `opts.revision` already resolved to (snapshotDownload fetches every file
 * at one commit); requests and the cache use it, messages keep the revision the user gave.
 */
async function fetchFile(opts: DownloadFileOptions, cfg: Config, pinned?: string): Promise<FileResult> {
  const { repo, filename } = opts;
  const revision = opts.revision ?? 'main';
  validateRepoId(repo);
  validateFilename(filename);
  validateRevision(revision);
  const at = pinned ?? revision;
  const report = (p: Omit<DownloadProgress, 'repo' | 'filename'>): void => opts.onProgress?.({ repo, filename, ...p });

  if (cfg.offline) return fromCache(cfg, repo, revision, at, filename, report, undefined);

  // A commit is immutable: a file already in its snapshot needs no request at all.
  if (isCommitHash(at)) {
    const hit = await lookupCachedFile(cfg.cacheDir, repo, at, filename);
    if (hit.path !== undefined) {
      const size = (await fsp.stat(hit.path)).size;
      report({ downloaded: size, total: size, resumedFrom: size, cached: true });
      return { path: hit.path, commit: at };
    }
  }

  const ctx: RequestContext = { endpoint: cfg.endpoint, token: cfg.token, what: { repo, revision, filename } };
  let meta: FileMetadata;
  try {
    meta = await fetchMetadata(resolveUrl(cfg.endpoint, repo, at, filename), ctx, cfg.timeoutMs);
  } catch (e) {
    // Hub unreachable (not an HTTP error): fall back to the cache, as huggingface_hub does.
    if (e instanceof HubError && e.code === 'NETWORK') return fromCache(cfg, repo, revision, at, filename, report, e);
    throw e;
  }

  if (meta.size !== undefined && meta.size > cfg.maxBytes) {
    throw new HubError('TOO_LARGE', `${JSON.stringify(filename)} of ${repo}@${revision}: the hub states ${meta.size} bytes, more than the ` +
      `largest download allowed (${cfg.maxBytes} bytes; raise it with maxBytes / --max-bytes / $TUNEVLSEG_MAX_DOWNLOAD_BYTES); nothing was downloaded`);
  }
  const { locksDir } = repoCachePaths(cfg.cacheDir, repo);
  const blob = blobPath(cfg.cacheDir, repo, meta.etag);
  if (await blobIsComplete(blob, meta.size)) {
    report({ downloaded: meta.size ?? (await fsp.stat(blob)).size, total: meta.size, resumedFrom: 0, cached: true });
  } else {
    await fsp.mkdir(path.dirname(blob), { recursive: true });
    const lockOpts: { staleMs: number; timeoutMs?: number } = { staleMs: cfg.lockStaleMs };
    if (cfg.lockTimeoutMs !== undefined) lockOpts.timeoutMs = cfg.lockTimeoutMs;
    const lock = await acquireLock(path.join(locksDir, `${meta.etag}.lock`), lockOpts);
    try {
      // Another download (this process or another) may have finished while we waited.
      if (await blobIsComplete(blob, meta.size)) {
        report({ downloaded: meta.size ?? (await fsp.stat(blob)).size, total: meta.size, resumedFrom: 0, cached: true });
      } else {
        await fsp.rm(blob, { force: true }); // wrong size: replace it
        await fetchBlob(meta, blob, ctx, cfg, report);
      }
    } finally {
      await lock.release();
    }
  }

  const target = snapshotFilePath(cfg.cacheDir, repo, meta.commit, filename);
  await linkSnapshotFile(blob, target);
  await writeRef(cfg.cacheDir, repo, revision, meta.commit);
  return { path: target, commit: meta.commit };
}

async function fromCache(
  cfg: Config,
  repo: string,
  revision: string,
  at: string,
  filename: string,
  report: (p: Omit<DownloadProgress, 'repo' | 'filename'>) => void,
  networkFailure: HubError | undefined,
): Promise<FileResult> {
  const hit = await lookupCachedFile(cfg.cacheDir, repo, at, filename);
  if (hit.path !== undefined && hit.commit !== undefined) {
    const size = (await fsp.stat(hit.path)).size;
    report({ downloaded: size, total: size, resumedFrom: size, cached: true });
    return { path: hit.path, commit: hit.commit };
  }
  const where =
    hit.commit === undefined
      ? isCommitHash(revision)
        ? `no snapshot ${revision}`
        : `no refs/${revision}, so the revision was never downloaded`
      : `snapshots/${hit.commit}/${filename} is missing`;
  const why =
    networkFailure !== undefined
      ? `the hub could not be reached (${networkFailure.message})`
      : 'offline mode is on (offline option, $HF_HUB_OFFLINE or $TUNEVLSEG_OFFLINE)';
  const reason = `${JSON.stringify(filename)} of ${repo}@${revision} is not in the cache and ${why}. Searched ${hit.searched} (${where}).` +
    (networkFailure === undefined ? ' Turn offline mode off, or:' : '');
  const context = { repo, revision, cacheDir: cfg.cacheDir, endpoint: cfg.endpoint };
  const help = { general: offlineHelp({ ...context, inDownload: false }), download: offlineHelp({ ...context, inDownload: true }) };
  throw new OfflineCacheMissError(reason, help, networkFailure !== undefined ? { cause: networkFailure } : undefined);
}

async function blobIsComplete(blob: string, size: number | undefined): Promise<boolean> {
  try {
    const st = await fsp.stat(blob);
    return st.isFile() && (size === undefined || st.size === size);
  } catch (e) {
    if (isNodeError(e) && e.code === 'ENOENT') return false;
    throw e;
  }
}

async function fileSize(p: string): Promise<number> {
  try {
    return (await fsp.stat(p)).size;
  } catch (e) {
    if (isNodeError(e) && e.code === 'ENOENT') return 0;
    throw e;
  }
}

type HashKind = 'sha256' | 'git-sha1' | undefined;

function hashKindOf(etag: string): HashKind {
  if (/^[0-9a-f]{64}$/.test(etag)) return 'sha256';
  if (/^[0-9a-f]{40}$/.test(etag)) return 'git-sha1';
  return undefined;
}

/** sha256 of the file, or its git blob id: sha1("blob <size>\0" + bytes). */
async function hashFile(file: string, kind: 'sha256' | 'git-sha1'): Promise<string> {
  const h = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git-sha1') h.update(`blob ${(await fsp.stat(file)).size}\0`);
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Parses `Content-Range: bytes <start>-<end>/<total|*>`. */
function parseContentRange(v: string | null): { start: number; total: number | undefined } | undefined {
  const m = v === null ? null : /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(v.trim());
  if (m === null) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

class RetryableError extends HubError {}

/** Downloads into blobs/<etag>.incomplete, resuming and retrying, then verifies and renames. Call under the lock. */
async function fetchBlob(
  meta: FileMetadata,
  blob: string,
  ctx: RequestContext,
  cfg: Config,
  report: (p: Omit<DownloadProgress, 'repo' | 'filename'>) => void,
): Promise<void> {
  const incomplete = `${blob}.incomplete`;
  const { repo, revision, filename } = ctx.what;
  const label = `${JSON.stringify(filename)} of ${repo}@${revision}`;
  const expected = meta.size;

  for (let attempt = 0; ; attempt++) {
    try {
      await transfer(attempt);
      break;
    } catch (e) {
      if (!(e instanceof RetryableError) || attempt >= cfg.retries) {
        if (e instanceof RetryableError) {
          // Out of retries: keep the (correct so far) partial for the next call to resume.
          throw new HubError('NETWORK', e.message, { cause: e.cause });
        }
        throw e;
      }
      await sleep(Math.min(4_000, 250 * 2 ** attempt));
    }
  }

  // Verify what is on disk, then publish it with one atomic rename.
  const got = await fileSize(incomplete);
  if (expected !== undefined && got !== expected) {
    await fsp.rm(incomplete, { force: true });
    throw new HubError(
      'SIZE_MISMATCH',
      `downloaded ${label} has ${got} bytes but the server stated ${expected}; the partial file was deleted, try again`,
    );
  }
  const kind = hashKindOf(meta.etag);
  if (kind === undefined) {
    cfg.warn(`${label}: not verified: the hub's ETag ${JSON.stringify(meta.etag)} is neither a sha256 (X-Linked-Etag) nor a git blob id, ` +
      'so there is no hash to check the bytes against (only the size was checked)');
  } else {
    const actual = await hashFile(incomplete, kind);
    if (actual !== meta.etag) {
      await fsp.rm(incomplete, { force: true });
      throw new HubError(
        'HASH_MISMATCH',
        `hash mismatch for ${label}: expected ${kind} ${meta.etag} (the hub's ETag) but the downloaded bytes ` +
          `hash to ${actual}; the download was deleted and nothing was added to the cache. ` +
          `The file may have been corrupted in transit or by a proxy; try again.`,
      );
    }
  }
  await fsp.rename(incomplete, blob);

  async function transfer(attempt: number): Promise<void> {
    let offset = await fileSize(incomplete);
    if (expected !== undefined && offset > expected) {
      await fsp.rm(incomplete, { force: true });
      offset = 0;
    }
    if (expected !== undefined && offset === expected && offset > 0) return; // fully there: just verify
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    // One controller for the whole transfer: the connect timer until the headers arrive, then an
    // idle timer re-armed by every chunk (a server that stalls mid-body must not hang us).
    const ac = new AbortController();
    let stalled: string | null = null;
    let timer = setTimeout(() => {
      stalled = `no response within ${cfg.connectTimeoutMs / 1000} s (connect timeout)`;
      ac.abort();
    }, cfg.connectTimeoutMs);
    const idle = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = `no data for ${cfg.readTimeoutMs / 1000} s (read timeout)`;
        ac.abort();
      }, cfg.readTimeoutMs);
    };
    try {
      await receive(offset, headers, ac, idle, () => stalled);
    } finally {
      clearTimeout(timer);
    }
  }

  async function receive(offset: number, headers: Record<string, string>, ac: AbortController, idle: () => void, stalled: () => string | null): Promise<void> {
    let res: Response;
    try {
      ({ res } = await fetchFollowing(meta.downloadUrl, ctx, headers, ac.signal));
    } catch (e) {
      if (e instanceof HubError && e.code === 'NETWORK') {
        const why = stalled();
        throw new RetryableError('NETWORK', why !== null ? `${label}: ${why} from ${redactUrl(meta.downloadUrl, { query: 'drop' })}` : e.message, { cause: e });
      }
      throw e;
    }
    idle();
    if (res.status === 416 && offset > 0) {
      // Our partial does not fit what the server has: start over (this does not use up a retry).
      await res.body?.cancel().catch(() => undefined);
      await fsp.rm(incomplete, { force: true });
      return receive(0, {}, ac, idle, stalled);
    }
    if (!res.ok) {
      const err = await httpError(res, meta.downloadUrl, ctx);
      if (res.status >= 500 || res.status === 429) throw new RetryableError('HTTP', err.message, { cause: err });
      throw err;
    }
    let append = false;
    let start = 0;
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (range === undefined || range.start !== offset) {
        await res.body?.cancel().catch(() => undefined);
        await fsp.rm(incomplete, { force: true });
        throw new RetryableError(
          'BAD_RESPONSE',
          `server answered the resume of ${label} with Content-Range ${JSON.stringify(res.headers.get('content-range'))}, ` +
            `expected bytes ${offset}-; partial discarded`,
        );
      }
      if (expected !== undefined && range.total !== undefined && range.total !== expected) {
        await res.body?.cancel().catch(() => undefined);
        throw new HubError(
          'SIZE_MISMATCH',
          `server reports ${range.total} bytes for ${label} but the hub's metadata said ${expected}`,
        );
      }
      append = true;
      start = offset;
    } else {
      const len = res.headers.get('content-length');
      if (expected !== undefined && len !== null && Number(len) !== expected) {
        await res.body?.cancel().catch(() => undefined);
        throw new HubError(
          'SIZE_MISMATCH',
          `server sends ${len} bytes for ${label} but the hub's metadata said ${expected}`,
        );
      }
    }
    if (res.body === null) throw new HubError('BAD_RESPONSE', `empty response body for ${label}`);

    const fh = await fsp.open(incomplete, append ? 'a' : 'w');
    let discard = false;
    let downloaded = start;
    report({ downloaded, total: expected, resumedFrom: start, cached: false });
    try {
      try {
        for await (const chunk of res.body) {
          idle();
          await fh.write(chunk);
          downloaded += chunk.byteLength;
          if (expected !== undefined && downloaded > expected) {
            discard = true;
            throw new HubError('SIZE_MISMATCH', `server sent more than the stated ${expected} bytes for ${label}`);
          }
          if (downloaded > cfg.maxBytes) {
            discard = true;
            throw new HubError('TOO_LARGE', `${label}: the server sent more than the largest download allowed (${cfg.maxBytes} bytes; ` +
              'raise it with maxBytes / --max-bytes / $TUNEVLSEG_MAX_DOWNLOAD_BYTES); the partial file was deleted');
          }
          report({ downloaded, total: expected, resumedFrom: start, cached: false });
        }
      } catch (e) {
        if (e instanceof HubError) throw e;
        const why = stalled();
        const cause = why ?? (e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e));
        throw new RetryableError(
          'NETWORK',
          `connection lost while downloading ${label} after ${downloaded}` +
            `${expected !== undefined ? ` of ${expected}` : ''} bytes (${cause}); the partial download is kept in ` +
            `${incomplete} and the next attempt resumes it`,
          { cause: e },
        );
      }
      await fh.sync();
    } finally {
      await fh.close();
      if (discard) await fsp.rm(incomplete, { force: true });
    }
  }
}

/** CLIPSeg's files, as published on the hub (e.g. CIDAS/clipseg-rd64-refined). */
export const DEFAULT_MODEL_FILES: readonly string[] = [
  'config.json',
  'model.safetensors',
  'vocab.json',
  'merges.txt',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'preprocessor_config.json',
];
/** Of DEFAULT_MODEL_FILES, these must exist; the others are skipped when the repo lacks them. */
export const REQUIRED_MODEL_FILES: readonly string[] = ['config.json', 'model.safetensors'];

export interface SnapshotDownloadOptions extends HubOptions {
  repo: string;
  /** Branch, tag or commit hash (default `main`). */
  revision?: string;
  /** 'default' (DEFAULT_MODEL_FILES, only REQUIRED_MODEL_FILES required) or an explicit list (all required). */
  files?: readonly string[] | 'default';
  onProgress?: (p: DownloadProgress) => void;
  /** Called for an optional file the repo does not have (or, offline, the cache lacks). */
  onSkip?: (filename: string, reason: string) => void;
}

/**
 * Downloads a model's files into one snapshot and returns the snapshot folder,
 * `<cache>/models--org--name/snapshots/<commit>`. The revision is resolved once (by the first
 * file); the other files are fetched at that same commit, so a push during the download cannot
 * mix two versions.
 */
export async function snapshotDownload(opts: SnapshotDownloadOptions): Promise<string> {
  const cfg = configFrom(opts);
  const revision = opts.revision ?? 'main';
  validateRepoId(opts.repo);
  validateRevision(revision);
  const isDefault = opts.files === undefined || opts.files === 'default';
  const list = isDefault ? DEFAULT_MODEL_FILES : (opts.files as readonly string[]);
  const required = new Set(isDefault ? REQUIRED_MODEL_FILES : list);
  const files = [...new Set(list)].sort((a, b) => Number(required.has(b)) - Number(required.has(a)));
  if (files.length === 0) throw new HubError('INVALID_ARGUMENT', `no files requested from ${opts.repo}@${revision}`);
  for (const f of files) validateFilename(f);

  let commit: string | undefined;
  for (const filename of files) {
    const fileOpts: DownloadFileOptions = { ...opts, repo: opts.repo, filename, revision };
    try {
      const r = await fetchFile(fileOpts, cfg, commit);
      commit ??= r.commit;
    } catch (e) {
      if (!required.has(filename)) {
        if (e instanceof HubHttpError && e.code === 'ENTRY_NOT_FOUND') {
          opts.onSkip?.(filename, `not in ${opts.repo}@${revision}`);
          continue;
        }
        if (e instanceof OfflineCacheMissError && commit !== undefined) {
          opts.onSkip?.(filename, 'not in the cache');
          continue;
        }
      }
      throw e;
    }
  }
  if (commit === undefined) throw new HubError('BAD_RESPONSE', `no file of ${opts.repo}@${revision} could be fetched`);
  return snapshotDir(cfg.cacheDir, opts.repo, commit);
}
