/**
 * Training-step benchmark of the prompted segmenters at full size.
 *
 *   node dist/bench/learners.js [--runs 5] [--only vpt_d1,coop_d1] [--torch] [--omp-active]
 *                               [--precision 32,bf16-mixed] [--device cuda] [--batch 32] [--profile] [--settle-ms 250]
 *
 * Each case builds the full-size model with random weights (CLIPSeg: CIDAS/clipseg-rd64-refined
 * config, 352x352; CRIS: the paper's RN50 config, 416x416), batch 2, 2 threads, the prompts
 * "a photo of a polyp." / "skin lesion", and times one training step = zero_grad + forward +
 * DiceCE + backward + AdamW (lr 2e-4, wd 0.01 on the decayed group), train() mode, quirks
 * 'reference': the median of `--runs` after one warm-up, plus a no-grad forward (median of 3).
 * Every case runs in its own process (its peak RSS is its own); with `--torch`, the PyTorch
 * re-statement of the reference wrappers (bench/learners_torch.py) runs beside it, steps
 * interleaved with a pause of `--settle-ms` (250) before each side's step, so both see the same machine load
 * and neither starts while the other's idle BLAS threads still spin.
 *
 * `ratio_vs_reference` = our median / the reference's median in ../shared/fixtures/bench_reference.json
 * (PyTorch 1.13 measured on this machine type, unloaded; CLIPSeg rows only). The machine is shared:
 * the load average is printed and stored, and `ratio_vs_torch_same_load` (with --torch) is the
 * load-independent comparison (`ratio_vs_torch_paired`: the median of each step's ratio to the
 * PyTorch step right after it, steadier when the load swings between steps). `--profile` adds one
 * profiled step by op family and the sgemm peak (bench/step_profile.ts), and the step's floor:
 * its products at that peak with every other op free (`floor_s`; with --torch `floor_ratio_vs_torch`). Our processes run with OMP_WAIT_POLICY=PASSIVE (libgomp's worker
 * threads sleep instead of spinning while OpenBLAS runs; src/torch/native.ts defaults to it too);
 * --omp-active sets ACTIVE to measure spinning workers.
 *
 * `--precision` lists the precisions to time (default 32): each case runs once per precision, our
 * step under `autocast` (float32 logits into the loss; 16-mixed with the GradScaler) and the
 * PyTorch wrapper under `torch.autocast` (+ torch.cuda.amp.GradScaler for 16-mixed). Rows of a
 * precision other than 32 are keyed `<case>@<precision>`. `--device cuda --batch 32` is the GPU
 * bench (bench/learners_cuda.ts runs it that way); peak memory is then the CUDA allocator's peak.
 *
 * Last stdout line: {"bench":"learners", ..., "learners": {"vpt_d1": {"median_s", "ratio_vs_reference",
 * "peak_rss_mb", ...}, ...}}.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../src/torch/index.js';
import { FAMILIES, formatProfile, profileStep, sgemmPeak, type StepProfile } from './step_profile.js';

interface CaseSpec {
  config: Record<string, unknown>;
  /** bench_reference.json results key. */
  reference?: string;
  /** bench/learners_torch.py case. */
  torch?: string;
  family: 'clipseg' | 'cris';
  note?: string;
}

export const CASES: Record<string, CaseSpec> = {
  vpt_d1: { config: { learner: 'vpt', depth: 1 }, reference: 'vpt_d1', torch: 'vpt_d1', family: 'clipseg' },
  vpt_d9: { config: { learner: 'vpt', depth: 9 }, reference: 'vpt_d9', torch: 'vpt_d9', family: 'clipseg' },
  maple_d9: { config: { learner: 'maple', depth: 9 }, reference: 'maple_d9', torch: 'maple_d9', family: 'clipseg' },
  coop_d1: { config: { learner: 'coop', depth: 1 }, reference: 'coop_d1', torch: 'coop_d1', family: 'clipseg' },
  shared_attn_d9: {
    config: { learner: 'shared_attn', depth: 9, heads: 16, feedforward: 1536, dropout: 0.25 },
    reference: 'shared_attn_d9',
    torch: 'shared_attn_d9',
    family: 'clipseg',
  },
  cris_coop_d1: { config: { model: 'cris-rn50', learner: 'coop', depth: 1 }, family: 'cris' },
  cris_cocoop_d1: { config: { model: 'cris-rn50', learner: 'cocoop', depth: 1 }, family: 'cris' },
  coop_d1_frozen_cache: {
    config: { learner: 'coop', depth: 1, frozenCacheMb: 64 },
    reference: 'coop_d1',
    family: 'clipseg',
    note: 'CoOp with the frozen-feature cache: the repeated batch hits it after the warm-up (what every epoch after the first gets for un-augmented images)',
  },
};

const here = dirname(fileURLToPath(import.meta.url));

function repoRoot(): string {
  let dir = here;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tunevlseg') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('bench/learners: cannot find the tunevlseg repository root');
    dir = up;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// ------------------------------------------------------------------------------ child mode

export interface ServeOptions {
  precision: string;
  device: string;
  batch: number;
}

async function serveCase(name: string, so: ServeOptions): Promise<void> {
  const spec = CASES[name];
  if (!spec) throw new Error(`unknown case ${name} (have ${Object.keys(CASES).join(', ')})`);
  const T = await import('../src/torch/index.js');
  const { buildSegmenter } = await import('../src/tuning/factory.js');
  const { diceCELoss } = await import('../src/inference/loss.js');
  const { mixedPrecision } = await import('../src/train/precision.js');
  const { float32 } = await import('../src/inference/precision.js');
  T.setNumThreads(2);
  const cuda = so.device !== 'cpu';
  const seg = await buildSegmenter({ model: 'rd64-refined', randomWeights: true, ...spec.config, ...(cuda ? { device: so.device } : {}) });
  const amp = mixedPrecision(so.precision as '32', so.device);
  if (cuda) T.setCudaFlags({ cudnnBenchmark: true }); // the original's run scripts: benchmark=true
  const S = seg.info.imageSize;
  const B = so.batch;
  const prompts = Array.from({ length: B }, (_, i) => (i % 2 === 0 ? 'a photo of a polyp.' : 'skin lesion'));
  const tokDir = join(repoRoot(), '..', 'shared', 'fixtures', 'tokenizer');
  let ids: number[][], mask: number[][];
  if (existsSync(join(tokDir, 'vocab.json'))) {
    const { ClipTokenizer } = await import('../src/models/clip/tokenizer.js');
    const enc = ClipTokenizer.fromDir(tokDir).encodeBatch(prompts);
    ids = enc.inputIds;
    mask = enc.attentionMask;
  } else {
    const two = [
      [49406, 320, 1125, 539, 320, 6833, 335, 269, 49407],
      [49406, 3575, 534, 1015, 49407, 49407, 49407, 49407, 49407],
    ];
    const twoMask = [
      [1, 1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 0, 0, 0, 0],
    ];
    ids = prompts.map((_, i) => two[i % 2]!);
    mask = prompts.map((_, i) => twoMask[i % 2]!);
  }
  const L = ids[0]!.length;
  const onDevice = (t: Tensor): Tensor => T.keep(cuda ? T.tidy(() => t.to(so.device)) : t);
  const text = {
    inputIds: onDevice(
      T.tensor(
        BigInt64Array.from(ids.flat(), (x) => BigInt(x)),
        [B, L],
      ),
    ),
    attentionMask: onDevice(
      T.tensor(
        BigInt64Array.from(mask.flat(), (x) => BigInt(x)),
        [B, L],
      ),
    ),
  };
  T.manualSeed(0);
  const px = onDevice(T.randn([B, 3, S, S]));
  const labels = onDevice(T.noGrad(() => T.tidy(() => T.rand([B, 1, S, S]).gt(0.5).float())));
  const params = seg.parameterGroups(0.01).flatMap((g) => g.params);
  seg.train();
  const opt = new T.optim.AdamW(seg.parameterGroups(0.01), { lr: 2e-4 });
  const step = (): { seconds: number; cpu: number } => {
    if (cuda) T.synchronize();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    opt.zeroGrad();
    T.tidy(() => {
      const loss = amp.run(() => diceCELoss(float32(seg.forward(px, text)), labels).loss);
      (amp.scaler ? amp.scaler.scaleLoss(loss) : loss).backward();
    });
    if (amp.scaler) {
      amp.scaler.step(opt, params);
      amp.scaler.update();
    } else opt.step();
    if (cuda) T.synchronize();
    const c = process.cpuUsage(c0);
    return { seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
  };
  const nograd = (): { seconds: number } => {
    seg.eval();
    const t0 = performance.now();
    T.noGrad(() =>
      T.tidy(() => {
        amp.run(() => seg.forward(px, text));
      }),
    );
    if (cuda) T.synchronize();
    seg.train();
    return { seconds: (performance.now() - t0) / 1000 };
  };
  // The same step cut into segments for --profile (bench/step_profile.ts).
  const profiled = (): StepProfile =>
    profileStep(T, {
      zeroGrad: () => opt.zeroGrad(),
      forward: () => amp.run(() => float32(seg.forward(px, text))),
      loss: (logits) => amp.run(() => diceCELoss(logits, labels).loss),
      backward: (loss) => (amp.scaler ? amp.scaler.scaleLoss(loss) : loss).backward(),
      optimizer: () => {
        if (!amp.scaler) return opt.step();
        amp.scaler.step(opt, params);
        amp.scaler.update();
      },
    });
  const out = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  out({ ready: true, trainable: seg.numParameters(true), imageSize: S });
  let first = true;
  for await (const line of (await import('node:readline')).createInterface({ input: process.stdin })) {
    const cmd = line.trim();
    if (cmd === 'run') {
      const r = step();
      if (first) {
        T.resetPeakMemory();
        if (cuda) T.cudaResetPeakMemory(T.cudaIndexOf(so.device));
        first = false;
      }
      out(r);
    } else if (cmd === 'nograd') out(nograd());
    else if (cmd === 'profile') out(profiled());
    else if (cmd === 'peak') out(sgemmPeak(T, so.device));
    else if (cmd === 'stats') {
      const ru = process.resourceUsage();
      const cm = cuda ? T.cudaMemory(T.cudaIndexOf(so.device)) : null;
      out({
        peakRssMb: ru.maxRSS / 1024,
        peakNativeMb: T.memoryStats().peakBytes / 2 ** 20,
        liveNativeMb: T.memoryStats().liveBytes / 2 ** 20,
        peakCudaMb: cm ? cm.peakAllocated / 2 ** 20 : null,
      });
    } else if (cmd === 'quit') break;
  }
  opt.dispose();
  seg.dispose();
}

// ----------------------------------------------------------------------------- parent mode

class LineServer {
  readonly proc: ChildProcessWithoutNullStreams;
  #buf = '';
  #waiting: ((line: string) => void)[] = [];
  /** Lines that arrived before anyone asked for them. */
  #pending: string[] = [];
  #stderr = '';
  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
    this.proc = spawn(cmd, args, { env, cwd: repoRoot() });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-4000);
    });
    this.proc.stdout.on('data', (d: string) => {
      this.#buf += d;
      let i;
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        if (!line.trim().startsWith('{')) continue;
        const w = this.#waiting.shift();
        if (w) w(line);
        else this.#pending.push(line);
      }
    });
    this.proc.on('exit', (code) => {
      for (const w of this.#waiting.splice(0)) w(JSON.stringify({ error: `exited with ${code}: ${this.#stderr}` }));
    });
  }
  next<R>(): Promise<R> {
    return new Promise((resolve, reject) => {
      const take = (line: string): void => {
        const v = JSON.parse(line) as R & { error?: string };
        if (v.error) reject(new Error(v.error));
        else resolve(v);
      };
      const early = this.#pending.shift();
      if (early !== undefined) take(early);
      else this.#waiting.push(take);
    });
  }
  call<R>(cmd: string): Promise<R> {
    const p = this.next<R>();
    this.proc.stdin.write(`${cmd}\n`);
    return p;
  }
  quit(): void {
    this.proc.stdin.write('quit\n');
    this.proc.stdin.end();
  }
}

export interface LearnersBenchOptions {
  runs: number;
  only: string[];
  precisions: string[];
  device: string;
  batch: number;
  withTorch: boolean;
  ompActive: boolean;
  /** forward-only timings (skipped on the GPU bench) */
  nograd: boolean;
  /** after the timed steps: the sgemm peak and one profiled step by op family (bench/step_profile.ts) */
  profile?: boolean;
  /** with PyTorch interleaved, a pause before each side's step (ms, default 250) */
  settleMs?: number;
}

/** Runs the cases (each precision in its own pair of processes) and returns the rows; prints one line per row. */
export async function runLearnersBench(o: LearnersBenchOptions): Promise<Record<string, Record<string, unknown>>> {
  // The CPU reference times (absent on a GPU machine, where only the same-run PyTorch ratio counts).
  const refFile = join(repoRoot(), '..', 'shared', 'fixtures', 'bench_reference.json');
  const reference = (existsSync(refFile) ? JSON.parse(readFileSync(refFile, 'utf8')) : { results: {} }) as {
    results: Record<string, { train_step_median_s: number; forward_nograd_median_s: number; trainable_params?: number }>;
  };
  const env = { ...process.env, OMP_WAIT_POLICY: o.ompActive ? 'ACTIVE' : 'PASSIVE' };
  const python = process.env.TUNEVLSEG_PYTHON ?? '/usr/bin/python3';
  const cuda = o.device !== 'cpu';
  const results: Record<string, Record<string, unknown>> = {};
  for (const name of o.only) {
    const spec = CASES[name];
    if (!spec) throw new Error(`unknown case ${name} (have ${Object.keys(CASES).join(', ')})`);
    for (const precision of o.precisions) {
      const key = precision === '32' ? name : `${name}@${precision}`;
      const serve = ['--serve-case', name, '--precision', precision, '--device', o.device, '--batch', String(o.batch)];
      const ours = new LineServer(process.execPath, [fileURLToPath(import.meta.url), ...serve], env);
      const torch =
        o.withTorch && spec.torch && existsSync(python)
          ? new LineServer(
              python,
              [
                join(repoRoot(), 'bench', 'learners_torch.py'),
                '--serve',
                '--case',
                spec.torch,
                '--precision',
                precision,
                '--device',
                o.device,
                '--batch',
                String(o.batch),
              ],
              process.env,
            )
          : null;
      try {
        const ready = await ours.next<{ trainable: number; imageSize: number }>();
        if (torch) await torch.next();
        const mine: { seconds: number; cpu: number }[] = [];
        const theirs: { seconds: number; cpu: number }[] = [];
        // The sgemm peak moves with the machine (+-15% on a shared host): measured before the steps
        // and again after them, the higher kept.
        const peakBefore = o.profile ? await ours.call<{ gflops: number; shapes: string[] }>('peak') : null;
        // Between the two sides' steps, a pause: PyTorch's idle OpenBLAS threads spin for about
        // 0.1 s after its step (OpenBLAS's default thread timeout) and would take the cores from
        // the first tenth of a second of ours (ours sleep at once, OMP_WAIT_POLICY=PASSIVE and
        // OPENBLAS_THREAD_TIMEOUT=4). Each side times its own step; the pause is in neither.
        const settleMs = o.settleMs ?? 250;
        const settle = async (): Promise<void> => {
          if (torch && settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
        };
        await ours.call('run'); // warm-up
        if (torch) await torch.call('run');
        for (let i = 0; i < o.runs; i++) {
          await settle();
          mine.push(await ours.call('run'));
          await settle();
          if (torch) theirs.push(await torch.call('run'));
        }
        const fwd: number[] = [];
        if (o.nograd) for (let i = 0; i < 3; i++) fwd.push((await ours.call<{ seconds: number }>('nograd')).seconds);
        let profile: Record<string, unknown> | null = null;
        if (o.profile) {
          // Two profiled steps (the observer has its own warm-up), the faster kept; the peak measured beside them.
          const peakAfter = await ours.call<{ gflops: number; shapes: string[] }>('peak');
          const peak = peakBefore && peakBefore.gflops > peakAfter.gflops ? peakBefore : peakAfter;
          const a = await ours.call<StepProfile>('profile');
          const b = await ours.call<StepProfile>('profile');
          const p = a.stepMs <= b.stepMs ? a : b;
          for (const line of formatProfile(key, p, peak.gflops)) console.log(line);
          profile = {
            step_ms: round(p.stepMs, 0),
            families_ms: Object.fromEntries(FAMILIES.map((f) => [f, round(p.families[f], 1)])),
            gflop: round(p.gflop, 1),
            gemm_ms: round(p.gemmMs, 0),
            gemm_gflops: round(p.gemmGflops, 1),
            sgemm_peak_gflops: round(peak.gflops, 1),
            sgemm_peak_shapes: peak.shapes,
            gemm_fraction_of_peak: round(p.gemmGflops / peak.gflops),
            step_fraction_of_peak: round(p.gflop / (p.stepMs / 1000) / peak.gflops),
            top_ops: p.topOps.map(([n, ms, calls]) => ({ op: n, self_ms: round(ms, 1), calls })),
            load_avg: round(loadavg()[0]!, 2),
          };
        }
        const stats = await ours.call<{ peakRssMb: number; peakNativeMb: number; peakCudaMb: number | null }>('stats');
        const torchStats = torch && cuda ? await torch.call<{ peakCudaMb: number | null }>('stats') : null;
        const med = median(mine.map((r) => r.seconds));
        const ref = spec.reference && precision === '32' && !cuda && o.batch === 2 ? reference.results[spec.reference] : undefined;
        const row: Record<string, unknown> = {
          precision,
          median_s: round(med),
          runs_s: mine.map((r) => round(r.seconds)),
          cpu_median_s: round(median(mine.map((r) => r.cpu))),
          ...(fwd.length ? { forward_nograd_median_s: round(median(fwd)) } : {}),
          peak_rss_mb: round(stats.peakRssMb, 0),
          peak_native_mb: round(stats.peakNativeMb, 0),
          ...(stats.peakCudaMb !== null ? { peak_cuda_mb: round(stats.peakCudaMb, 0) } : {}),
          trainable_params: ready.trainable,
          image_size: ready.imageSize,
        };
        if (ref) {
          row.reference_median_s = round(ref.train_step_median_s);
          row.ratio_vs_reference = round(med / ref.train_step_median_s);
          if (fwd.length) row.forward_ratio_vs_reference = round(median(fwd) / ref.forward_nograd_median_s);
        }
        if (theirs.length) {
          const tm = median(theirs.map((r) => r.seconds));
          row.torch_same_load_median_s = round(tm);
          row.torch_same_load_cpu_median_s = round(median(theirs.map((r) => r.cpu)));
          row.ratio_vs_torch_same_load = round(med / tm);
          // Each of our steps against the PyTorch step right after it: the median of these ratios
          // moves less when the machine's load swings between steps.
          row.ratio_vs_torch_paired = round(median(mine.map((r, i) => r.seconds / theirs[i]!.seconds)));
          if (torchStats?.peakCudaMb) {
            row.torch_peak_cuda_mb = round(torchStats.peakCudaMb, 0);
            if (stats.peakCudaMb !== null) row.memory_ratio_vs_torch = round(stats.peakCudaMb / torchStats.peakCudaMb);
          }
        }
        if (profile) {
          // The floor: this step's products (GEMM and the fused attention's) at the sgemm peak
          // measured beside them, with every other op free. No float32 step of this learner can
          // take less on this machine, so floor / PyTorch's median bounds the reachable ratio.
          const floorS = (profile.gflop as number) / (profile.sgemm_peak_gflops as number);
          profile.floor_s = round(floorS);
          if (theirs.length) {
            profile.floor_ratio_vs_torch = round(floorS / (row.torch_same_load_median_s as number));
            console.log(
              `floor ${key}: ${(profile.gflop as number).toFixed(1)} GFLOP at the ${(profile.sgemm_peak_gflops as number).toFixed(0)} GFLOP/s peak = ` +
                `${floorS.toFixed(3)} s = ${(profile.floor_ratio_vs_torch as number).toFixed(3)}x PyTorch's step in this run (ours ${(row.ratio_vs_torch_same_load as number).toFixed(3)}x)`,
            );
          }
          row.profile = profile;
        }
        if (spec.note) row.note = spec.note;
        results[key] = row;
        console.log(
          `${key.padEnd(28)} median ${med.toFixed(3)} s (runs ${mine.map((r) => r.seconds.toFixed(2)).join(' ')})` +
            `${ref ? `, reference ${ref.train_step_median_s.toFixed(2)} s -> ratio ${(med / ref.train_step_median_s).toFixed(2)}` : ''}` +
            `${theirs.length ? `, PyTorch same load ${median(theirs.map((r) => r.seconds)).toFixed(3)} s -> ratio ${(row.ratio_vs_torch_same_load as number).toFixed(2)} (paired ${(row.ratio_vs_torch_paired as number).toFixed(2)})` : ''}` +
            `${fwd.length ? `, no-grad fwd ${median(fwd).toFixed(2)} s` : ''}, peak ${stats.peakCudaMb !== null ? `CUDA ${stats.peakCudaMb.toFixed(0)} MB` : `RSS ${stats.peakRssMb.toFixed(0)} MB`}` +
            `, load ${loadavg()[0]!.toFixed(2)}`,
        );
      } finally {
        ours.quit();
        torch?.quit();
      }
    }
  }
  return results;
}

async function main(): Promise<void> {
  const one = argValue('serve-case');
  if (one) {
    return serveCase(one, {
      precision: argValue('precision') ?? '32',
      device: argValue('device') ?? 'cpu',
      batch: Number(argValue('batch') ?? 2),
    });
  }
  const o: LearnersBenchOptions = {
    runs: Number(argValue('runs') ?? 5),
    only: argValue('only')?.split(',') ?? Object.keys(CASES),
    precisions: argValue('precision')?.split(',') ?? ['32'],
    device: argValue('device') ?? 'cpu',
    batch: Number(argValue('batch') ?? 2),
    withTorch: process.argv.includes('--torch'),
    ompActive: process.argv.includes('--omp-active'),
    nograd: true,
    profile: process.argv.includes('--profile'),
    settleMs: Number(argValue('settle-ms') ?? 250),
  };
  const loadStart = loadavg();
  console.log(
    `learners bench: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadStart.map((x) => x.toFixed(2)).join(' ')}, ` +
      `${o.runs} runs after 1 warm-up, device ${o.device}, batch ${o.batch}, precision ${o.precisions.join(', ')}, ` +
      `OMP_WAIT_POLICY=${o.ompActive ? 'ACTIVE' : 'PASSIVE'}${o.withTorch ? ', PyTorch interleaved' : ''}`,
  );
  const results = await runLearnersBench(o);
  const loadEnd = loadavg();
  const clipsegRatios = Object.entries(results)
    .filter(([k]) => CASES[k]?.family === 'clipseg' && k !== 'coop_d1_frozen_cache')
    .map(([, r]) => r.ratio_vs_reference as number | undefined)
    .filter((x): x is number => x !== undefined);
  const torchRatios = (p: string): number[] =>
    Object.values(results)
      .filter((r) => r.precision === p && typeof r.ratio_vs_torch_same_load === 'number')
      .map((r) => r.ratio_vs_torch_same_load as number);
  console.log(
    JSON.stringify({
      bench: 'learners',
      threads: 2,
      batch: o.batch,
      device: o.device,
      runs: o.runs,
      precisions: o.precisions,
      omp_wait_policy: o.ompActive ? 'ACTIVE' : 'PASSIVE',
      load_avg_start: loadStart.map((x) => round(x, 2)),
      load_avg_end: loadEnd.map((x) => round(x, 2)),
      target_ratio: 0.75,
      target_ratio_vs_torch_cpu: 0.35,
      max_clipseg_ratio_vs_reference: clipsegRatios.length ? Math.max(...clipsegRatios) : null,
      max_ratio_vs_torch_same_load: Object.fromEntries(
        o.precisions.map((p) => [p, torchRatios(p).length ? Math.max(...torchRatios(p)) : null]),
      ),
      learners: results,
    }),
  );
}

// Imported by bench/learners_cuda.ts for runLearnersBench: only run as a script.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
