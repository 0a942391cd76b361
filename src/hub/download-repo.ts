/** `downloadRepo`: a repository's model files into the cache, by `org/name[@revision]` (`tunevlseg download`). */
import { snapshotDownload, type HubOptions, type SnapshotDownloadOptions } from './download.js';
import { HubError, OfflineCacheMissError } from './errors.js';
import { parseRepoRef } from './resolve.js';

export interface DownloadRepoOptions extends HubOptions, Pick<SnapshotDownloadOptions, 'onProgress' | 'onSkip'> {
  /** Branch, tag or commit (default `main`, or the `@revision` part of the repo argument). */
  revision?: string;
  /** Files to fetch (default: 'default', CLIPSeg's file set). */
  files?: readonly string[] | 'default';
}

/** `20000`, `500M`, `20G`, `1.5T` (powers of 1000, as formatBytes prints them) -> bytes. */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kMGT]?)B?\s*$/i.exec(text);
  const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[(m?.[2] ?? '').toLowerCase()];
  const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new HubError('INVALID_ARGUMENT', `not a size: ${JSON.stringify(text)} (expected bytes, or a number with k, M, G or T, e.g. 20G)`);
  return n;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/**
 * Downloads `repo` (`org/name` or `org/name@revision`) into the cache and returns its snapshot
 * folder. Refuses two different revisions (`@dev` and `revision: 'main'`).
 */
export async function downloadRepo(repo: string, opts: DownloadRepoOptions = {}): Promise<string> {
  const ref = parseRepoRef(repo);
  if (ref === undefined) {
    throw new HubError(
      'INVALID_ARGUMENT',
      `invalid repo id ${JSON.stringify(repo)}: expected "org/name" or "org/name@revision", e.g. CIDAS/clipseg-rd64-refined`,
    );
  }
  if (ref.revision !== undefined && opts.revision !== undefined && ref.revision !== opts.revision) {
    throw new HubError(
      'INVALID_ARGUMENT',
      `two revisions given: ${JSON.stringify(ref.revision)} in ${JSON.stringify(repo)} and --revision ${JSON.stringify(opts.revision)}`,
    );
  }
  try {
    return await snapshotDownload({ ...opts, repo: ref.repo, revision: opts.revision ?? ref.revision ?? 'main' });
  } catch (e) {
    // "download it first" is no help to the download command itself: the other ways on instead.
    if (e instanceof OfflineCacheMissError) e.message = e.forDownloadCommand();
    throw e;
  }
}
