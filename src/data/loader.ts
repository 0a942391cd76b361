/**
 * Batch loader: decodes and resizes images and masks off the main thread in a pool of
 * worker_threads, prefetching batches ahead of the consumer.
 *
 * - Each batch is one job for one worker, which allocates the batch's contiguous buffers
 *   ([B,3,S,S] images, [B,1,S,S] masks) and transfers them back: no copy on either side.
 *   With `prefetch` >= `workers` every worker is busy while the consumer works.
 * - Order and prompt choices are deterministic in (seed, epoch): the shuffle is a seeded
 *   permutation per epoch and each sample's prompt comes from its own seeded generator, so
 *   neither depends on which worker finishes first.
 * - A file that cannot be decoded makes the epoch throw an ImageError naming the file (and the
 *   annotation entry) when the consumer reaches that batch.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { type BatchBuffers, type BatchJob, type BatchResult, decodeBatch } from './batch.js';
import {
  DatasetError,
  type FormatIssue,
  type PromptOptions,
  type PromptValue,
  promptRng,
  promptUnavailableReason,
  selectPrompt,
} from './format.js';
import { ImageError } from './image.js';

const PIXELS_MEAN: readonly [number, number, number] = [0, 0, 0];
const PIXELS_STD: readonly [number, number, number] = [1, 1, 1];
import { permutation } from './rng.js';

/** What the loader needs of a sample (a DatasetSample from format.ts fits). */
export interface LoaderSample {
  imagePath: string;
  /** Absent: the sample has no mask and its mask plane is all 0 (prediction on new images). */
  maskPath?: string;
  /** Name reported in `Batch.names` (the mask name: unique per entry, also for multi-class data). */
  maskName?: string;
  prompts: Readonly<Record<string, PromptValue>>;
  /** Entry index and annotation file, for error messages. */
  index?: number;
  annFile?: string;
}

export interface LoaderOptions extends PromptOptions {
  /** Square model input side, e.g. 352. */
  size: number;
  batchSize: number;
  /** Shuffle every epoch (seeded). Default false. */
  shuffle?: boolean;
  /** Drop the last incomplete batch. Default false. */
  dropLast?: boolean;
  seed?: number;
  /**
   * Training mode for prompt choice (a list-valued prompt gives a random element instead of
   * the first). Default: same as `shuffle`.
   */
  train?: boolean;
  /** Worker threads; 0 decodes on the main thread. Default: available cores, at most 4. */
  workers?: number;
  /** Batches decoded ahead of the consumer. Default: max(2, workers). */
  prefetch?: number;
  /** Items of a batch a worker decodes concurrently. Default 2. */
  itemConcurrency?: number;
  /**
   * Masks are binary (1 where gray / 255 > maskThreshold) or, with null (the default), soft:
   * gray / 255 after the nearest resize, as the reference's loader yields them. The loss trains
   * on them (quirk 18) and each evaluation protocol thresholds them its own way.
   */
  maskThreshold?: number | null;
  failOn?: BatchJob['failOn'];
  fastShrinkOnLoad?: boolean;
}

export interface Batch {
  /** [B, 3, S, S], RGB in [0, 1] (not normalised: see src/inference/inputs.ts). */
  images: Float32Array;
  /** [B, 1, S, S]: gray / 255 (soft, the default) or 0/1 with `maskThreshold`. */
  masks: Float32Array;
  /** Each item's mask file (null: none), e.g. for scoring at the original size. */
  maskPaths: (string | null)[];
  prompts: string[];
  names: string[];
  /** [width, height] of each original image. */
  originalSizes: [number, number][];
  /** Position of each item in the loader's sample list. */
  indices: number[];
  /** B (the last batch may be smaller unless dropLast). */
  size: number;
  /** S */
  imageSize: number;
  /**
   * Hands the batch's buffers back to the loader, which decodes a later batch into them
   * instead of allocating (fresh 1.5 MB per image at 352 px costs ~1 ms of page faults and
   * zeroing). Optional; call it only once `images` and `masks` are no longer needed (e.g. after
   * copying them into tensors): with workers they are detached (length 0) when reused.
   */
  release(): void;
}

interface PoolWorker {
  worker: Worker;
  job: { id: number; resolve: (r: BatchResult) => void } | null;
}

interface QueuedJob {
  job: BatchJob;
  resolve: (r: BatchResult) => void;
}

/** How long `close` lets a busy worker finish its batch before terminating it anyway. */
const CLOSE_WAIT_MS = 30_000;

/** A fixed set of workers taking batch jobs from one queue. Results never reject. */
class WorkerPool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: QueuedJob[] = [];
  private closed = false;

  constructor(count: number) {
    for (let i = 0; i < count; i++) this.workers.push(this.spawn());
  }

  private spawn(): PoolWorker {
    const worker = new Worker(new URL('./loader-worker.js', import.meta.url), {
      workerData: { sharpConcurrency: 1 },
    });
    const pw: PoolWorker = { worker, job: null };
    worker.unref();
    worker.on('message', (res: BatchResult) => {
      const job = pw.job;
      pw.job = null;
      worker.unref();
      if (job !== null && job.id === res.id) job.resolve(res);
      this.dispatch();
    });
    const fail = (reason: string): void => {
      const job = pw.job;
      pw.job = null;
      if (job !== null) job.resolve({ id: job.id, ok: false, item: 0, file: '<worker>', reason });
      const i = this.workers.indexOf(pw);
      if (i >= 0 && !this.closed) {
        this.workers[i] = this.spawn();
        this.dispatch();
      }
    };
    worker.on('error', (err: unknown) => fail(`loader worker crashed: ${err instanceof Error ? err.message : String(err)}`));
    worker.on('exit', (code) => {
      if (!this.closed && this.workers.includes(pw)) fail(`loader worker exited with code ${code}`);
    });
    return pw;
  }

  run(job: BatchJob): Promise<BatchResult> {
    if (this.closed) return Promise.resolve({ id: job.id, ok: false, item: 0, file: '<loader>', reason: 'loader is closed' });
    return new Promise((resolve) => {
      this.queue.push({ job, resolve });
      this.dispatch();
    });
  }

  /** Drops queued (not yet started) jobs whose id is in `ids`. */
  cancel(ids: ReadonlySet<number>): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i] as QueuedJob;
      if (ids.has(q.job.id)) {
        this.queue.splice(i, 1);
        q.resolve({ id: q.job.id, ok: false, item: 0, file: '<loader>', reason: 'cancelled' });
      }
    }
  }

  private dispatch(): void {
    for (const pw of this.workers) {
      if (this.queue.length === 0) return;
      if (pw.job !== null) continue;
      const q = this.queue.shift() as QueuedJob;
      pw.job = { id: q.job.id, resolve: q.resolve };
      pw.worker.ref();
      const b = q.job.buffers;
      pw.worker.postMessage(q.job, b === undefined ? [] : [b.images, b.masks]);
    }
  }

  /**
   * Stops the workers, whatever the caller was doing (a training run ending on a NaN loss closes
   * its loaders while batches are still being decoded):
   * - each worker is ref'd first: an idle worker is unref'd, and `terminate()`'s promise alone
   *   does not keep the event loop alive, so awaiting it could end the process mid-cleanup with
   *   exit code 13 (unsettled top-level await) before the run lock is released;
   * - a worker busy with a batch finishes it first (up to CLOSE_WAIT_MS): terminating a thread
   *   inside sharp's or the image addon's native code can abort the whole process
   *   (`terminate called after throwing an instance of 'Napi::Error'`).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queue.splice(0)) q.resolve({ id: q.job.id, ok: false, item: 0, file: '<loader>', reason: 'loader is closed' });
    await Promise.all(
      this.workers.map(async (pw) => {
        if (pw.job !== null) await this.idle(pw);
        pw.worker.ref(); // after idle(): the result handler unrefs the worker
        const job = pw.job;
        pw.job = null;
        await pw.worker.terminate();
        job?.resolve({ id: job.id, ok: false, item: 0, file: '<loader>', reason: 'loader is closed' });
      }),
    );
    this.workers.length = 0;
  }

  /** Resolves when `pw` has posted its current job's result (or exited), or after CLOSE_WAIT_MS. */
  private idle(pw: PoolWorker): Promise<void> {
    pw.worker.ref(); // a busy worker is ref'd already; this keeps the wait alive whatever the state
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        pw.worker.off('message', done);
        pw.worker.off('exit', done);
        resolve();
      };
      const timer = setTimeout(done, CLOSE_WAIT_MS);
      pw.worker.once('message', done);
      pw.worker.once('exit', done);
    });
  }
}

function defaultWorkers(): number {
  return Math.max(1, Math.min(os.availableParallelism(), 4));
}

export class BatchLoader implements AsyncIterable<Batch> {
  readonly options: Readonly<LoaderOptions>;
  private readonly samples: readonly LoaderSample[];
  private pool: WorkerPool | null = null;
  private closed = false;
  private nextJobId = 1;
  private nextEpoch = 0;
  /** Buffers of released batches, filled again by later jobs. */
  private readonly spare: BatchBuffers[] = [];

  /** Throws a DatasetError naming every sample that cannot get a prompt with these options. */
  constructor(samples: readonly LoaderSample[], options: LoaderOptions) {
    if (!Number.isInteger(options.size) || options.size <= 0) throw new RangeError(`size must be a positive integer, got ${options.size}`);
    if (!Number.isInteger(options.batchSize) || options.batchSize <= 0) {
      throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    }
    if (options.workers !== undefined && !(Number.isInteger(options.workers) && options.workers >= 0)) {
      throw new RangeError(`workers must be an integer >= 0, got ${options.workers}`);
    }
    this.samples = samples;
    this.options = { ...options };
    const issues: FormatIssue[] = [];
    samples.forEach((s, i) => {
      const why = promptUnavailableReason(s.prompts, options);
      if (why !== null) {
        issues.push({
          code: 'prompt_unavailable',
          file: s.annFile ?? s.imagePath,
          entry: s.index ?? i,
          field: 'prompts',
          message: why,
        });
      }
    });
    if (issues.length > 0) throw DatasetError.fromIssues('cannot choose prompts', issues);
  }

  get workers(): number {
    return this.options.workers ?? defaultWorkers();
  }

  /** Number of samples. */
  get sampleCount(): number {
    return this.samples.length;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.samples.length;
    const b = this.options.batchSize;
    return this.options.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** The sample order of an epoch (a seeded permutation when shuffling). */
  order(epoch: number): number[] {
    const n = this.samples.length;
    return this.options.shuffle ? permutation(n, this.options.seed ?? 0, epoch) : Array.from({ length: n }, (_, i) => i);
  }

  /** The prompt of sample `i` in epoch `epoch` (what the batches carry). */
  prompt(i: number, epoch: number): string {
    const s = this.samples[i];
    if (s === undefined) throw new RangeError(`no sample ${i}`);
    const train = this.options.train ?? this.options.shuffle ?? false;
    return selectPrompt(s.prompts, { ...this.options, train }, promptRng(this.options.seed ?? 0, epoch, i));
  }

  /** Iterating the loader itself runs epochs 0, 1, 2, ... in turn. */
  [Symbol.asyncIterator](): AsyncGenerator<Batch> {
    return this.epoch(this.nextEpoch++);
  }

  /** The batches of one epoch. Breaking out early cancels the batches not yet started. */
  async *epoch(epoch: number): AsyncGenerator<Batch> {
    if (this.closed) throw new Error('BatchLoader: closed');
    const B = this.options.batchSize;
    const order = this.order(epoch);
    const batches: number[][] = [];
    for (let i = 0; i + (this.options.dropLast ? B : 1) <= order.length; i += B) batches.push(order.slice(i, i + B));
    const prefetch = this.prefetch;
    const inflight: { id: number; result: Promise<BatchResult> }[] = [];
    let launched = 0;
    const launch = (): void => {
      while (inflight.length < prefetch && launched < batches.length) {
        const job = this.job(batches[launched++] as number[]);
        inflight.push({ id: job.id, result: this.runJob(job) });
      }
    };
    try {
      for (let b = 0; b < batches.length; b++) {
        launch();
        const head = inflight.shift() as { id: number; result: Promise<BatchResult> };
        const res = await head.result;
        const idx = batches[b] as number[];
        if (!res.ok) throw this.failure(res, idx);
        launch();
        yield {
          images: res.images,
          masks: res.masks,
          prompts: idx.map((i) => this.prompt(i, epoch)),
          names: idx.map((i) => {
            const s = this.samples[i] as LoaderSample;
            return s.maskName ?? s.imagePath;
          }),
          originalSizes: res.originalSizes,
          maskPaths: idx.map((i) => (this.samples[i] as LoaderSample).maskPath ?? null),
          indices: idx,
          size: idx.length,
          imageSize: this.options.size,
          release: this.releaser(res.images, res.masks),
        };
      }
    } finally {
      if (inflight.length > 0 && this.pool !== null) this.pool.cancel(new Set(inflight.map((j) => j.id)));
    }
  }

  private releaser(images: Float32Array, masks: Float32Array): () => void {
    let done = false;
    return () => {
      if (done || this.closed) return;
      done = true;
      const b = { images: images.buffer as ArrayBuffer, masks: masks.buffer as ArrayBuffer };
      const full = this.options.batchSize * 3 * this.options.size * this.options.size * 4;
      // Only full-size buffers are worth keeping (a last, smaller batch's are not).
      if (b.images.byteLength >= full && this.spare.length < this.prefetch + 2) this.spare.push(b);
    };
  }

  private get prefetch(): number {
    return Math.max(1, this.options.prefetch ?? Math.max(2, this.workers));
  }

  private job(indices: number[]): BatchJob {
    const o = this.options;
    const buffers = this.spare.pop();
    return {
      ...(buffers === undefined ? {} : { buffers }),
      id: this.nextJobId++,
      size: o.size,
      // [0, 1] pixels: the model's normalisation happens once, on the tensor (src/inference/inputs.ts).
      mean: PIXELS_MEAN,
      std: PIXELS_STD,
      maskThreshold: o.maskThreshold === undefined ? null : o.maskThreshold,
      failOn: o.failOn ?? 'warning',
      fastShrinkOnLoad: o.fastShrinkOnLoad ?? false,
      concurrency: o.itemConcurrency ?? 2,
      items: indices.map((i) => {
        const s = this.samples[i] as LoaderSample;
        return { image: s.imagePath, mask: s.maskPath ?? null };
      }),
    };
  }

  private runJob(job: BatchJob): Promise<BatchResult> {
    if (this.workers === 0) {
      return decodeBatch(job).catch((err: unknown) => ({
        id: job.id,
        ok: false as const,
        item: 0,
        file: job.items[0]?.image ?? '<batch>',
        reason: err instanceof Error ? err.message : String(err),
      }));
    }
    this.pool ??= new WorkerPool(this.workers);
    return this.pool.run(job);
  }

  private failure(res: Extract<BatchResult, { ok: false }>, indices: number[]): Error {
    const s = this.samples[indices[res.item] ?? -1];
    const where = s?.annFile !== undefined && s.index !== undefined ? ` (${s.annFile} entry ${s.index})` : '';
    return new ImageError(res.file, `${res.reason}${where}`);
  }

  /** Terminates the workers. The loader cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
