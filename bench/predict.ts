/**
 * End-to-end prediction: `predictFolder` (what `tunevlseg predict` runs) against the same job in
 * Python, images per second, in the same run.
 *
 *   npm run bench -- predict [--images 50] [--rounds 2] [--batch 8] [--python-batches 1,8] [--threads 2] [--prompt polyp]
 *
 * The job: decode each JPEG, resize it to 352x352, a full-size CLIPSeg forward
 * (CIDAS/clipseg-rd64-refined config, random weights, seeded), sigmoid, resize the probability
 * map back to the image's own size (bicubic), write two PNGs (binary mask, 8-bit probability).
 * Images: the first `--images` JPEGs (~620x530) of ../shared/datasets/kvasir-sample, or
 * synthetic 620x530 JPEGs when that folder is absent.
 *  - ours: predictFolder with its loader (decoding in worker threads, batches read ahead) and its
 *    write-behind of the PNGs, overlays off, `--batch` images per forward;
 *  - Python: bench/predict_torch.py with /usr/bin/python3. HF transformers 4.38 is not installable
 *    from an allowed source here (not in Debian, no pip in CI), so it is HF's pipeline re-stated
 *    in plain PyTorch 1.13 + Pillow: CLIPSegProcessor's image preprocessing (PIL bilinear resize,
 *    rescale, normalise), CLIPSegForImageSegmentation's forward (bench/clipseg_torch.py, all 12
 *    vision layers, eager attention) on the same weights (written here as model.safetensors and
 *    loaded strictly), torch.sigmoid, bicubic resize back, PIL PNGs. Same token ids. It runs once
 *    per round at each of `--python-batches` (default 1 and ours: a processor call and a forward
 *    per image, as a Python user writes the loop, and the batches ours uses); the faster of them
 *    is `python_images_per_s`, the `speedup`'s denominator, so the baseline's batch never flatters
 *    the ratio (each one in `python_by_batch`).
 * The sides alternate (ours, then Python at each batch, ours, ...) after one warm-up batch each,
 * so they see the same machine load; the load average is printed beside every pass.
 * The floor: one forward of a batch under the op observer gives its products (GFLOP); at the
 * sgemm peak measured beside it, with decoding, resizing and PNGs free, no float32 predict can
 * exceed `floor_images_per_s` here (`floor_speedup`: that over `python_images_per_s`).
 * The prediction maps of
 * the two sides are compared (mean absolute difference in 8-bit levels: the preprocessing differs,
 * OpenCV bicubic vs PIL bilinear, so they agree closely but not exactly).
 *
 * Last line: {"bench":"predict","ts_images_per_s":..,"python_images_per_s":..,"speedup":..,...}
 * (speedup = ours / Python, higher is better).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

import * as T from '../src/torch/index.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import type { PromptedClipSeg } from '../src/tuning/clipseg.js';
import { predictFolder } from '../src/inference/predict.js';
import { segmenterLogits } from '../src/inference/forward.js';
import { autocastFor } from '../src/inference/precision.js';
import { ClipTokenizer } from '../src/models/clip/tokenizer.js';
import { median, numberArg } from './util.js';
import { sgemmPeak } from './step_profile.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const load = (): string => loadavg()[0]!.toFixed(2);

function stringArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** The first n Kvasir JPEGs, or n synthetic 620x530 JPEGs (smooth shapes and noise) in `dir`. */
async function benchImages(n: number, dir: string): Promise<{ files: string[]; source: string }> {
  const kvasir = join(root, '..', 'shared', 'datasets', 'kvasir-sample', 'images');
  if (existsSync(kvasir)) {
    const all = readdirSync(kvasir)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort();
    if (all.length >= n) return { files: all.slice(0, n).map((f) => join(kvasir, f)), source: `kvasir-sample (${kvasir})` };
  }
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = 620,
      h = 530,
      px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3,
          d = Math.hypot(x - 300 - i, y - 260) < 90 + i ? 80 : 0;
        px[o] = 120 + d + ((x * 7 + i) % 23);
        px[o + 1] = 60 + ((y * 5) % 31);
        px[o + 2] = 50 + d / 2;
      }
    }
    const f = join(dir, `synthetic_${String(i).padStart(3, '0')}.jpg`);
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(f);
    files.push(f);
  }
  return { files, source: 'synthetic 620x530 JPEGs (kvasir-sample not found)' };
}

class PythonSide {
  private readonly lines: AsyncIterator<string>;
  private readonly proc;
  constructor(args: string[]) {
    const py = process.env.TUNEVLSEG_PYTHON ?? '/usr/bin/python3';
    if (!existsSync(py)) throw new Error(`${py} not found: install Debian's python3-torch and python3-pil (scripts/bootstrap.sh --bench)`);
    this.proc = spawn(py, [join(root, 'bench', 'predict_torch.py'), '--serve', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error('bench/predict: the Python side exited early (see its stderr above; it needs python3-pil)');
    return JSON.parse(r.value) as Record<string, unknown>;
  }
  async run(outDir: string, limit = 0, batch?: number): Promise<number> {
    this.proc.stdin.write(`run ${outDir} ${limit}${batch ? ` ${batch}` : ''}\n`);
    return (await this.next()).seconds as number;
  }
  close(): void {
    this.proc.stdin.end('quit\n');
  }
}

/** Mean |a - b| over the pixels of two 8-bit gray PNGs of the same size. */
async function meanAbsDiff(a: string, b: string): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((f) => sharp(f).extractChannel(0).raw().toBuffer()));
  if (x!.length !== y!.length) return NaN;
  let s = 0;
  for (let i = 0; i < x!.length; i++) s += Math.abs(x![i]! - y![i]!);
  return s / x!.length;
}

/**
 * The products of one no-grad forward of `batch` images (the op observer's GFLOP: GEMMs, the fused
 * attention, the patch convolution): at the sgemm peak, the images/s no float32 predict of this
 * model can exceed here.
 */
function forwardGflop(seg: PromptedClipSeg, batch: number, prompt: string): number {
  let gflop = 0;
  T.startOpProfile();
  try {
    T.noGrad(() =>
      T.tidy(() => {
        const images = T.rand([batch, 3, 352, 352]);
        segmenterLogits(seg, images, new Array<string>(batch).fill(prompt), autocastFor('32', 'cpu'));
      }),
    );
    for (const r of Object.values(T.takeOpProfile().ops)) gflop += r.flops / 1e9;
  } finally {
    T.stopOpProfile();
  }
  return gflop;
}

async function main(): Promise<void> {
  const n = numberArg('images', 50),
    rounds = numberArg('rounds', 2),
    batch = numberArg('batch', 8),
    pyBatches = [...new Set((stringArg('python-batches', `1,${batch}`) || '1').split(',').map(Number))];
  if (pyBatches.some((b) => !Number.isInteger(b) || b < 1))
    throw new Error(`bench/predict: --python-batches wants positive integers, got ${pyBatches.join(',')}`);
  const threads = numberArg('threads', 2);
  const prompt = stringArg('prompt', 'polyp');
  T.setNumThreads(threads);
  const work = mkdtempSync(join(tmpdir(), 'tvs-bench-predict-'));
  try {
    const { files, source } = await benchImages(n, work);
    const tokDir = join(root, '..', 'shared', 'fixtures', 'tokenizer');
    if (!existsSync(join(tokDir, 'vocab.json'))) throw new Error(`bench/predict: no tokenizer at ${tokDir}`);
    T.manualSeed(0);
    // No learner and no upsampler: exactly HF's CLIPSegForImageSegmentation forward.
    const seg = (await buildSegmenter({
      model: 'rd64-refined',
      randomWeights: true,
      learner: 'none',
      useNewLastLayer: false,
      tokenizer: tokDir,
    })) as unknown as PromptedClipSeg;
    seg.eval();
    const weights = join(work, 'model.safetensors');
    T.saveSafetensors(weights, seg.model.stateDict());
    const enc = ClipTokenizer.fromDir(tokDir).encodeBatch([prompt]);
    const list = join(work, 'files.txt');
    writeFileSync(list, `${files.join('\n')}\n`);
    const py = new PythonSide([
      '--list',
      list,
      '--weights',
      weights,
      '--ids',
      JSON.stringify(enc.inputIds),
      '--mask',
      JSON.stringify(enc.attentionMask),
      '--batch',
      String(batch),
      '--threads',
      String(threads),
    ]);
    const hello = await py.next();

    let pass = 0;
    const ours = async (images: readonly string[]): Promise<{ seconds: number; outDir: string }> => {
      const outDir = join(work, `ts-${pass++}`);
      const t0 = performance.now();
      await predictFolder(seg, { input: '.', images, prompt, outDir, overlays: false, batchSize: batch });
      return { seconds: (performance.now() - t0) / 1000, outDir };
    };
    const loadStart = loadavg();
    console.log(
      `predict bench: ${files.length} images from ${source}; batch ${batch}, ${threads} threads, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ` +
        `torch ${String(hello.torch)} on the Python side; load average ${loadStart.map((x) => x.toFixed(2)).join(' ')}`,
    );
    // Warm-up: one batch each (allocator, thread pools, worker start).
    await ours(files.slice(0, batch));
    for (const b of pyBatches) await py.run(join(work, `py-warm-${b}`), batch, b);
    const gflop = forwardGflop(seg, batch, prompt);
    const peakBefore = sgemmPeak(T).gflops;

    const tsRuns: number[] = [];
    const pyRuns = new Map<number, number[]>(pyBatches.map((b) => [b, []]));
    let lastTs = '',
      lastPy = '';
    const line = (who: string, s: number): void =>
      console.log(`${who} ${files.length} images in ${s.toFixed(1)} s = ${(files.length / s).toFixed(3)} images/s (load ${load()})`);
    for (let r = 0; r < rounds; r++) {
      const a = await ours(files);
      tsRuns.push(a.seconds);
      lastTs = a.outDir;
      line(`round ${r + 1}: ours                  `, a.seconds);
      for (const b of pyBatches) {
        lastPy = join(work, `py-${r}-${b}`);
        const s = await py.run(lastPy, 0, b);
        pyRuns.get(b)!.push(s);
        line(`round ${r + 1}: Python, batch ${String(b).padEnd(8)}`, s);
      }
    }
    py.close();
    // The sgemm peak moves with the machine (+-15% on a shared host): the higher of before and after.
    const peak = Math.max(peakBefore, sgemmPeak(T).gflops);
    const floor = { gflop, peak, imagesPerS: (peak / gflop) * batch };
    console.log(
      `floor: one forward of ${batch} images = ${floor.gflop.toFixed(1)} GFLOP of products; at the ${floor.peak.toFixed(0)} GFLOP/s sgemm peak ` +
        `with everything else free, ${floor.imagesPerS.toFixed(3)} images/s at most`,
    );
    // The same job: our probability maps against Python's (first 8 images).
    const diffs: number[] = [];
    for (const f of files.slice(0, 8)) {
      const stem = f.replace(/^.*\//, '').replace(/\.[^.]+$/, '');
      diffs.push(await meanAbsDiff(join(lastTs, `${stem}_prob.png`), join(lastPy, `${stem}_prob.png`)));
    }
    seg.dispose();
    const tsRate = files.length / median(tsRuns);
    const pyByBatch = pyBatches.map((b) => ({ batch: b, rate: files.length / median(pyRuns.get(b)!) }));
    const best = pyByBatch.reduce((a, b) => (b.rate > a.rate ? b : a));
    const pyRate = best.rate;
    console.log(
      `ours ${tsRate.toFixed(3)} images/s; Python (HF's pipeline in plain PyTorch) ` +
        `${pyByBatch.map((p) => `${p.rate.toFixed(3)} images/s at batch ${p.batch}`).join(', ')}: ` +
        `speedup ${(tsRate / pyRate).toFixed(2)}x over the faster (the floor: ${(floor.imagesPerS / pyRate).toFixed(2)}x); ` +
        `probability maps differ by ${median(diffs).toFixed(2)} levels of 255 on average (median of ${diffs.length} images)`,
    );
    console.log(
      JSON.stringify({
        bench: 'predict',
        images: files.length,
        image_source: source,
        batch,
        threads,
        rounds,
        ts_images_per_s: Number(tsRate.toFixed(4)),
        python_images_per_s: Number(pyRate.toFixed(4)),
        speedup: Number((tsRate / pyRate).toFixed(3)),
        python_batch: best.batch,
        python_by_batch: Object.fromEntries(
          pyByBatch.map((p) => [
            String(p.batch),
            { images_per_s: Number(p.rate.toFixed(4)), speedup: Number((tsRate / p.rate).toFixed(3)) },
          ]),
        ),
        forward_gflop_per_image: Number((floor.gflop / batch).toFixed(2)),
        sgemm_peak_gflops: Number(floor.peak.toFixed(1)),
        floor_images_per_s: Number(floor.imagesPerS.toFixed(4)),
        floor_speedup: Number((floor.imagesPerS / pyRate).toFixed(3)),
        ts_runs_s: tsRuns.map((x) => Number(x.toFixed(2))),
        python_runs_s: Object.fromEntries(pyBatches.map((b) => [String(b), pyRuns.get(b)!.map((x) => Number(x.toFixed(2)))])),
        prob_map_mean_abs_diff_levels: Number(median(diffs).toFixed(3)),
        python_baseline:
          'HF transformers 4.38 CLIPSegProcessor + CLIPSegForImageSegmentation re-stated in plain PyTorch 1.13 + Pillow ' +
          '(bench/predict_torch.py): transformers is not installable from an allowed source here',
        load_avg_start: loadStart.map((x) => Number(x.toFixed(2))),
        load_avg_end: loadavg().map((x) => Number(x.toFixed(2))),
      }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
