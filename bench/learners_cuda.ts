/**
 * CUDA check and benchmark of the prompted segmenters (run on a GPU machine after building the
 * addon against its torch, see scripts/gpu-run.sh and docs/gpu.md).
 *
 * 1. Parity: for every learner fixture case the segmenter runs forward + DiceCE + backward on
 *    the CPU in float32, then after `.to('cuda')` from the same parameters
 *    - in float32 with TF32 off (`tf32: off`): logits, loss and every gradient within the CPU
 *      parity tolerances (src/parity/compare.ts: logits 1e-4 + 1e-4 rel, loss 1e-6,
 *      gradients 1e-5 + 1e-3 x max|g|) — no TF32 means the GPU should match float32 math;
 *    - in 16-mixed (float16 autocast, float32 logits into the loss): within the mixed-precision
 *      tolerances MIXED16 below (float16 has a 10-bit mantissa: ~5e-4 relative per op).
 * 2. The trainer in 16-mixed on CUDA: the tiny segmenter on synthetic shapes, once straight
 *    through and once interrupted after step 5 (AbortSignal) and resumed: the loss-scale
 *    sequence and skipped steps in metrics.jsonl must be equal, the final validation Dice
 *    within 1e-3 (cuDNN backward kernels may use atomics), and the resume state holds the scaler.
 * 3. Timing: `bench/learners` on CUDA at the paper's batch 32 and 352 px (CRIS: 416 px) for
 *    VPT d9, MaPLe d9, CoOp d1 and CRIS CoOp d1, in 32 and 16-mixed, each step interleaved
 *    with the original wrappers run by PyTorch (bench/learners_torch.py: torch.autocast +
 *    torch.cuda.amp.GradScaler, cudnn.benchmark on, as the original's run scripts). CRIS has
 *    no PyTorch restatement here: its rows have no ratio.
 *
 * One JSON line per check; the last line is {"bench":"learners_cuda", ..., "rows": {<case>[@16-mixed]:
 * {"median_s", "torch_median_s", "ratio_vs_torch", "peak_cuda_mb", "torch_peak_cuda_mb", "memory_ratio_vs_torch"}}}.
 *
 *   node dist/bench/learners_cuda.js [fixturesDir] [--runs 5] [--skip-timing]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { train, resumeRun, TinySegmenter, TrainingInterruptedError, type TrainConfigInput } from '../src/index.js';
import * as T from '../src/torch/index.js';
import { learnerCaseDirs, loadLearnerCase } from './learner-cases.js';
import { loadStateStrict } from '../src/tuning/common.js';
import { diceCELoss } from '../src/inference/loss.js';
import { float32 } from '../src/inference/precision.js';
import { runLearnersBench } from './learners.js';

/** Documented 16-mixed tolerances against the float32 CPU run (docs/gpu.md). */
export const MIXED16 = { logitsAbs: 1e-1, loss: 5e-3, gradRel: 1e-1 };
/** The CPU parity tolerances (src/parity/compare.ts), for float32 with TF32 off. */
const FP32 = { logitsAtol: 1e-4, logitsRtol: 1e-4, loss: 1e-6, gradAtol: 1e-5, gradRtol: 1e-3 };

const argv = process.argv.slice(2);
const flagValue = (n: string): string | undefined => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : undefined);
const fixtures = argv[0] && !argv[0].startsWith('--') ? argv[0] : join(process.cwd(), '..', 'shared', 'fixtures');
if (!T.runtimeInfo().cudaAvailable) {
  console.log(JSON.stringify({ error: 'CUDA is not available to this libtorch' }));
  process.exit(1);
}
const tf32 = T.applyTf32('off');
console.log(JSON.stringify({ tf32 }));

interface RunOut {
  logits: T.Tensor;
  loss: number;
  grads: Map<string, T.Tensor | null>;
}

const parity: Record<string, { cases: number; failed: number }> = {
  fp32_tf32_off: { cases: 0, failed: 0 },
  mixed16: { cases: 0, failed: 0 },
};
const dirs = learnerCaseDirs(fixtures);
for (const dir of dirs) {
  const { seg, params, inputs } = loadLearnerCase(dir);
  const outs: RunOut[] = [];
  try {
    loadStateStrict(new Map(seg.namedTrainable()), params, 'cuda check');
    const run = (device: string, half: boolean): RunOut => {
      const at = (k: string): T.Tensor => inputs.get(k)!.to(device);
      seg.zeroGrad();
      const { logits, loss } = T.tidy(() => {
        const fwd = (): T.Tensor =>
          float32(seg.forward(at('pixel_values'), { inputIds: at('input_ids'), attentionMask: at('attention_mask') }));
        const l = half ? T.autocast('cuda', 'float16', fwd) : fwd();
        const d = diceCELoss(l, at('labels')).loss;
        d.backward();
        return { logits: l.detach().to('cpu'), loss: d.item() };
      });
      const r = { logits, loss, grads: new Map(seg.namedTrainable().map(([k, p]) => [k, p.grad ? p.grad.to('cpu') : null])) };
      outs.push(r);
      return r;
    };
    const cpu = run('cpu', false);
    seg.to('cuda');
    for (const [kind, half] of [
      ['fp32_tf32_off', false],
      ['mixed16', true],
    ] as const) {
      const gpu = run('cuda', half);
      const dLogits = T.tidy(() => cpu.logits.sub(gpu.logits).abs().max().item());
      const logitsOk = half
        ? dLogits <= MIXED16.logitsAbs
        : T.tidy(() => cpu.logits.sub(gpu.logits).abs().le(cpu.logits.abs().mul(FP32.logitsRtol).add(FP32.logitsAtol)).all().item()) === 1;
      let gradOk = true;
      let dGrad = 0;
      for (const [k, g] of cpu.grads) {
        const h = gpu.grads.get(k);
        if ((g === null) !== (h === null || h === undefined)) gradOk = false;
        if (!g || !h) continue;
        const [diff, scale] = T.tidy(() => [g.sub(h).abs().max().item(), g.abs().max().item()]);
        dGrad = Math.max(dGrad, diff / Math.max(1e-12, scale));
        if (half ? diff > MIXED16.gradRel * scale : diff > FP32.gradAtol + FP32.gradRtol * scale) gradOk = false;
      }
      const dLoss = Math.abs(cpu.loss - gpu.loss);
      const pass = logitsOk && gradOk && dLoss <= (half ? MIXED16.loss : FP32.loss);
      parity[kind]!.cases++;
      if (!pass) parity[kind]!.failed++;
      console.log(
        JSON.stringify({
          check: dir.slice(fixtures.length + 1),
          precision: half ? '16-mixed' : '32 (tf32 off)',
          pass,
          logits_max_abs: dLogits,
          loss_abs: dLoss,
          grad_max_rel: dGrad,
        }),
      );
    }
  } catch (e) {
    parity.fp32_tf32_off!.failed++;
    console.log(JSON.stringify({ check: dir, pass: false, error: (e as Error).message }));
  } finally {
    T.dispose(outs.flatMap((o) => [o.logits, ...o.grads.values()]));
    seg.dispose();
    T.dispose([...params.values(), ...inputs.values()]);
    T.cudaEmptyCache();
  }
}

/** 16-mixed through the trainer, straight and interrupted + resumed (see the header). */
async function trainerCheck(): Promise<Record<string, unknown>> {
  const tmp = mkdtempSync(join(os.tmpdir(), 'tunevlseg-amp-'));
  try {
    const data = join(tmp, 'shapes');
    await generateSyntheticDataset('shapes', data, { size: 32, counts: { train: 24, val: 8, test: 0 }, seed: 5 });
    const cfg = (name: string): TrainConfigInput => ({
      name,
      runsDir: join(tmp, 'runs'),
      seed: 1,
      device: 'cuda',
      precision: '16-mixed',
      data: { dir: data, imageSize: 32, workers: 0, testSplit: null },
      batchSize: 4,
      effectiveBatchSize: 4,
      minEpochs: 2,
      maxEpochs: 2,
      lr: 0.03,
      progress: 'none',
    });
    const build = { buildSegmenter: () => new TinySegmenter({ imageSize: 32 }) };
    const ref = await train(cfg('straight'), build);
    const ac = new AbortController();
    let interrupted = false;
    try {
      await train(cfg('resumed'), {
        ...build,
        signal: ac.signal,
        onStep: (r) => {
          if (r.globalStep === 5) ac.abort();
        },
      });
    } catch (e) {
      if (!(e instanceof TrainingInterruptedError)) throw e;
      interrupted = true;
    }
    const res = await resumeRun(join(tmp, 'runs', 'resumed'), build);
    const steps = (run: string): { lossScale?: number; skipped?: boolean }[] =>
      readFileSync(join(tmp, 'runs', run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; lossScale?: number; skipped?: boolean })
        .filter((r) => r.type === 'step');
    const a = steps('straight').map((r) => [r.lossScale, r.skipped]);
    const b = steps('resumed').map((r) => [r.lossScale, r.skipped]);
    const pass =
      interrupted &&
      JSON.stringify(a) === JSON.stringify(b) &&
      a.every(([s]) => typeof s === 'number') &&
      Math.abs(ref.val.dice - res.val.dice) < 1e-3 &&
      res.precision === '16-mixed' &&
      res.peakMemory.kind === 'cuda-allocator-peak';
    return {
      check: 'trainer 16-mixed resume',
      pass,
      interrupted,
      loss_scales: a,
      val_dice: [ref.val.dice, res.val.dice],
      peak_memory: res.peakMemory,
    };
  } catch (e) {
    return { check: 'trainer 16-mixed resume', pass: false, error: (e as Error).message };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
const trainer = await trainerCheck();
console.log(JSON.stringify(trainer));

let rows: Record<string, Record<string, unknown>> = {};
if (!argv.includes('--skip-timing')) {
  // TF32 back to libtorch's defaults for the timing (as the original runs: matmul off, cuDNN on).
  T.applyTf32('auto');
  const all = await runLearnersBench({
    runs: Number(flagValue('runs') ?? 5),
    only: ['vpt_d9', 'maple_d9', 'coop_d1', 'cris_coop_d1'],
    precisions: ['32', '16-mixed'],
    device: 'cuda',
    batch: 32,
    withTorch: true,
    ompActive: false,
    nograd: false,
  });
  rows = Object.fromEntries(
    Object.entries(all).map(([k, r]) => [
      k,
      {
        precision: r.precision,
        median_s: r.median_s,
        torch_median_s: r.torch_same_load_median_s ?? null,
        ratio_vs_torch: r.ratio_vs_torch_same_load ?? null,
        peak_cuda_mb: r.peak_cuda_mb ?? null,
        torch_peak_cuda_mb: r.torch_peak_cuda_mb ?? null,
        memory_ratio_vs_torch: r.memory_ratio_vs_torch ?? null,
      },
    ]),
  );
}
const mixedRatios = Object.values(rows)
  .filter((r) => r.precision === '16-mixed' && typeof r.ratio_vs_torch === 'number')
  .map((r) => r.ratio_vs_torch as number);
console.log(
  JSON.stringify({
    bench: 'learners_cuda',
    batch: 32,
    parity,
    trainer_16_mixed_resume: trainer.pass,
    mixed16_tolerances: MIXED16,
    goal_ratio_vs_torch_16_mixed: 0.6,
    max_ratio_vs_torch_16_mixed: mixedRatios.length ? Math.max(...mixedRatios) : null,
    rows,
  }),
);
process.exit(parity.fp32_tf32_off!.failed + parity.mixed16!.failed || !trainer.pass ? 1 : 0);
