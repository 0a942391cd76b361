// bench/engine: one CLIP ViT-B/16 encoder layer (485 tokens, width 768, 12 heads, MLP 3072),
// forward (no grad) and forward+backward to the input, batch 1 and 4: ours is the model's own
// layer (src/models/clip/layers.ts CLIPEncoderLayer: the fused attention and fc1 + quick_gelu ops
// of native/src/fused.cc), PyTorch's is HF's eager math (bench/engine_torch.py), same thread
// count, runs interleaved. Ratio = ours / PyTorch.
import * as T from '../src/torch/index.js';
import { CLIPEncoderLayer } from '../src/models/clip/layers.js';
import { median, timeRuns, PythonWorker, fmt } from './util.js';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';

const threads = Number(process.env.BENCH_THREADS ?? 2);
const runs = Number(process.env.BENCH_RUNS ?? 7);
const device = process.env.BENCH_DEVICE ?? 'cpu';
T.setNumThreads(threads);
T.manualSeed(0);
const W = 768,
  H = 12,
  MLP = 3072,
  L = 485;
const { tidy } = T;

const blk = new CLIPEncoderLayer({
  hiddenSize: W,
  intermediateSize: MLP,
  numAttentionHeads: H,
  hiddenAct: 'quick_gelu',
  layerNormEps: 1e-5,
  attentionDropout: 0,
});
blk.eval().requiresGrad_(false).to(device);
const inputs = new Map([1, 4].map((B) => [B, T.randn([B, L, W], { device }).keep()]));
const oursRun: Record<string, () => void> = {};
for (const B of [1, 4]) {
  const x = inputs.get(B)!;
  oursRun[`forward_b${B}`] = () => {
    T.noGrad(() => tidy(() => void blk.forward(x)));
    T.synchronize();
  };
  oursRun[`forward_backward_b${B}`] = () =>
    tidy(() => {
      const xi = x.clone().requiresGrad_(true);
      blk.forward(xi).sum().backward();
      void xi.grad;
    });
  const fb = oursRun[`forward_backward_b${B}`]!;
  oursRun[`forward_backward_b${B}`] = () => {
    fb();
    T.synchronize();
  };
}
const script = fileURLToPath(new URL('../../bench/engine_torch.py', import.meta.url));
const py = new PythonWorker(script, [String(threads), device]);
const hello = await py.call<{ torch: string; threads: number }>('');
const rows: Record<string, { ours_s: number; torch_s: number; ratio: number }> = {};
const loadStart = loadavg();
console.log(
  `ViT-B/16 block on ${device}, ${L} tokens, ${threads} threads, median of ${runs}, runs interleaved with PyTorch (libtorch ${T.runtimeInfo().libtorchVersion}, PyTorch ${hello.torch}); load average ${loadStart.map((x) => x.toFixed(2)).join(' ')}`,
);
console.log('row                    ours        pytorch     ratio');
for (const [k, fn] of Object.entries(oursRun)) {
  fn();
  await py.call(k); // warm-up both
  const a: number[] = [],
    b: number[] = [];
  for (let i = 0; i < runs; i++) {
    a.push(timeRuns(fn, 1, 0)[0]!);
    b.push((await py.call<{ s: number }>(k)).s);
  }
  const r = { ours_s: median(a), torch_s: median(b), ratio: median(a) / median(b) };
  rows[k] = r;
  console.log(`${k.padEnd(22)} ${fmt(r.ours_s).padStart(10)}  ${fmt(r.torch_s).padStart(10)}  ${r.ratio.toFixed(3)}`);
}
py.close();
console.log(
  JSON.stringify({
    bench: 'engine',
    threads,
    runs,
    device,
    rows,
    max_ratio: Math.max(...Object.values(rows).map((r) => r.ratio)),
    load_avg_start: loadStart.map((x) => Number(x.toFixed(2))),
    load_avg_end: loadavg().map((x) => Number(x.toFixed(2))),
  }),
);
