/**
 * Data-loading throughput against the original's OpenCV pipeline, on the same files and cores:
 * JPEG images + masks -> 352x352 (decode, bicubic resize, ImageNet normalisation, CHW; masks
 * decoded, nearest-resized, gray/255) through our worker-pool loader, and through
 * bench/data_opencv.py (cv2.imread, cv2.resize INTER_CUBIC / INTER_NEAREST, numpy normalise,
 * a multiprocessing pool of as many single-threaded workers; Debian python3-opencv run by
 * /usr/bin/python3). Two datasets: synthetic 500x400 photos made here, and the real Kvasir-SEG
 * JPEGs (~620x530) of ../shared/datasets/kvasir-sample when present. Ours and OpenCV alternate
 * (two rounds each, best kept) so that both see the same machine load. No augmentation. Each
 * side decodes at least 400 images per round (a small set is read for as many epochs), after
 * a warm-up epoch (ours) or warm-up samples (OpenCV's), so that start-up costs do not dominate.
 * The first 8 samples are also decoded by both and compared value by value (`max_abs_diff_*`):
 * our JPEG decode and INTER_CUBIC resize are OpenCV's, so only float rounding of the
 * normalisation may differ.
 *
 *   node dist/bench/data.js [--workers N] [--images N] [--size S] [--batch B] [--epochs E]
 *
 * `ratio_vs_opencv` = our images/s / OpenCV's (real JPEGs when present, else synthetic);
 * `cpu_ratio_vs_opencv` = OpenCV's CPU ms per image / ours (per-core throughput, robust to load;
 * ours counts every thread of the process, OpenCV's only the workers' own CPU per sample).
 * Last stdout line: one JSON object.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadSplit, type DatasetSample as Sample } from '../src/data/format.js';
import { decodeImage, decodeMask } from '../src/data/image.js';
import { BatchLoader } from '../src/data/loader.js';
import { Rng } from '../src/data/rng.js';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { numberArg } from './util.js';

const cores = os.availableParallelism();
const workers = numberArg('workers', cores);
const count = numberArg('images', 200);
const size = numberArg('size', 352);
const batchSize = numberArg('batch', 16);
const epochs = numberArg('epochs', 2);
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
  return sharp(out, { raw: { width: W, height: H, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
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
    await sharp(mask, { raw: { width: W, height: H, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(path.join(dir, 'masks', `${name}.png`));
    entries.push({ img_name: `${name}.jpg`, mask_name: `${name}.png`, prompts: { p0: '', p1: 'blob' } });
  }
  await fs.writeFile(path.join(dir, 'anns', 'train.json'), JSON.stringify(entries));
  return bytes / count;
}

interface Throughput {
  images: number;
  seconds: number;
  images_per_s: number;
  cpu_ms_per_image: number;
}

async function ours(samples: Sample[], rounds: number): Promise<Throughput & { checksum: number }> {
  const loader = new BatchLoader(samples, { size, batchSize, workers, shuffle: true, seed: 0 });
  try {
    // Warm-up: one epoch starts the workers and loads their libraries.
    for await (const b of loader.epoch(-1)) b.release();
    let images = 0;
    let checksum = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let e = 0; e < rounds; e++) {
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
    // whatever else runs on the machine.
    return { images, seconds, images_per_s: images / seconds, cpu_ms_per_image: (cpu.user + cpu.system) / 1000 / images, checksum };
  } finally {
    await loader.close();
  }
}

const DUMP_COUNT = 8;

function opencv(listFile: string, rounds: number, dump?: string): Throughput | { error: string } {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'data_opencv.py');
  const python = process.env.TUNEVLSEG_PYTHON ?? '/usr/bin/python3';
  const extra = dump === undefined ? [] : ['--dump', dump, '--dump-count', String(DUMP_COUNT)];
  const r = spawnSync(
    python,
    [script, '--list', listFile, '--size', String(size), '--workers', String(workers), '--epochs', String(rounds), ...extra],
    { encoding: 'utf8' },
  );
  if (r.status !== 0)
    return {
      error: `${python} bench/data_opencv.py failed (python3-opencv installed? scripts/bootstrap.sh --bench): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`,
    };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Throughput;
}

/** Our decoded inputs against OpenCV's for the same samples: largest difference, share of equal values. */
async function agreement(samples: Sample[], dump: string): Promise<Record<string, number>> {
  const bytes = await fs.readFile(dump);
  const theirs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const imgLen = 3 * size * size;
  const maskLen = size * size;
  let imageMax = 0;
  let maskMax = 0;
  let maskEqual = 0;
  for (let i = 0; i < samples.length; i++) {
    const img = await decodeImage(samples[i]!.imagePath, { size });
    const ref = theirs.subarray(i * imgLen, (i + 1) * imgLen);
    for (let j = 0; j < imgLen; j++) imageMax = Math.max(imageMax, Math.abs(img.data[j]! - ref[j]!));
    const mask = await decodeMask(samples[i]!.maskPath, { size, threshold: null });
    const mref = theirs.subarray(samples.length * imgLen + i * maskLen, samples.length * imgLen + (i + 1) * maskLen);
    for (let j = 0; j < maskLen; j++) {
      const d = Math.abs(mask.data[j]! - mref[j]!);
      maskMax = Math.max(maskMax, d);
      if (d === 0) maskEqual++;
    }
  }
  return {
    compared_samples: samples.length,
    // Normalised values: one 8-bit level is ~0.017 after ImageNet's std.
    max_abs_diff_image_vs_opencv: Number(imageMax.toExponential(2)),
    max_abs_diff_mask_vs_opencv: Number(maskMax.toExponential(2)),
    mask_equal_fraction_vs_opencv: Number((maskEqual / (samples.length * maskLen)).toFixed(6)),
  };
}

async function compare(label: string, dir: string, split: 'train' | 'all', tmp: string): Promise<Record<string, unknown>> {
  const samples =
    split === 'all'
      ? [...(await loadSplit(dir, 'train')), ...(await loadSplit(dir, 'val')), ...(await loadSplit(dir, 'test'))]
      : await loadSplit(dir, 'train');
  const listFile = path.join(tmp, `${label}.json`);
  writeFileSync(listFile, JSON.stringify(samples.map((s) => [s.imagePath, s.maskPath])));
  const meta = await sharp(samples[0]!.imagePath).metadata();
  const rounds = Math.max(epochs, Math.ceil(400 / samples.length));
  let best: Throughput | null = null;
  let bestCv: Throughput | null = null;
  let cvError: string | null = null;
  const dump = path.join(tmp, `${label}.f32`);
  for (let round = 0; round < 2; round++) {
    const o = await ours(samples, rounds);
    if (!best || o.images_per_s > best.images_per_s) best = o;
    const c = opencv(listFile, rounds, round === 0 ? dump : undefined);
    if ('error' in c) cvError = c.error;
    else if (!bestCv || c.images_per_s > bestCv.images_per_s) bestCv = c;
  }
  const row: Record<string, unknown> = {
    files: samples.length,
    source: `${meta.width}x${meta.height} ${meta.format}`,
    images_per_s: Number(best!.images_per_s.toFixed(1)),
    cpu_ms_per_image: Number(best!.cpu_ms_per_image.toFixed(2)),
  };
  if (bestCv) {
    row.opencv_images_per_s = Number(bestCv.images_per_s.toFixed(1));
    row.opencv_cpu_ms_per_image = Number(bestCv.cpu_ms_per_image.toFixed(2));
    row.ratio_vs_opencv = Number((best!.images_per_s / bestCv.images_per_s).toFixed(3));
    row.cpu_ratio_vs_opencv = Number((bestCv.cpu_ms_per_image / best!.cpu_ms_per_image).toFixed(3));
    Object.assign(row, await agreement(samples.slice(0, DUMP_COUNT), dump));
  } else row.opencv_error = cvError;
  console.log(
    `${label}: ${samples.length} files x ${rounds} epochs (${String(row.source)}) -> ${size}x${size}, ${workers} worker(s) on ${cores} core(s), batch ${batchSize}: ` +
      `ours ${best!.images_per_s.toFixed(1)} images/s (${best!.cpu_ms_per_image.toFixed(2)} ms/image CPU)` +
      (bestCv
        ? `, OpenCV ${bestCv.images_per_s.toFixed(1)} images/s (${bestCv.cpu_ms_per_image.toFixed(2)} ms/image CPU) -> ratio ${String(row.ratio_vs_opencv)}, per-core ${String(row.cpu_ratio_vs_opencv)}`
        : `, OpenCV: ${cvError}`) +
      (bestCv
        ? `; inputs vs OpenCV: max |diff| image ${String(row.max_abs_diff_image_vs_opencv)}, mask ${String(row.max_abs_diff_mask_vs_opencv)}`
        : '') +
      `; load average ${os.loadavg()[0]!.toFixed(2)}`,
  );
  return row;
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-bench-data-'));
  try {
    const meanBytes = await makeDataset(path.join(dir, 'synthetic'));
    const load0 = os.loadavg()[0] ?? 0;
    const synthetic = await compare('synthetic', path.join(dir, 'synthetic'), 'train', dir);
    synthetic.jpeg_kb = Math.round(meanBytes / 1024);
    const kvasirDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'datasets', 'kvasir-sample');
    const kvasir = existsSync(path.join(kvasirDir, 'anns', 'train.json')) ? await compare('kvasir', kvasirDir, 'all', dir) : null;
    const primary = kvasir ?? synthetic;
    console.log(
      JSON.stringify({
        bench: 'data',
        images_per_s: synthetic.images_per_s,
        workers,
        size,
        batch_size: batchSize,
        epochs,
        masks: true,
        augment: false,
        cores,
        cpu_ms_per_image: synthetic.cpu_ms_per_image,
        ratio_vs_opencv: primary.ratio_vs_opencv ?? null,
        cpu_ratio_vs_opencv: primary.cpu_ratio_vs_opencv ?? null,
        ratio_from: kvasir ? 'kvasir' : 'synthetic',
        datasets: { synthetic, ...(kvasir ? { kvasir } : {}) },
        loadavg_1m_start: Number(load0.toFixed(2)),
        loadavg_1m_end: Number((os.loadavg()[0] ?? 0).toFixed(2)),
      }),
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

await main();
