/**
 * Training progress output: a cli-progress bar per epoch (loss, Dice, img/s, ETA) on a TTY,
 * or one line per epoch for logs ("quiet"), or nothing.
 */
import cliProgress from 'cli-progress';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export interface EpochLine {
  epoch: number;
  maxEpochs: number;
  trainLoss: number;
  trainDice: number;
  valLoss: number;
  valDice: number;
  valIou: number;
  lr: number;
  imagesPerSecond: number;
  seconds: number;
  best: boolean;
}

export interface ProgressReporter {
  epochStart(epoch: number, maxEpochs: number, batches: number, startAt: number): void;
  batch(done: number, payload: { loss: number; dice: number; imagesPerSecond: number }): void;
  validating(): void;
  epochEnd(line: EpochLine): void;
  message(text: string): void;
  close(): void;
}

const f = (x: number, d = 4): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));

export function formatEpochLine(l: EpochLine): string {
  return (
    `epoch ${l.epoch}/${l.maxEpochs}  train loss ${f(l.trainLoss)} dice ${f(l.trainDice)} | ` +
    `val loss ${f(l.valLoss)} dice ${f(l.valDice)} iou ${f(l.valIou)} | lr ${l.lr.toExponential(2)} | ` +
    `${l.imagesPerSecond.toFixed(1)} img/s | ${l.seconds.toFixed(1)} s${l.best ? ' | best' : ''}`
  );
}

class NoProgress implements ProgressReporter {
  epochStart(): void {}
  batch(): void {}
  validating(): void {}
  epochEnd(): void {}
  message(): void {}
  close(): void {}
}

class LineProgress implements ProgressReporter {
  constructor(private readonly write: (s: string) => void) {}
  epochStart(): void {}
  batch(): void {}
  validating(): void {}
  epochEnd(l: EpochLine): void {
    this.write(formatEpochLine(l));
  }
  message(text: string): void {
    this.write(text);
  }
  close(): void {}
}

class BarProgress implements ProgressReporter {
  private bar: cliProgress.SingleBar | null = null;
  constructor(private readonly stream: NodeJS.WritableStream) {}
  epochStart(epoch: number, maxEpochs: number, batches: number, startAt: number): void {
    this.bar?.stop();
    this.bar = new cliProgress.SingleBar(
      {
        stream: this.stream,
        format: `epoch ${epoch}/${maxEpochs} |{bar}| {value}/{total} | loss {loss} | dice {dice} | {ips} img/s | ETA {eta_formatted}`,
        barsize: 24,
        clearOnComplete: true,
        hideCursor: null,
        etaBuffer: 20,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(batches, startAt, { loss: '-', dice: '-', ips: '-' });
  }
  batch(done: number, p: { loss: number; dice: number; imagesPerSecond: number }): void {
    this.bar?.update(done, { loss: f(p.loss), dice: f(p.dice), ips: p.imagesPerSecond.toFixed(1) });
  }
  validating(): void {
    this.bar?.stop();
    this.bar = null;
  }
  epochEnd(l: EpochLine): void {
    this.bar?.stop();
    this.bar = null;
    this.stream.write(`${formatEpochLine(l)}\n`);
  }
  message(text: string): void {
    this.stream.write(`${text}\n`);
  }
  close(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

export function createProgress(
  mode: ProgressMode,
  o: { stream?: NodeJS.WritableStream; log?: (s: string) => void } = {},
): ProgressReporter {
  const stream = o.stream ?? process.stderr;
  const resolved = mode === 'auto' ? ((stream as { isTTY?: boolean }).isTTY ? 'bar' : 'lines') : mode;
  if (resolved === 'none') return new NoProgress();
  if (resolved === 'lines') return new LineProgress(o.log ?? ((s) => console.log(s)));
  return new BarProgress(stream);
}
