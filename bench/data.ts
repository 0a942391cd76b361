/**
 * Data-loading throughput: 500x400 JPEG images + PNG masks -> 352x352 (decode, bicubic resize,
 * ImageNet normalisation, CHW; masks decoded, nearest-resized, thresholded) through the
 * worker-pool loader. No augmentation (that will run on tensors later).
 *
 *   node dist/bench/data.js [--workers N] [--images N] [--size S] [--batch B] [--epochs E]
 *
 * Prints a human line, then (last stdout line) one JSON object with `images_per_s`.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadSplit } from '../src/data/format.js';
import { BatchLoader } from '../src/data/loader.js';
import { Rng } from '../src/data/rng.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} expects a number, got ${process.argv[i + 1]}`);
  return v;
}

const cores = os.availableParallelism();
const workers = arg('workers', cores);
const count = arg('images', 200);
const size = arg('size', 352);
const batchSize = arg('batch', 16);
const epochs = arg('epochs', 2);
const W = 500;
const H = 400;

/** A photo-like 500x400 image: smooth colour field, a few soft blobs, sensor noise. */
async function photo(rng: Rng): Promise<Buffer> {
  const gw = 8;
  const gh = 6;
  const grid = Buffer.alloc(gw * gh * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = 40 + rng.int(180);
  const smooth = await sharp(grid, { raw: { width: gw, height: gh, channels: 3 } })
    .resize(W, H, { kernel: 'cubic', fit: 'fill' })
    .raw()
    .toBuffer();
  const blobs = Array.from({ length: 3 + rng.int(4) }, () => ({
    x: rng.uniform(0, W),
    y: rng.uniform(0, H),
    r: rng.uniform(20, 90),
    c: [rng.int(256), rng.int(256), rng.int(256)],
  }));
  const out = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      let wsum = 0;
      const add = [0, 0, 0];
      for (const b of blobs) {
        const d2 = ((x - b.x) ** 2 + (y - b.y) ** 2) / (b.r * b.r);
        if (d2 < 4) {
          const w = Math.exp(-d2 * 2);
          wsum += w;
          for (let c = 0; c < 3; c++) add[c]! += w * b.c[c]!;
        }
      }
      const keep = 1 / (1 + wsum);
      for (let c = 0; c < 3; c++) {
        const v = (smooth[i + c]! + add[c]!) * keep + (rng.next() - 0.5) * 12;
        out[i + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return sharp(out, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function makeDataset(dir: string): Promise<number> {
  await fs.mkdir(path.join(dir, 'images'), { recursive: true });
  await fs.mkdir(path.join(dir, 'masks'), { recursive: true });
  await fs.mkdir(path.join(dir, 'anns'), { recursive: true });
  const rng = new Rng(2024);
  const entries = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const name = `img${String(i).padStart(4, '0')}`;
    const jpg = await photo(rng);
    bytes += jpg.length;
    await fs.writeFile(path.join(dir, 'images', `${name}.jpg`), jpg);
    const mask = Buffer.alloc(W * H);
    const cx = rng.uniform(100, 400);
    const cy = rng.uniform(100, 300);
    const r = rng.uniform(30, 90);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < r * r) mask[y * W + x] = 255;
    await sharp(mask, { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toFile(path.join(dir, 'masks', `${name}.png`));
    entries.push({ img_name: `${name}.jpg`, mask_name: `${name}.png`, prompts: { p0: '', p1: 'blob' } });
  }
  await fs.writeFile(path.join(dir, 'anns', 'train.json'), JSON.stringify(entries));
  return bytes / count;
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-bench-data-'));
  try {
    const meanBytes = await makeDataset(dir);
    const samples = await loadSplit(dir, 'train');
    const loader = new BatchLoader(samples, { size, batchSize, workers, shuffle: true, seed: 0 });
    try {
      // Warm-up: start the workers and let them load sharp.
      for await (const b of loader.epoch(-1)) if (b.indices.length > 0) break;
      let images = 0;
      let checksum = 0;
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let e = 0; e < epochs; e++) {
        for await (const b of loader.epoch(e)) {
          images += b.size;
          checksum += b.images[0]! + b.masks[b.masks.length - 1]!;
          // A trainer releases a batch once it is copied into tensors: its buffers are reused.
          b.release();
        }
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      // CPU time of all threads of the process (main, workers, libvips): what the work costs,
      // whatever else runs on the machine. Other processes competing for the cores show as
      // a load average above the core count.
      const cpuMsPerImage = (cpu.user + cpu.system) / 1000 / images;
      const ips = images / seconds;
      const load = os.loadavg()[0] ?? 0;
      console.log(
        `data loader: ${images} images (${W}x${H} JPEG, ~${Math.round(meanBytes / 1024)} KB, + PNG masks) -> ${size}x${size} ` +
          `decode+resize+normalise, ${workers} worker(s) on ${cores} core(s), batch ${batchSize}: ` +
          `${ips.toFixed(1)} images/s (${((1000 * seconds) / images).toFixed(2)} ms/image wall, ${cpuMsPerImage.toFixed(2)} ms/image CPU; ` +
          `load average ${load.toFixed(2)}; checksum ${checksum.toFixed(3)})`,
      );
      console.log(
        JSON.stringify({
          bench: 'data',
          images_per_s: Number(ips.toFixed(1)),
          workers,
          size,
          batch_size: batchSize,
          images,
          source: `${W}x${H} jpeg`,
          masks: true,
          augment: false,
          cores,
          cpu_ms_per_image: Number(cpuMsPerImage.toFixed(2)),
          loadavg_1m: Number(load.toFixed(2)),
        }),
      );
    } finally {
      await loader.close();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

await main();
