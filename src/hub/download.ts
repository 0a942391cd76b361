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
 * Step 2's transfer (resume, retry, verify, rename) is blob-fetch.ts.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
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
import { fetchMetadata, resolveUrl, type FileMetadata, type RequestContext } from './http.js';
import { fetchBlob, type TransferProgress } from './blob-fetch.js';
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

export interface DownloadProgress extends TransferProgress {
  repo: string;
  filename: string;
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
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new HubError(
      'INVALID_ARGUMENT',
      `$TUNEVLSEG_MAX_DOWNLOAD_BYTES must be a positive whole number of bytes, got ${JSON.stringify(v)}`,
    );
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
    opts.token === false ? undefined : (opts.token ?? (envToken !== undefined && envToken.trim() !== '' ? envToken.trim() : undefined));
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
    throw new HubError(
      'TOO_LARGE',
      `${JSON.stringify(filename)} of ${repo}@${revision}: the hub states ${meta.size} bytes, more than the ` +
        `largest download allowed (${cfg.maxBytes} bytes; raise it with maxBytes / --max-bytes / $TUNEVLSEG_MAX_DOWNLOAD_BYTES); nothing was downloaded`,
    );
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
  const reason =
    `${JSON.stringify(filename)} of ${repo}@${revision} is not in the cache and ${why}. Searched ${hit.searched} (${where}).` +
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
