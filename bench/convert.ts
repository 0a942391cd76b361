/**
 * `data convert` throughput on a synthetic dataset laid out as a public download, so that the
 * converter is never the slow step (issue 12: a 1,000-image dataset in well under a minute on
 * 2 cores). Two raw layouts:
 *   - isic-2016: JPEG images + 0/255 PNG masks (masks copied as they are; prompts computed from
 *     every mask and image; the data check decodes everything again at the end);
 *   - cvc-clinicdb: TIFF frames + TIFF masks (images and masks re-encoded as PNG).
 * Baseline, in the same process: copying the same files with fs.copyFile (the I/O floor).
 * Besides wall time it reports the process's CPU time (all threads: libvips and libuv's pool
 * included) divided by the cores, an estimate of the wall time on an idle machine of that
 * many cores: on a shared machine the wall time mostly measures the neighbours.
 *
 *   node dist/bench/convert.js [--images 1000] [--width 576] [--height 480]
 *
 * Last stdout line: one JSON object.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { convertDataset } from '../src/data/convert/index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const N = arg('images', 1000);
const W = arg('width', 576);
const H = arg('height', 480);

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tvs-bench-convert-'));
try {
  // One textured image and a few mask shapes, written under N names (encoding N distinct
  // images would dominate the set-up, not the measurement).
  const px = Buffer.alloc(W * H * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 31 + (i >> 9) * 7) % 256;
  const jpeg = await sharp(px, { raw: { width: W, height: H, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  const tiff = await sharp(px, { raw: { width: W, height: H, channels: 3 } })
    .tiff()
    .toBuffer();
  const masks: { png: Buffer; tif: Buffer }[] = [];
  for (let k = 0; k < 4; k++) {
    const m = Buffer.alloc(W * H);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) m[y * W + x] = (x - W * (0.3 + 0.1 * k)) ** 2 + (y - H / 2) ** 2 < (H / (3 + k)) ** 2 ? 255 : 0;
    const s = () => sharp(m, { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w');
    masks.push({ png: await s().png().toBuffer(), tif: await s().tiff().toBuffer() });
  }
  const isic = path.join(tmp, 'isic');
  const clinic = path.join(tmp, 'clinic');
  const dirs = [
    path.join(isic, 'ISBI2016_ISIC_Part1_Training_Data'),
    path.join(isic, 'ISBI2016_ISIC_Part1_Training_GroundTruth'),
    path.join(clinic, 'Original'),
    path.join(clinic, 'Ground Truth'),
  ];
  for (const d of dirs) await fs.mkdir(d, { recursive: true });
  for (let i = 0; i < N; i++) {
    const id = String(i).padStart(7, '0');
    const m = masks[i % masks.length] as { png: Buffer; tif: Buffer };
    await fs.writeFile(path.join(dirs[0] as string, `ISIC_${id}.jpg`), jpeg);
    await fs.writeFile(path.join(dirs[1] as string, `ISIC_${id}_Segmentation.png`), m.png);
    await fs.writeFile(path.join(dirs[2] as string, `${i + 1}.tif`), tiff);
    await fs.writeFile(path.join(dirs[3] as string, `${i + 1}.tif`), m.tif);
  }

  const t0 = performance.now();
  const copyDir = path.join(tmp, 'copy');
  await fs.mkdir(copyDir);
  for (const d of dirs.slice(0, 2)) for (const f of await fs.readdir(d)) await fs.copyFile(path.join(d, f), path.join(copyDir, f));
  const copyS = (performance.now() - t0) / 1000;

  const cores = os.availableParallelism();
  const time = async (name: string, raw: string): Promise<[number, number]> => {
    const t = performance.now();
    const c0 = process.cpuUsage();
    const r = await convertDataset(name, raw, { out: path.join(tmp, `${name}-out`) });
    const s = (performance.now() - t) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    if (!r.check.ok) throw new Error(`${name}: data check failed: ${JSON.stringify(r.check.problems.slice(0, 3))}`);
    console.log(
      `${name.padEnd(13)} ${N} images ${W}x${H}: wall ${s.toFixed(2)} s (${(N / s).toFixed(0)} images/s), CPU ${cpu.toFixed(1)} s = ${(cpu / cores).toFixed(1)} s on ${cores} idle cores; incl. prompts and data check`,
    );
    return [s, cpu];
  };
  const [isicS, isicCpu] = await time('isic-2016', isic);
  const [clinicS, clinicCpu] = await time('cvc-clinicdb', clinic);
  console.log(
    `baseline fs.copyFile of the ISIC files: ${copyS.toFixed(2)} s; convert/copy ratio ${(isicS / copyS).toFixed(1)}x; load average ${os.loadavg()[0]?.toFixed(1)} on ${cores} cores`,
  );
  console.log(
    JSON.stringify({
      bench: 'convert',
      images: N,
      width: W,
      height: H,
      cores,
      load_average: os.loadavg()[0],
      isic_seconds: isicS,
      isic_cpu_seconds: isicCpu,
      isic_idle_estimate_seconds: isicCpu / cores,
      isic_images_per_s: N / isicS,
      clinicdb_tiff_seconds: clinicS,
      clinicdb_cpu_seconds: clinicCpu,
      clinicdb_idle_estimate_seconds: clinicCpu / cores,
      clinicdb_images_per_s: N / clinicS,
      copy_baseline_seconds: copyS,
      isic_vs_copy: isicS / copyS,
    }),
  );
} finally {
  await fs.rm(tmp, { recursive: true, force: true });
}
