// Mixed precision on CPU: the GradScaler's arithmetic (inf/NaN detection, skipped steps,
// growth, backoff, float32 overflow guard, state round trip) with injected infs; autocast's
// casting rules on the ops we bind (libtorch's CPU lists); the precision/tf32 config keys;
// bf16-mixed training of the tiny model (and its exact resumption through the trainer); and
// exact resumption of a loss-scaled loop.
//
// float16 autocast itself needs CUDA (libtorch 1.13's CPU autocast has no float16 matmul or
// conv kernels), so the scaler is exercised here on float32 gradients with injected infs;
// scripts/gpu-run.sh runs the 16-mixed path on a GPU.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as T from '../src/torch/index.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import {
  GradScaler,
  mixedPrecision,
  cpuBf16Autocast,
  parseTrainConfig,
  configLeaves,
  train,
  TinySegmenter,
  loadCheckpoint,
  diceCELoss,
  float32,
  evaluate,
  refuseBatchThatCannotFit,
  batchTooLargeMessage,
  resumeRun,
  TrainingInterruptedError,
  type TrainSummary,
} from '../src/index.js';

T.setNumThreads(1);

/** A parameter with a hand-set gradient. */
function paramWithGrad(values: number[], grad: number[]): T.Tensor {
  const p = T.keep(T.tensor(values).requiresGrad_());
  p.grad = T.keep(T.tensor(grad));
  return p;
}

// ------------------------------------------------------------------------------ GradScaler

test("GradScaler defaults are torch.cuda.amp.GradScaler's", () => {
  const s = new GradScaler();
  assert.deepEqual(s.stateDict(), { scale: 65536, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000, growthTracker: 0 });
});

test('GradScaler: finite grads are unscaled and stepped; an injected inf skips the step and halves the scale', () => {
  const s = new GradScaler({ initScale: 1024, growthInterval: 3 });
  const p = paramWithGrad([1, 2], [1024 * 0.5, 1024 * -0.25]); // scaled grads of [0.5, -0.25]
  const opt = new T.optim.SGD([p], { lr: 0.1 });
  try {
    assert.equal(s.unscale([p]), false);
    assert.deepEqual(Array.from(p.grad!.toFloat32Array()), [0.5, -0.25]);
    assert.throws(() => s.unscale([p]), /already called/);
    assert.equal(s.step(opt, [p]), true);
    s.update();
    const [a, b] = Array.from(p.toFloat32Array());
    assert.ok(Math.abs(a! - 0.95) < 1e-6 && Math.abs(b! - 2.025) < 1e-6, `SGD step on the unscaled grads: ${a}, ${b}`);
    assert.equal(s.scale, 1024);
    assert.equal(s.tracker, 1);

    for (const bad of [Infinity, -Infinity, NaN]) {
      const before = Array.from(p.toFloat32Array());
      p.grad = T.keep(T.tensor([1, bad]));
      const scaleBefore: number = s.scale;
      assert.equal(s.step(opt, [p]), false, `step with a ${bad} gradient is skipped`);
      s.update();
      assert.deepEqual(Array.from(p.toFloat32Array()), before, 'parameters unchanged by a skipped step');
      assert.equal(s.scale, scaleBefore * 0.5, 'backoff 0.5');
      assert.equal(s.tracker, 0, 'growth tracker reset');
    }
  } finally {
    opt.dispose();
    p.grad = null;
    p.dispose();
  }
});

test('GradScaler: the scale grows 2x after growthInterval consecutive finite steps, not before, and never to inf', () => {
  const s = new GradScaler({ initScale: 8, growthInterval: 3 });
  const p = paramWithGrad([0], [0]);
  try {
    const finiteStep = (): void => {
      p.grad = T.keep(T.tensor([s.scale]));
      assert.equal(s.unscale([p]), false);
      s.update();
    };
    finiteStep();
    finiteStep();
    assert.equal(s.scale, 8);
    assert.equal(s.tracker, 2);
    finiteStep();
    assert.equal(s.scale, 16);
    assert.equal(s.tracker, 0);
    // an overflow in between restarts the count
    finiteStep();
    p.grad = T.keep(T.tensor([NaN]));
    s.unscale([p]);
    s.update();
    assert.equal(s.scale, 8);
    finiteStep();
    finiteStep();
    assert.equal(s.scale, 8);
    finiteStep();
    assert.equal(s.scale, 16);
    // growth that would overflow float32 keeps the scale (as _amp_update_scale_ does)
    const big = new GradScaler({ initScale: 2 ** 127, growthInterval: 1 });
    p.grad = T.keep(T.tensor([1]));
    big.unscale([p]);
    big.update();
    assert.equal(big.scale, 2 ** 127);
    assert.equal(big.tracker, 0);
  } finally {
    p.grad = null;
    p.dispose();
  }
});

test('GradScaler: unscale multiplies by float32(1/scale); state round-trips and mismatched hyperparameters are refused', () => {
  const s = new GradScaler({ initScale: 3 });
  const p = paramWithGrad([0], [1]);
  try {
    s.unscale([p]);
    assert.equal(p.grad!.item(), Math.fround(Math.fround(1 / 3)));
    s.update();
    const copy = new GradScaler({ initScale: 5 });
    copy.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())));
    assert.deepEqual(copy.stateDict(), s.stateDict());
    assert.throws(() => new GradScaler({ growthInterval: 10 }).loadStateDict(s.stateDict()), /growth 2\/backoff 0.5\/interval 2000/);
    assert.throws(() => new GradScaler({ backoffFactor: 1 }), /backoffFactor/);
  } finally {
    p.grad = null;
    p.dispose();
  }
});

// ------------------------------------------------------------------------------ autocast

test('CPU autocast (bfloat16): matmul, linear, conv, bmm run in bf16; losses in float32; float32 inputs of other ops stay float32', () => {
  assert.ok(cpuBf16Autocast().available, cpuBf16Autocast().detail);
  T.tidy(() => {
    const x = T.randn([2, 4, 8]);
    const w = T.randn([6, 8], { requiresGrad: true });
    const img = T.randn([1, 3, 8, 8]);
    const k = T.randn([4, 3, 3, 3]);
    const r = T.autocast('cpu', 'bfloat16', () => {
      const y = T.F.linear(x, w);
      return {
        linear: y.dtype,
        matmul: x.matmul(x.transpose(1, 2)).dtype,
        bmm: x.bmm(x.transpose(1, 2)).dtype,
        conv2d: T.F.conv2d(img, k).dtype,
        sdpa: T.F.scaledDotProductAttention(x, x, x).dtype,
        bce: T.F.binaryCrossEntropyWithLogits(y, T.rand(y.shape)).dtype,
        mse: T.F.mseLoss(y, T.rand(y.shape)).dtype,
        layerNormOfFloat: T.F.layerNorm(x, [8]).dtype,
        softmaxOfFloat: T.F.softmax(x, -1).dtype,
        softmaxAsked: T.F.softmax(y, -1, 'float32').dtype,
        residual: y.add(T.randn(y.shape)).dtype,
        // a bf16 activation meeting float32 norm weights (libtorch 1.13's CPU kernels refuse the mix)
        layerNormOfBf16: T.F.layerNorm(y, [6], T.ones([6]), T.zeros([6])).dtype,
        groupNormOfBf16: T.F.groupNorm(T.F.conv2d(img, k), 2, T.ones([4]), T.zeros([4])).dtype,
      };
    });
    assert.equal(r.linear, 'bfloat16');
    assert.equal(r.matmul, 'bfloat16');
    assert.equal(r.bmm, 'bfloat16');
    assert.equal(r.conv2d, 'bfloat16');
    // libtorch < 2.1 runs SDPA as matmul + softmax + matmul (bf16 under autocast); 2.x dispatches
    // its fused kernel, whose autocast policy is that version's own.
    const [major, minor] = T.runtimeInfo().libtorchVersion.split('.').map(Number) as [number, number];
    if (major < 2 || (major === 2 && minor < 1)) assert.equal(r.sdpa, 'bfloat16');
    else assert.ok(['bfloat16', 'float32'].includes(r.sdpa), r.sdpa);
    assert.equal(r.bce, 'float32', "losses are on autocast's float32 list");
    assert.equal(r.mse, 'float32');
    assert.equal(r.layerNormOfFloat, 'float32', 'layer norm of the float32 residual stream stays float32');
    assert.equal(r.softmaxOfFloat, 'float32');
    assert.equal(r.softmaxAsked, 'float32');
    assert.equal(r.residual, 'float32', 'bf16 + float32 promotes to float32 (the residual stream)');
    assert.equal(r.layerNormOfBf16, 'float32', "layer norm of a bf16 activation normalises in float32 (CUDA autocast's rule)");
    assert.equal(r.groupNormOfBf16, 'float32');
    // the master weight and its gradient stay float32
    const loss = T.autocast('cpu', 'bfloat16', () => float32(T.F.linear(x, w)).square().mean());
    loss.backward();
    assert.equal(w.dtype, 'float32');
    assert.equal(w.grad!.dtype, 'float32');
    w.grad = null;
  });
});

test('autocast restores the previous state (nesting, exceptions, enabled=false) and refuses async functions', () => {
  assert.deepEqual(T.autocastState('cpu').enabled, false);
  T.tidy(() => {
    const x = T.randn([2, 3]);
    const w = T.randn([4, 3]);
    T.autocast('cpu', 'bfloat16', () => {
      assert.equal(T.autocastState('cpu').enabled, true);
      const inner = T.autocast('cpu', 'bfloat16', () => T.F.linear(x, w).dtype, false);
      assert.equal(inner, 'float32', 'an inner disabled region runs in float32');
      assert.equal(T.autocastState('cpu').enabled, true, 'the outer region is on again');
    });
    assert.throws(
      () =>
        T.autocast('cpu', 'bfloat16', () => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(T.autocastState('cpu').enabled, false);
    assert.throws(() => T.autocast('cpu', 'bfloat16', async () => 1), /async function/);
    assert.equal(T.autocastState('cpu').enabled, false);
    assert.equal(T.F.linear(x, w).dtype, 'float32');
  });
});

// ------------------------------------------------------------------------------ config

test('precision and tf32 keys: defaults, flags, YAML number 32, readable errors', () => {
  const base = { data: { dir: 'd' } };
  const c = parseTrainConfig(base);
  assert.equal(c.precision, '32');
  assert.equal(c.tf32, 'auto');
  assert.equal(parseTrainConfig({ ...base, precision: 32 }).precision, '32');
  assert.equal(parseTrainConfig({ ...base, precision: 'bf16-mixed', tf32: 'off' }).precision, 'bf16-mixed');
  assert.throws(() => parseTrainConfig({ ...base, precision: 'fp16' }), /config key "precision"/);
  assert.throws(() => parseTrainConfig({ ...base, tf32: 'yes' }), /config key "tf32"/);
  const leaves = new Map(configLeaves().map((l) => [l.key, l]));
  assert.equal(leaves.get('precision')?.flag, '--precision');
  assert.deepEqual(leaves.get('precision')?.choices, ['32', '16-mixed', 'bf16-mixed']);
  assert.equal(leaves.get('tf32')?.flag, '--tf32');
});

test('16-mixed on CPU is refused with what to use instead; the plans carry the right dtype and scaler', () => {
  assert.throws(() => mixedPrecision('16-mixed', 'cpu'), /needs a CUDA device.*bf16-mixed/);
  const bf = mixedPrecision('bf16-mixed', 'cpu');
  assert.equal(bf.dtype, 'bfloat16');
  assert.equal(bf.scaler, null);
  const fp = mixedPrecision('32', 'cpu');
  assert.equal(fp.dtype, null);
  assert.equal(
    T.tidy(() => fp.run(() => T.F.linear(T.randn([1, 2]), T.randn([2, 2])).dtype)),
    'float32',
  );
});

// ------------------------------------------------------------------------------ training

let tmp: string;
let shapes: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-precision-'));
  shapes = path.join(tmp, 'shapes');
  await generateSyntheticDataset('shapes', shapes, { size: 32, counts: { train: 24, val: 8, test: 4 }, seed: 3 });
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

test('bf16-mixed trains the tiny model (loss goes down), keeps float32 weights, and records precision, peak memory and images/s', async () => {
  const s = await train(
    {
      name: 'bf16',
      runsDir: path.join(tmp, 'runs'),
      seed: 1,
      precision: 'bf16-mixed',
      data: { dir: shapes, imageSize: 32, workers: 0 },
      batchSize: 8,
      effectiveBatchSize: 8,
      minEpochs: 4,
      maxEpochs: 4,
      lr: 0.03,
      augment: { p: 0 },
      progress: 'none',
    },
    { buildSegmenter: () => new TinySegmenter({ imageSize: 32 }) },
  );
  const epochs = readFileSync(path.join(s.runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number | string>)
    .filter((r) => r.type === 'epoch');
  assert.equal(epochs.length, 4);
  assert.ok(
    (epochs[3]!.trainLoss as number) < (epochs[0]!.trainLoss as number) * 0.95,
    `train loss ${epochs.map((e) => e.trainLoss).join(' -> ')}`,
  );
  assert.ok((epochs[3]!.valLoss as number) < (epochs[0]!.valLoss as number), `val loss ${epochs.map((e) => e.valLoss).join(' -> ')}`);
  const summary = JSON.parse(readFileSync(path.join(s.runDir, 'summary.json'), 'utf8')) as TrainSummary;
  assert.equal(summary.precision, 'bf16-mixed');
  assert.equal(summary.tf32, null, 'no TF32 flags on CPU');
  assert.equal(summary.peakMemory.kind, 'process-peak-rss');
  assert.ok(summary.peakMemory.bytes > 10 * 2 ** 20);
  assert.ok(summary.imagesPerSecond > 0);
  const { state } = loadCheckpoint(path.join(s.runDir, 'checkpoints', 'last.safetensors'));
  try {
    for (const [k, t] of state) assert.equal(t.dtype, 'float32', `${k} is stored in float32 (master weights)`);
  } finally {
    T.dispose([...state.values()]);
  }
});

test('a loss-scaled loop resumed from its saved state (params, AdamW, scaler) equals the uninterrupted loop exactly', () => {
  // Eight steps of AdamW on the tiny segmenter with a GradScaler; an inf gradient is injected at
  // steps 2 and 5 (skipped steps, backoffs) and growthInterval 2 makes the scale grow in between.
  const images = T.keep(T.rand([4, 3, 32, 32]));
  const masks = T.keep(T.rand([4, 1, 32, 32]).gt(0.5).to('float32'));
  const prompts = ['a circle', 'a square', 'a triangle', 'a circle'];
  const injectAt = new Set([2, 5]);
  const run = (
    steps: number[],
    state?: { params: Map<string, T.Tensor>; opt: T.optim.OptimizerState; scaler: ReturnType<GradScaler['stateDict']> },
  ) => {
    T.manualSeed(7);
    const seg = new TinySegmenter({ imageSize: 32 });
    const params = seg.parameterGroups(0.01).flatMap((g) => g.params);
    const opt = new T.optim.AdamW(seg.parameterGroups(0.01), { lr: 0.01 });
    const scaler = new GradScaler({ initScale: 2 ** 10, growthInterval: 2 });
    if (state) {
      seg.loadLearnableState(state.params, 'saved');
      opt.loadStateDict(state.opt);
      scaler.loadStateDict(state.scaler);
    }
    const scales: number[] = [];
    for (const step of steps) {
      T.tidy(() => {
        const logits = float32(seg.forward(images, seg.tokenize(prompts)));
        scaler.scaleLoss(diceCELoss(logits, masks).loss).backward();
        if (injectAt.has(step)) params[0]!.grad!.view(-1).narrow(0, 0, 1).fill_(Infinity);
      });
      scaler.step(opt, params);
      scaler.update();
      opt.zeroGrad();
      scales.push(scaler.scale);
    }
    const saved = {
      params: seg.learnableState(),
      opt: opt.stateDict(),
      scaler: JSON.parse(JSON.stringify(scaler.stateDict())) as ReturnType<GradScaler['stateDict']>,
    };
    const values = new Map([...saved.params].map(([k, t]) => [k, Array.from(t.toFloat32Array())]));
    return {
      saved,
      values,
      scales,
      dispose: () => {
        opt.dispose();
        seg.dispose();
      },
    };
  };
  const whole = run([0, 1, 2, 3, 4, 5, 6, 7]);
  const first = run([0, 1, 2, 3]);
  const second = run([4, 5, 6, 7], first.saved);
  try {
    assert.deepEqual([...first.scales, ...second.scales], whole.scales);
    assert.deepEqual(whole.scales, [1024, 2048, 1024, 1024, 2048, 1024, 1024, 2048]);
    assert.deepEqual(second.saved.scaler, whole.saved.scaler);
    assert.deepEqual(second.values, whole.values);
  } finally {
    whole.dispose();
    first.dispose();
    second.dispose();
    images.dispose();
    masks.dispose();
  }
});

test('evaluate with precision bf16-mixed scores within bf16 noise of float32; 16-mixed eval on CPU is refused', async () => {
  T.manualSeed(3);
  const seg = new TinySegmenter({ imageSize: 32 });
  try {
    const a = await evaluate(seg, shapes, 'val', { imageSize: 32, workers: 0 });
    const b = await evaluate(seg, shapes, 'val', { imageSize: 32, workers: 0, precision: 'bf16-mixed' });
    assert.equal(b.samples, a.samples);
    assert.ok(Math.abs(a.loss - b.loss) < 2e-2, `loss ${a.loss} vs ${b.loss}`);
    assert.notEqual(a.loss, b.loss, 'the bf16 forward really ran in bf16');
    await assert.rejects(evaluate(seg, shapes, 'val', { imageSize: 32, workers: 0, precision: '16-mixed' }), /needs a CUDA device/);
  } finally {
    seg.dispose();
  }
});

test('batch-fit probe: nothing to do on CPU; the refusal names the estimate, the device and the largest batch that fits', () => {
  const seg = new TinySegmenter({ imageSize: 32 });
  try {
    const params = seg.parameterGroups(0).flatMap((g) => g.params);
    assert.equal(refuseBatchThatCannotFit(seg, mixedPrecision('32', 'cpu'), 'cpu', 4096, 32, 'a circle', params), null);
  } finally {
    seg.dispose();
  }
  const GiB = 2 ** 30;
  const msg = batchTooLargeMessage('cuda:0', 64, {
    baseBytes: 2 * GiB,
    perSampleBytes: 1.5 * GiB,
    estimateBytes: 98 * GiB,
    totalBytes: 80 * GiB,
    fits: false,
  });
  assert.match(msg, /batchSize 64 does not fit on cuda:0/);
  assert.match(msg, /about 98\.00 GiB of the device's 80\.00 GiB/);
  assert.match(msg, /batchSize <= 46/); // floor((72 - 2) / 1.5)
  assert.match(msg, /effectiveBatchSize/);
});

test('a bf16-mixed run interrupted mid-epoch and resumed ends with the same weights and scores as a straight run', async () => {
  const cfg = (name: string) => ({
    name,
    runsDir: path.join(tmp, 'runs'),
    seed: 1,
    precision: 'bf16-mixed' as const,
    data: { dir: shapes, imageSize: 32, workers: 0, testSplit: null },
    batchSize: 4,
    effectiveBatchSize: 4,
    minEpochs: 2,
    maxEpochs: 2,
    lr: 0.03,
    progress: 'none' as const,
  });
  const build = { buildSegmenter: () => new TinySegmenter({ imageSize: 32 }) };
  const straight = await train(cfg('straight'), build);
  const ac = new AbortController();
  await assert.rejects(
    train(cfg('cut'), {
      ...build,
      signal: ac.signal,
      onStep: (r) => {
        if (r.globalStep === 5) ac.abort();
      },
    }),
    TrainingInterruptedError,
  );
  const resumed = await resumeRun(path.join(tmp, 'runs', 'cut'), build);
  assert.equal(resumed.resumes, 1);
  assert.equal(resumed.precision, 'bf16-mixed');
  assert.deepEqual(resumed.val, straight.val);
  const weights = (run: string): Map<string, number[]> => {
    const { state } = loadCheckpoint(path.join(tmp, 'runs', run, 'checkpoints', 'last.safetensors'));
    const out = new Map([...state].map(([k, t]) => [k, Array.from(t.toFloat32Array())]));
    T.dispose([...state.values()]);
    return out;
  };
  assert.deepEqual(weights('cut'), weights('straight'));
});
