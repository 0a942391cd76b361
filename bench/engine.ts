// bench/engine: one CLIP ViT-B/16 encoder layer (485 tokens, width 768, 12 heads, MLP 3072),
// forward (no grad) and forward+backward to the input, batch 1 and 4, TypeScript on our
// addon vs the same computation in PyTorch, same thread count. Ratio = ours / PyTorch.
import * as T from '../src/torch/index.js';
import { median, timeRuns, PythonWorker, fmt } from './util.js';
import { fileURLToPath } from 'node:url';

const threads = Number(process.env.BENCH_THREADS ?? 2);
const runs = Number(process.env.BENCH_RUNS ?? 7);
const device = process.env.BENCH_DEVICE ?? 'cpu';
T.setNumThreads(threads);
T.manualSeed(0);
const W = 768, H = 12, MLP = 3072, L = 485, D = W / H;
const { nn, F, tidy } = T;

class Block extends nn.Module {
  ln1 = this.registerModule('layer_norm1', new nn.LayerNorm(W));
  q = this.registerModule('q_proj', new nn.Linear(W, W));
  k = this.registerModule('k_proj', new nn.Linear(W, W));
  v = this.registerModule('v_proj', new nn.Linear(W, W));
  o = this.registerModule('out_proj', new nn.Linear(W, W));
  ln2 = this.registerModule('layer_norm2', new nn.LayerNorm(W));
  fc1 = this.registerModule('fc1', new nn.Linear(W, MLP));
  fc2 = this.registerModule('fc2', new nn.Linear(MLP, W));
  // Sub-blocks run in their own tidy scopes, as the model code does: intermediates are freed as
  // soon as a sub-block returns (like Python's refcounting), keeping the working set small.
  attn(x: T.Tensor): T.Tensor {
    return tidy(() => this.attnInner(x));
  }
  attnInner(x: T.Tensor): T.Tensor {
    const B = x.size(0);
    const sh = (t: T.Tensor): T.Tensor => t.view(B, L, H, D).transpose(1, 2).reshape(B * H, L, D);
    const q = this.q.forward(x).mul(D ** -0.5);
    const w = sh(q).bmm(sh(this.k.forward(x)).transpose(1, 2)).softmax(-1);
    const out = w.bmm(sh(this.v.forward(x))).view(B, H, L, D).transpose(1, 2).reshape(B, L, W);
    return this.o.forward(out);
  }
  forward(x: T.Tensor): T.Tensor {
    const h1 = tidy(() => x.add(this.attn(this.ln1.forward(x))));
    return tidy(() => h1.add(this.fc2.forward(F.quickGelu(this.fc1.forward(this.ln2.forward(h1))))));
  }
}

const blk = new Block().eval().requiresGrad_(false).to(device);
const inputs = new Map([1, 4].map((B) => [B, T.randn([B, L, W], { device }).keep()]));
const oursRun: Record<string, () => void> = {};
for (const B of [1, 4]) {
  const x = inputs.get(B)!;
  oursRun[`forward_b${B}`] = () => {
    T.noGrad(() => tidy(() => void blk.forward(x)));
    T.synchronize();
  };
  oursRun[`forward_backward_b${B}`] = () => tidy(() => {
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
console.log(`ViT-B/16 block on ${device}, ${L} tokens, ${threads} threads, median of ${runs}, runs interleaved with PyTorch (libtorch ${T.runtimeInfo().libtorchVersion}, PyTorch ${hello.torch})`);
console.log('row                    ours        pytorch     ratio');
for (const [k, fn] of Object.entries(oursRun)) {
  fn();
  await py.call(k); // warm-up both
  const a: number[] = [], b: number[] = [];
  for (let i = 0; i < runs; i++) {
    a.push(timeRuns(fn, 1, 0)[0]!);
    b.push((await py.call<{ s: number }>(k)).s);
  }
  const r = { ours_s: median(a), torch_s: median(b), ratio: median(a) / median(b) };
  rows[k] = r;
  console.log(`${k.padEnd(22)} ${fmt(r.ours_s).padStart(10)}  ${fmt(r.torch_s).padStart(10)}  ${r.ratio.toFixed(3)}`);
}
py.close();
console.log(JSON.stringify({ bench: 'engine', threads, runs, device, rows, max_ratio: Math.max(...Object.values(rows).map((r) => r.ratio)) }));
