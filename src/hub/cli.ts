/** cliDownload: what `tunevlseg download <repo-id> [--revision]` runs. */
import cliProgress from 'cli-progress';
import { snapshotDownload, type DownloadProgress, type HubOptions, type SnapshotDownloadOptions } from './download.js';
import { HubError, OfflineCacheMissError } from './errors.js';
import { parseRepoRef } from './resolve.js';

export interface CliDownloadOptions extends HubOptions {
  /** Branch, tag or commit (default `main`, or the `@revision` part of the repo argument). */
  revision?: string;
  /** Files to fetch (default: 'default', CLIPSeg's file set). */
  files?: readonly string[] | 'default';
  /** No progress output; the snapshot path is still printed. */
  quiet?: boolean;
  /** Where the snapshot path goes (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  /** Where progress goes (default process.stderr): bars on a terminal, one line per file otherwise. */
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** `20000`, `500M`, `20G`, `1.5T` (powers of 1000, as formatBytes prints them) -> bytes. */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kMGT]?)B?\s*$/i.exec(text);
  const unit = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[(m?.[2] ?? '').toLowerCase()];
  const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new HubError('INVALID_ARGUMENT', `not a size: ${JSON.stringify(text)} (expected bytes, or a number with k, M, G or T, e.g. 20G)`);
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
 * Downloads `repo` (`org/name` or `org/name@revision`) into the cache with a progress bar per
 * file, prints the snapshot folder on stdout and returns it.
 */
export async function cliDownload(repo: string, opts: CliDownloadOptions = {}): Promise<string> {
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
  const revision = opts.revision ?? ref.revision ?? 'main';
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const { quiet, stdout: _o, stderr: _e, ...hubOpts } = opts;
  const snapOpts: SnapshotDownloadOptions = { ...hubOpts, repo: ref.repo, revision };

  const progress = quiet === true ? undefined : stderr.isTTY === true ? new BarProgress(stderr) : new LineProgress(stderr);
  if (progress !== undefined) {
    snapOpts.onProgress = (p) => progress.update(p);
    snapOpts.onSkip = (f, why) => progress.log(`skipped ${f} (${why})`);
  }
  // Warnings are printed even with --quiet: a file stored unverified is worth a line.
  snapOpts.onWarning ??= (m) => (progress !== undefined ? progress.log(`warning: ${m}`) : stderr.write(`warning: ${m}\n`));
  let dir: string;
  try {
    dir = await snapshotDownload(snapOpts);
  } catch (e) {
    // "download it first" is no help to the download command itself: the other ways on instead.
    if (e instanceof OfflineCacheMissError) e.message = e.forDownloadCommand();
    throw e;
  } finally {
    progress?.stop();
  }
  stdout.write(`${dir}\n`);
  return dir;
}

interface Progress {
  update(p: DownloadProgress): void;
  log(line: string): void;
  stop(): void;
}

/** A cli-progress bar per file, on a terminal. */
class BarProgress implements Progress {
  private readonly multi: cliProgress.MultiBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private readonly notes: string[] = [];
  constructor(private readonly stream: NodeJS.WritableStream) {
    this.multi = new cliProgress.MultiBar(
      {
        stream: this.stream,
        clearOnComplete: false,
        hideCursor: true,
        format: '{file} |{bar}| {percentage}% | {done} / {size} {note}',
        barsize: 30,
      },
      cliProgress.Presets.shades_classic,
    );
  }
  update(p: DownloadProgress): void {
    const total = p.total ?? Math.max(p.downloaded, 1);
    const payload = {
      file: p.filename.padEnd(24),
      done: formatBytes(p.downloaded),
      size: p.total !== undefined ? formatBytes(p.total) : '?',
      note: p.cached ? '(cached)' : p.resumedFrom > 0 ? `(resumed at ${formatBytes(p.resumedFrom)})` : '',
    };
    let bar = this.bars.get(p.filename);
    if (bar === undefined) {
      bar = this.multi.create(total, p.downloaded, payload);
      this.bars.set(p.filename, bar);
    } else {
      bar.setTotal(total);
      bar.update(p.downloaded, payload);
    }
  }
  log(line: string): void {
    this.notes.push(line); // printed under the bars once they stop (MultiBar.log may drop them)
  }
  stop(): void {
    this.multi.stop();
    for (const line of this.notes) this.stream.write(`${line}\n`);
    this.notes.length = 0;
  }
}

/** One line per finished file, when progress goes to a log rather than a terminal. */
class LineProgress implements Progress {
  private readonly done = new Set<string>();
  constructor(private readonly stream: NodeJS.WritableStream) {}
  update(p: DownloadProgress): void {
    const finished = p.total !== undefined ? p.downloaded >= p.total : p.cached;
    if (!finished || this.done.has(p.filename)) return;
    this.done.add(p.filename);
    this.stream.write(`${p.filename}  ${formatBytes(p.downloaded)}  ${p.cached ? 'cached' : 'downloaded'}\n`);
  }
  log(line: string): void {
    this.stream.write(`${line}\n`);
  }
  stop(): void {}
}
