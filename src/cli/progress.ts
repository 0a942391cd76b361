/**
 * What the commands draw while they work, on stderr: cli-progress bars on a terminal, plain
 * lines (or nothing) in a log. The library reports progress through callbacks; drawing it is the
 * CLI's job, so it lives here, not in the layers that do the work.
 */
import cliProgress from 'cli-progress';
import type { DownloadProgress } from '../hub/download.js';
import { formatBytes } from '../hub/download-repo.js';

/** Where progress goes: bars when it is a terminal. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean };

/** A count of items done of a total (`predict |███---| 3/10 images | 2.10 images/s | ETA 4s`). */
export interface CountBar {
  /** Items done of `total` (and their rate per second, when the bar shows one); the bar starts on the first call and restarts when the total changes. */
  update(done: number, total: number, perSecond?: number): void;
  stop(): void;
}

/**
 * A count bar named `label` counting `unit`s on a terminal stderr (with their rate per second when
 * `rate`); null (draw nothing) when quiet or when stderr is not a terminal.
 */
export function countBar(
  label: string,
  unit: string,
  o: { quiet?: boolean | undefined; stream?: ProgressStream; rate?: boolean } = {},
): CountBar | null {
  const stream = o.stream ?? process.stderr;
  if (o.quiet || !stream.isTTY) return null;
  const rate = o.rate ? ` | {rate} ${unit}/s` : '';
  const bar = new cliProgress.SingleBar(
    { format: `${label} |{bar}| {value}/{total} ${unit}${rate} | ETA {eta}s`, stream },
    cliProgress.Presets.shades_classic,
  );
  return {
    update(done, total, perSecond) {
      const payload = perSecond !== undefined ? { rate: perSecond.toFixed(2) } : {};
      if (done === 0 || bar.getTotal() !== total) bar.start(total, done, payload);
      else bar.update(done, payload);
    },
    stop: () => bar.stop(),
  };
}

/** A progress bar of `label` for a library's `(done, total)` reports, and its stop. */
export function progressOf(
  label: string,
  unit: string,
  o: { quiet?: boolean | undefined; stream?: ProgressStream; rate?: boolean },
): {
  onProgress: (done: number, total: number, perSecond?: number) => void;
  stop: () => void;
} {
  const bar = countBar(label, unit, o);
  return { onProgress: (done, total, perSecond) => bar?.update(done, total, perSecond), stop: () => bar?.stop() };
}

/** Progress of a model download: a bar per file on a terminal, one line per finished file otherwise. */
export interface DownloadProgressView {
  update(p: DownloadProgress): void;
  log(line: string): void;
  stop(): void;
}

export function downloadProgress(stream: ProgressStream): DownloadProgressView {
  return stream.isTTY === true ? new BarProgress(stream) : new LineProgress(stream);
}

/** A cli-progress bar per file, on a terminal. */
class BarProgress implements DownloadProgressView {
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
class LineProgress implements DownloadProgressView {
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
