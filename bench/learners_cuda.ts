/**
 * CUDA check of the prompted segmenters (run on a GPU machine after building the addon against
 * its torch, see scripts/gpu-run.sh): for every learner fixture case, the segmenter runs forward
 * + DiceCE + backward on the CPU and again after `.to('cuda')` from the same parameters; logits,
 * loss and every gradient must agree. Then one full-size VPT d1 / CoOp d1 training step on CUDA
 * is timed. One JSON line per check; the last line is a summary.
 *
 * Tolerances are TF32-level: libtorch 2.x lets cuDNN convolutions use TF32 by default (10-bit
 * mantissa), so the patch embedding and the transposed convolutions differ from the CPU by ~1e-3
 * relative (H200, torch 2.11: logits <= 2.6e-3 abs, losses <= 6e-6, gradients <= 7e-3 relative
 * to the tensor's max). A wrong prompt placement changes logits by 1e-2..1.
 *
 *   node dist/bench/learners_cuda.js [fixturesDir]
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { buildCaseSegmenter } from '../src/parity/kinds/learners.js';
import { loadStateStrict } from '../src/tuning/common.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import { diceCELoss } from '../src/train/loss.js';

const fixtures = process.argv[2] ?? join(process.cwd(), '..', 'shared', 'fixtures');
if (!T.runtimeInfo().cudaAvailable) {
  console.log(JSON.stringify({ error: 'CUDA is not available to this libtorch' }));
  process.exit(1);
}
let failed = 0;
const dirs = ['clipseg-tiny', 'cris-tiny'].flatMap((m) => {
  const d = join(fixtures, m, 'learners');
  return existsSync(d) ? readdirSync(d).filter((e) => existsSync(join(d, e, 'case.json'))).map((e) => join(d, e)) : [];
});
for (const dir of dirs) {
  const cj = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Record<string, unknown>;
  const { segmenter: seg, root } = buildCaseSegmenter(dir, cj);
  const params = T.loadSafetensors(join(dir, 'params_init.safetensors')).tensors;
  const inputs = T.loadSafetensors(join(root, 'inputs.safetensors')).tensors;
  try {
    loadStateStrict(new Map(seg.namedTrainable()), params, 'cuda check');
    const run = (device: string): { logits: T.Tensor; loss: number; grads: Map<string, T.Tensor | null> } => {
      const at = (k: string): T.Tensor => inputs.get(k)!.to(device);
      seg.zeroGrad();
      const { logits, loss } = T.tidy(() => {
        const l = seg.forward(at('pixel_values'), { inputIds: at('input_ids'), attentionMask: at('attention_mask') });
        const d = diceCELoss(l, at('labels')).loss;
        d.backward();
        return { logits: l.detach().to('cpu'), loss: d.item() };
      });
      return { logits, loss, grads: new Map(seg.namedTrainable().map(([k, p]) => [k, p.grad ? p.grad.to('cpu') : null])) };
    };
    const cpu = run('cpu');
    seg.to('cuda');
    const gpu = run('cuda');
    const dLogits = T.tidy(() => cpu.logits.sub(gpu.logits).abs().max().item());
    let dGrad = 0;
    let gradMismatch = false;
    for (const [k, g] of cpu.grads) {
      const h = gpu.grads.get(k);
      if ((g === null) !== (h === null || h === undefined)) gradMismatch = true;
      if (g && h) dGrad = Math.max(dGrad, T.tidy(() => g.sub(h).abs().max().item() / Math.max(1e-12, g.abs().max().item())));
    }
    const pass = dLogits < 1e-2 && Math.abs(cpu.loss - gpu.loss) < 1e-4 && dGrad < 3e-2 && !gradMismatch;
    if (!pass) failed++;
    console.log(JSON.stringify({ check: dir.slice(fixtures.length + 1), pass, logits_max_abs: dLogits, loss_cpu: cpu.loss, loss_cuda: gpu.loss, grad_max_rel: dGrad, gradMismatch }));
    T.dispose([cpu.logits, gpu.logits, ...cpu.grads.values(), ...gpu.grads.values()]);
  } catch (e) {
    failed++;
    console.log(JSON.stringify({ check: dir, pass: false, error: (e as Error).message }));
  } finally {
    seg.dispose();
    T.dispose([...params.values(), ...inputs.values()]);
  }
}

// Full-size training steps on CUDA (random weights, batch 2).
const timings: Record<string, number> = {};
for (const [name, cfg] of [['vpt_d1', { learner: 'vpt', depth: 1 }], ['coop_d1', { learner: 'coop', depth: 1 }], ['cris_coop_d1', { model: 'cris-rn50', learner: 'coop' }]] as const) {
  try {
    const seg = await buildSegmenter({ model: 'rd64-refined', randomWeights: true, device: 'cuda', ...cfg });
    const S = seg.info.imageSize;
    const px = T.keep(T.randn([2, 3, S, S]).to('cuda'));
    const labels = T.keep(T.rand([2, 1, S, S]).gt(0.5).float().to('cuda'));
    const ids = T.keep(T.tensor([[49406, 320, 1125, 539, 320, 6833, 335, 269, 49407], [49406, 3575, 534, 1015, 49407, 49407, 49407, 49407, 49407]], { dtype: 'int64' }).to('cuda'));
    const mask = T.keep(T.tensor([[1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0, 0]], { dtype: 'int64' }).to('cuda'));
    seg.train();
    const opt = new T.optim.AdamW(seg.parameterGroups(0.01), { lr: 2e-4 });
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      opt.zeroGrad();
      T.tidy(() => diceCELoss(seg.forward(px, { inputIds: ids, attentionMask: mask }), labels).loss.backward());
      opt.step();
      T.synchronize();
      if (i > 0) times.push((performance.now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    timings[name] = times[2]!;
    console.log(JSON.stringify({ step: name, device: 'cuda', median_s: times[2] }));
    opt.dispose();
    seg.dispose();
    T.dispose([px, labels, ids, mask]);
  } catch (e) {
    failed++;
    console.log(JSON.stringify({ step: name, error: (e as Error).message }));
  }
}
console.log(JSON.stringify({ bench: 'learners_cuda', cases: dirs.length, failed, cuda_step_median_s: timings }));
process.exit(failed ? 1 : 0);
