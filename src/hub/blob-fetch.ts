/**
 * Step 2 of a download (download.ts): one blob from the hub into blobs/<etag>, called under the
 * blob's lock. The bytes go to blobs/<etag>.incomplete, resuming a partial with `Range` and
 * retrying dropped connections and 5xx/429 with backoff (each retry resumes); then the size the
 * server stated and the hash the etag names are checked, and one rename publishes the blob.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNodeError } from './cache.js';
import { HubError } from './errors.js';
import { fetchFollowing, httpError, type FileMetadata, type RequestContext } from './http.js';
import { redactUrl } from '../util/redact.js';

/** How far a transfer has come (download.ts's DownloadProgress adds the repo and file). */
export interface TransferProgress {
  /** Bytes of the file now on disk (including any resumed part). */
  downloaded: number;
  /** Total size, when the server stated it. */
  total: number | undefined;
  /** Bytes already on disk when this transfer started (0 for a fresh download). */
  resumedFrom: number;
  /** True when the file was already in the cache and nothing was transferred. */
  cached: boolean;
}

/** The settings of a download that a blob transfer uses (download.ts's Config has them). */
export interface TransferLimits {
  /** Extra attempts after a dropped connection or a 5xx/429. */
  retries: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  maxBytes: number;
  warn: (message: string) => void;
}

/** One blob's transfer: what is fetched, where to, and how it is reported. */
interface BlobJob {
  meta: FileMetadata;
  ctx: RequestContext;
  limits: TransferLimits;
  report: (p: TransferProgress) => void;
  /** blobs/<etag>.incomplete: the partial download, kept across attempts and calls. */
  incomplete: string;
  /** `"file" of repo@revision`, for messages. */
  label: string;
  /** The size the hub stated, if it did. */
  expected: number | undefined;
}

/** A failure worth another attempt (the partial is kept and resumed). */
class RetryableError extends HubError {}

/** Downloads into blobs/<etag>.incomplete, resuming and retrying, then verifies and renames. Call under the lock. */
export async function fetchBlob(
  meta: FileMetadata,
  blob: string,
  ctx: RequestContext,
  limits: TransferLimits,
  report: (p: TransferProgress) => void,
): Promise<void> {
  const { repo, revision, filename } = ctx.what;
  const job: BlobJob = {
    meta,
    ctx,
    limits,
    report,
    incomplete: `${blob}.incomplete`,
    label: `${JSON.stringify(filename)} of ${repo}@${revision}`,
    expected: meta.size,
  };
  await withRetries(limits.retries, () => transfer(job));
  await verifyPartial(job);
  await fsp.rename(job.incomplete, blob);
}

/** Runs `attempt` until it succeeds, retrying a RetryableError up to `retries` times with exponential backoff. */
async function withRetries(retries: number, attempt: () => Promise<void>): Promise<void> {
  for (let n = 0; ; n++) {
    try {
      await attempt();
      return;
    } catch (e) {
      if (!(e instanceof RetryableError) || n >= retries) {
        if (e instanceof RetryableError) {
          // Out of retries: keep the (correct so far) partial for the next call to resume.
          throw new HubError('NETWORK', e.message, { cause: e.cause });
        }
        throw e;
      }
      await sleep(Math.min(4_000, 250 * 2 ** n));
    }
  }
}

/** The partial is the file: the size the server stated, then the hash the etag names; deleted when not. */
async function verifyPartial(job: BlobJob): Promise<void> {
  const { incomplete, label, expected, meta } = job;
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
    job.limits.warn(
      `${label}: not verified: the hub's ETag ${JSON.stringify(meta.etag)} is neither a sha256 (X-Linked-Etag) nor a git blob id, ` +
        'so there is no hash to check the bytes against (only the size was checked)',
    );
    return;
  }
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

/**
 * The timers of one attempt, on one abort controller: the connect timer until the headers
 * arrive, then an idle timer re-armed by every chunk (a server that stalls mid-body must not
 * hang us). `stalled` says why it aborted, if it did.
 */
class StallWatchdog {
  readonly controller = new AbortController();
  #stalled: string | null = null;
  #timer: ReturnType<typeof setTimeout>;

  constructor(private readonly limits: TransferLimits) {
    this.#timer = setTimeout(
      () => this.#abort(`no response within ${limits.connectTimeoutMs / 1000} s (connect timeout)`),
      limits.connectTimeoutMs,
    );
  }

  /** Data arrived: re-arm the idle timer. */
  alive(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#abort(`no data for ${this.limits.readTimeoutMs / 1000} s (read timeout)`),
      this.limits.readTimeoutMs,
    );
  }

  get stalled(): string | null {
    return this.#stalled;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #abort(why: string): void {
    this.#stalled = why;
    this.controller.abort();
  }
}

/** One attempt: from what the partial holds (a partial longer than the file is dropped) to the end. */
async function transfer(job: BlobJob): Promise<void> {
  const { incomplete, expected } = job;
  let offset = await fileSize(incomplete);
  if (expected !== undefined && offset > expected) {
    await fsp.rm(incomplete, { force: true });
    offset = 0;
  }
  if (expected !== undefined && offset === expected && offset > 0) return; // fully there: just verify
  const watchdog = new StallWatchdog(job.limits);
  try {
    await receive(job, offset, watchdog);
  } finally {
    watchdog.stop();
  }
}

/** GETs the download URL from `offset` and writes the body; a 416 on a resume starts over once. */
async function receive(job: BlobJob, offset: number, watchdog: StallWatchdog): Promise<void> {
  const res = await request(job, offset > 0 ? { range: `bytes=${offset}-` } : {}, watchdog);
  watchdog.alive();
  if (res.status === 416 && offset > 0) {
    // Our partial does not fit what the server has: start over (this does not use up a retry).
    await res.body?.cancel().catch(() => undefined);
    await fsp.rm(job.incomplete, { force: true });
    return receive(job, 0, watchdog);
  }
  const { append, start } = await acceptResponse(job, res, offset);
  if (res.body === null) throw new HubError('BAD_RESPONSE', `empty response body for ${job.label}`);
  await writeBody(job, res.body, append, start, watchdog);
}

async function request(job: BlobJob, headers: Record<string, string>, watchdog: StallWatchdog): Promise<Response> {
  try {
    return (await fetchFollowing(job.meta.downloadUrl, job.ctx, headers, watchdog.controller.signal)).res;
  } catch (e) {
    if (e instanceof HubError && e.code === 'NETWORK') {
      const why = watchdog.stalled;
      throw new RetryableError(
        'NETWORK',
        why !== null ? `${job.label}: ${why} from ${redactUrl(job.meta.downloadUrl, { query: 'drop' })}` : e.message,
        { cause: e },
      );
    }
    throw e;
  }
}

/**
 * Checks the response's status and its stated range or length against the hub's metadata.
 * Returns how the body is written: appended at `offset` for a 206, from 0 otherwise.
 */
async function acceptResponse(job: BlobJob, res: Response, offset: number): Promise<{ append: boolean; start: number }> {
  const { label, expected } = job;
  if (!res.ok) {
    const err = await httpError(res, job.meta.downloadUrl, job.ctx);
    if (res.status >= 500 || res.status === 429) throw new RetryableError('HTTP', err.message, { cause: err });
    throw err;
  }
  if (res.status === 206) {
    const range = parseContentRange(res.headers.get('content-range'));
    if (range === undefined || range.start !== offset) {
      await res.body?.cancel().catch(() => undefined);
      await fsp.rm(job.incomplete, { force: true });
      throw new RetryableError(
        'BAD_RESPONSE',
        `server answered the resume of ${label} with Content-Range ${JSON.stringify(res.headers.get('content-range'))}, ` +
          `expected bytes ${offset}-; partial discarded`,
      );
    }
    if (expected !== undefined && range.total !== undefined && range.total !== expected) {
      await res.body?.cancel().catch(() => undefined);
      throw new HubError('SIZE_MISMATCH', `server reports ${range.total} bytes for ${label} but the hub's metadata said ${expected}`);
    }
    return { append: true, start: offset };
  }
  const len = res.headers.get('content-length');
  if (expected !== undefined && len !== null && Number(len) !== expected) {
    await res.body?.cancel().catch(() => undefined);
    throw new HubError('SIZE_MISMATCH', `server sends ${len} bytes for ${label} but the hub's metadata said ${expected}`);
  }
  return { append: false, start: 0 };
}

/**
 * Streams the body into the partial (appended, or from the start), reporting each chunk, and
 * fsyncs it. More bytes than stated or allowed delete the partial; a dropped connection keeps it.
 */
async function writeBody(
  job: BlobJob,
  body: ReadableStream<Uint8Array>,
  append: boolean,
  start: number,
  watchdog: StallWatchdog,
): Promise<void> {
  const { incomplete, label, expected, limits, report } = job;
  const fh = await fsp.open(incomplete, append ? 'a' : 'w');
  let discard = false;
  let downloaded = start;
  report({ downloaded, total: expected, resumedFrom: start, cached: false });
  try {
    try {
      for await (const chunk of body) {
        watchdog.alive();
        await fh.write(chunk);
        downloaded += chunk.byteLength;
        if (expected !== undefined && downloaded > expected) {
          discard = true;
          throw new HubError('SIZE_MISMATCH', `server sent more than the stated ${expected} bytes for ${label}`);
        }
        if (downloaded > limits.maxBytes) {
          discard = true;
          throw new HubError(
            'TOO_LARGE',
            `${label}: the server sent more than the largest download allowed (${limits.maxBytes} bytes; ` +
              'raise it with maxBytes / --max-bytes / $TUNEVLSEG_MAX_DOWNLOAD_BYTES); the partial file was deleted',
          );
        }
        report({ downloaded, total: expected, resumedFrom: start, cached: false });
      }
    } catch (e) {
      if (e instanceof HubError) throw e;
      const why = watchdog.stalled;
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
