// CUDA checks for the engine (run on a GPU machine: see scripts/gpu-run.sh). Every op of a
// representative set runs on the CPU and on CUDA from the same inputs; forward values and
// gradients must agree. Prints one JSON line per check and a final summary line.
import * as T from '../src/torch/index.js';
const { F, tidy } = T;

const info = T.runtimeInfo();
if (!info.cudaAvailable) {
  console.log(JSON.stringify({ error: 'CUDA is not available to this libtorch', libtorch: info.libtorchVersion }));
  process.exit(1);
}
T.manualSeed(0);
type Op = [string, (...xs: T.Tensor[]) => T.Tensor, number[][]];
const ops: Op[] = [
  [
    'matmul',
    (a, b) => a.matmul(b),
    [
      [64, 96],
      [96, 32],
    ],
  ],
  [
    'bmm',
    (a, b) => a.bmm(b),
    [
      [4, 16, 8],
      [4, 8, 16],
    ],
  ],
  ['linear', (x, w, b) => F.linear(x, w, b), [[8, 16], [32, 16], [32]]],
  ['softmax', (x) => x.softmax(-1), [[8, 50]]],
  ['layerNorm', (x, w, b) => F.layerNorm(x, [16], w, b), [[4, 16], [16], [16]]],
  ['conv2d same', (x, w, b) => F.conv2d(x, w, b, 1, 'same'), [[2, 3, 16, 16], [8, 3, 5, 5], [8]]],
  [
    'conv2d replicate',
    (x, w) => F.conv2d(F.pad(x, [2, 2, 2, 2], 'replicate'), w),
    [
      [2, 3, 16, 16],
      [4, 3, 5, 5],
    ],
  ],
  [
    'convTranspose2d',
    (x, w) => F.convTranspose2d(x, w, null, 4),
    [
      [1, 8, 6, 6],
      [8, 4, 4, 4],
    ],
  ],
  ['interpolate bicubic', (x) => F.interpolate(x, { size: [17, 23], mode: 'bicubic', alignCorners: false }), [[1, 2, 6, 6]]],
  ['interpolate bilinear', (x) => F.interpolate(x, { scaleFactor: 16, mode: 'bilinear' }), [[1, 2, 4, 4]]],
  [
    'gridSample',
    (x, g) => F.gridSample(x, g.tanh(), 'bilinear', 'border', false),
    [
      [1, 3, 16, 16],
      [1, 8, 8, 2],
    ],
  ],
  [
    'sdpa',
    (q, k, v) => F.scaledDotProductAttention(q, k, v),
    [
      [2, 4, 16, 8],
      [2, 4, 16, 8],
      [2, 4, 16, 8],
    ],
  ],
  ['quickGelu', (x) => F.quickGelu(x), [[1000]]],
  [
    'bce',
    (x, t) => F.binaryCrossEntropyWithLogits(x, t.sigmoid()),
    [
      [4, 64],
      [4, 64],
    ],
  ],
];
let failed = 0;
for (const [name, f, shapes] of ops) {
  const r = tidy(() => {
    const cpu = shapes.map((s) => T.randn(s).requiresGrad_(true));
    const gpu = cpu.map((t) => t.detach().to('cuda').requiresGrad_(true));
    const yc = f(...cpu),
      yg = f(...gpu);
    const fwd = yg.to('cpu').sub(yc).abs().max().item();
    const rnd = T.randn(yc.shape);
    yc.mul(rnd).sum().backward();
    yg.mul(rnd.to('cuda')).sum().backward();
    const grad = Math.max(...cpu.map((c, i) => gpu[i]!.grad!.to('cpu').sub(c.grad!).abs().max().item()));
    const scale = Math.max(1, yc.abs().max().item());
    return { fwd, grad, scale, device: yg.device };
  });
  // TF32 may be on for CUDA matmuls in libtorch 2.x: allow 1e-2 relative to the output scale.
  const pass = r.fwd <= 1e-2 * r.scale && r.grad <= 1e-2 * r.scale;
  if (!pass) failed++;
  console.log(JSON.stringify({ check: name, pass, max_abs_fwd: r.fwd, max_abs_grad: r.grad, device: r.device }));
}
// device mismatch is an error, not a crash
let mismatch = '';
try {
  tidy(() => T.ones([2]).add(T.ones([2], { device: 'cuda' })));
} catch (e) {
  mismatch = (e as Error).message;
}
const mismatchOk = /^add: .*(same device|device)/.test(mismatch);
if (!mismatchOk) failed++;
console.log(JSON.stringify({ check: 'device mismatch error', pass: mismatchOk, message: mismatch.slice(0, 200) }));
// memory: disposing CUDA tensors brings the live count back; module moves keep identity
const before = T.liveTensors();
tidy(() => {
  for (let i = 0; i < 100; i++) T.randn([256, 256], { device: 'cuda' }).matmul(T.randn([256, 256], { device: 'cuda' }));
});
const lin = new T.nn.Linear(8, 4);
const w = lin.weight;
lin.to('cuda');
const moved = lin.weight === w && w.device.startsWith('cuda');
const y = tidy(() =>
  lin
    .forward(T.randn([2, 8], { device: 'cuda' }))
    .to('cpu')
    .toArray(),
);
lin.dispose();
const memOk = T.liveTensors() === before && moved && y.length === 8;
if (!memOk) failed++;
console.log(JSON.stringify({ check: 'cuda memory and module.to', pass: memOk, live_before: before, live_after: T.liveTensors(), moved }));
// CLIPSeg fixture on CUDA: logits against the PyTorch reference (when the fixture travelled).
let extra = 0;
const fx = process.env.CLIPSEG_FIXTURE;
if (fx) {
  extra = 1;
  const { CLIPSegForImageSegmentation } = await import('../src/models/clipseg/index.js');
  const m = CLIPSegForImageSegmentation.fromPretrained(fx);
  m.eval().requiresGrad_(false).to('cuda');
  const inputs = T.loadSafetensors(`${fx}/inputs.safetensors`, { device: 'cuda' }).tensors;
  const want = T.loadSafetensors(`${fx}/outputs.safetensors`).tensors;
  const diff = T.noGrad(() =>
    tidy(() => {
      const out = m.forward(inputs.get('pixel_values')!, {
        inputIds: inputs.get('input_ids')!,
        attentionMask: inputs.get('attention_mask')!,
      });
      return out.logits.to('cpu').sub(want.get('logits')!).abs().max().item();
    }),
  );
  const pass = diff < 1e-4;
  if (!pass) failed++;
  console.log(JSON.stringify({ check: 'clipseg-tiny logits on cuda vs PyTorch fixture', pass, max_abs: diff }));
}
console.log(
  JSON.stringify({
    bench: 'cuda_check',
    libtorch: info.libtorchVersion,
    devices: info.cudaDeviceCount,
    checks: ops.length + 2 + extra,
    failed,
  }),
);
process.exit(failed ? 1 : 0);
