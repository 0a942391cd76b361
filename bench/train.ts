/**
 * Trainer throughput and memory: TinySegmenter (a few thousand parameters) trained for 20
 * epochs on a synthetic shapes dataset through the full trainer (worker loader, augmentation,
 * gradient accumulation, validation, checkpoints, resume states, metrics.jsonl). Reports
 * training images/s (median over epochs 2..N) and whether memory stays flat: live native
 * tensors and RSS after each epoch.
 *
 *   node dist/bench/train.js [--epochs 20] [--size 64] [--batch 16] [--effective 32] [--images 64] [--threads N] [--workers N]
 *
 * Prints one line per epoch, then (last stdout line) one JSON object.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { train, TinySegmenter, type EpochRecord } from '../src/index.js';
import { median, numberArg } from './util.js';

const epochs = numberArg('epochs', 20);
const size = numberArg('size', 64);
const batch = numberArg('batch', 16);
const effective = numberArg('effective', 32);
const images = numberArg('images', 64);
const workers = numberArg('workers', 1);
if (process.argv.includes('--threads')) T.setNumThreads(numberArg('threads', 1));

const gc = (globalThis as { gc?: () => void }).gc;
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-bench-train-'));
try {
  const data = path.join(tmp, 'shapes');
  const ds = await generateSyntheticDataset('shapes', data, {
    size,
    counts: { train: images, val: Math.max(4, images / 8), test: 0 },
    seed: 1,
  });
  const rows: { epoch: number; ips: number; live: number; rssMb: number; heapMb: number; seconds: number; valDice: number }[] = [];
  const t0 = performance.now();
  const summary = await train(
    {
      name: 'bench',
      runsDir: path.join(tmp, 'runs'),
      seed: 0,
      data: { dir: data, imageSize: size, workers, testSplit: null },
      batchSize: batch,
      effectiveBatchSize: effective,
      minEpochs: epochs,
      maxEpochs: epochs,
      lr: 0.03,
      earlyStopping: { enabled: false },
      progress: 'none',
    },
    {
      buildSegmenter: () => new TinySegmenter({ imageSize: size }),
      onEpoch: (r: EpochRecord) => {
        gc?.();
        const m = process.memoryUsage();
        const row = {
          epoch: r.epoch,
          ips: r.imagesPerSecond,
          live: T.liveTensors(),
          rssMb: m.rss / 2 ** 20,
          heapMb: m.heapUsed / 2 ** 20,
          seconds: r.seconds,
          valDice: r.valDice,
        };
        rows.push(row);
        console.log(
          `epoch ${r.epoch}: ${row.ips.toFixed(1)} img/s, ${row.seconds.toFixed(2)} s, val Dice ${row.valDice.toFixed(3)}, live tensors ${row.live}, RSS ${row.rssMb.toFixed(1)} MB, heap ${row.heapMb.toFixed(1)} MB`,
        );
      },
    },
  );
  const wall = (performance.now() - t0) / 1000;
  const first = rows[0]!,
    second = rows[Math.min(1, rows.length - 1)]!,
    last = rows[rows.length - 1]!;
  const result = {
    bench: 'train',
    model: 'TinySegmenter',
    trainable_params: summary.trainableParams,
    train_samples: ds.splits.train.entries,
    image_size: size,
    batch_size: batch,
    effective_batch_size: effective,
    epochs: rows.length,
    threads: T.getNumThreads(),
    loader_workers: workers,
    images_per_s: Number(median(rows.slice(1).map((r) => r.ips)).toFixed(1)),
    epoch_seconds_median: Number(median(rows.slice(1).map((r) => r.seconds)).toFixed(3)),
    live_tensors_epoch1: first.live,
    live_tensors_last: last.live,
    live_tensors_flat: rows.every((r) => r.live === first.live),
    rss_mb_epoch2: Number(second.rssMb.toFixed(1)),
    rss_mb_last: Number(last.rssMb.toFixed(1)),
    rss_growth_mb_after_epoch2: Number((last.rssMb - second.rssMb).toFixed(1)),
    heap_mb_last: Number(last.heapMb.toFixed(1)),
    final_val_dice: Number(summary.val.dice.toFixed(4)),
    wall_s: Number(wall.toFixed(1)),
  };
  console.log(JSON.stringify(result));
} finally {
  await fs.rm(tmp, { recursive: true, force: true });
}
