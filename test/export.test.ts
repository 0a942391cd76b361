// ONNX export: the tracer on every learner fixture (CLIPSeg d1/d3, CRIS), run by
// onnxruntime-node against libtorch (float32 within 1e-4 on logits; float16 weights within
// FP16_TOL), at batch sizes other than the two traced; what is folded and what stays an
// initializer; ops without an exporter fail naming the op.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as T from '../src/torch/index.js';
import { traceOnnx, OnnxExportError } from '../src/torch/onnx/index.js';
import { traceSegmenter } from '../src/export/trace-segmenter.js';
import { loadOnnxRuntime } from '../src/export/onnx-runtime.js';
import { buildCaseSegmenter } from '../src/parity/kinds/learners.js';
import { fixturesDir } from './helpers.js';

/** Documented in README ("Exporting to ONNX"): float16 weights, computed in float32; measured max 9.7e-3 on these fixtures (|logits| up to 4.9). */
const FP16_TOL = 2e-2;
const F32_TOL = 1e-4;

const ort = await loadOnnxRuntime();

function cases(): { family: string; name: string; dir: string }[] {
  const out: { family: string; name: string; dir: string }[] = [];
  for (const family of ['clipseg-tiny', 'cris-tiny']) {
    const root = join(fixturesDir(), family, 'learners');
    for (const name of readdirSync(root).sort())
      if (existsSync(join(root, name, 'case.json'))) out.push({ family, name, dir: join(root, name) });
  }
  return out;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

async function runOnnx(model: Uint8Array, px: T.Tensor): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model);
  const out = await s.run({ pixel_values: new ort.Tensor('float32', px.toFloat32Array(), px.shape) });
  return out.logits!.data as Float32Array;
}

/** Initializer payloads of a model, to tell folded tensors from kept ones. */
function initializerBytes(model: Uint8Array): Buffer[] {
  const m = onnxProto.onnx.ModelProto.decode(model);
  return m.graph!.initializer!.map((t) => Buffer.from(t.rawData ?? new Uint8Array()));
}

test('every learner fixture exported: float32 within 1e-4 of libtorch at batch 1, 2 and 4; float16 weights within FP16_TOL', async () => {
  const all = cases();
  assert.equal(all.length, 14, 'expected 12 CLIPSeg (6 learners x d1/d3) and 2 CRIS learner fixtures');
  const report: string[] = [];
  for (const c of all) {
    const cj = JSON.parse(readFileSync(join(c.dir, 'case.json'), 'utf8')) as Record<string, unknown>;
    const { segmenter: seg, root } = buildCaseSegmenter(c.dir, cj);
    const inputs = T.loadSafetensors(join(root, 'inputs.safetensors')).tensors;
    try {
      seg.eval();
      const px = inputs.get('pixel_values')!; // [2, 3, S, S]
      const text = {
        inputIds: inputs.get('input_ids')!.narrow(0, 0, 1).contiguous(),
        attentionMask: inputs.get('attention_mask')!.narrow(0, 0, 1).contiguous(),
      };
      const f32 = traceSegmenter(seg, text, { imageSize: px.size(2) });
      const f16 = traceSegmenter(seg, text, { imageSize: px.size(2), fp16: true });
      for (const batch of [1, 2, 4]) {
        const x = T.cat(
          Array.from({ length: batch }, (_, i) => px.narrow(0, (i + 1) % 2, 1)),
          0,
        );
        const rows = (t: T.Tensor): T.Tensor => t.expand(batch, t.size(1)).contiguous();
        const want = T.noGrad(() =>
          T.tidy(() => seg.forward(x, { inputIds: rows(text.inputIds), attentionMask: rows(text.attentionMask) }).toFloat32Array()),
        );
        const d32 = maxAbs(await runOnnx(f32.model, x), want);
        assert.ok(d32 <= F32_TOL, `${c.family}/${c.name} batch ${batch}: float32 max |Δlogits| ${d32} > ${F32_TOL}`);
        if (batch === 2) {
          const d16 = maxAbs(await runOnnx(f16.model, x), want);
          assert.ok(d16 <= FP16_TOL, `${c.family}/${c.name}: float16 max |Δlogits| ${d16} > ${FP16_TOL}`);
          report.push(`${c.family}/${c.name}: f32 ${d32.toExponential(1)} f16 ${d16.toExponential(1)}`);
        }
        x.dispose();
      }
      assert.ok(
        f16.model.byteLength < 0.62 * f32.model.byteLength,
        `${c.name}: float16 file ${f16.model.byteLength} B vs float32 ${f32.model.byteLength} B`,
      );

      // What is folded: CoOp's context (text side) becomes constants; VPT's prompt tokens and
      // CoCoOp's meta-net and context stay initializers (they meet the image in the graph).
      const learnerName = (seg.describe().learner as { name: string }).name;
      const kept = initializerBytes(f32.model);
      const learnerTensors = [...seg.learnableState()].filter(([k]) => k.startsWith('context_learner.'));
      const has = (t: T.Tensor): boolean => kept.some((b) => b.equals(Buffer.from(t.contiguous().toBytes())));
      // a per-layer stack [depth, ...] is consumed layer by layer: its slices are the initializers
      const present = learnerTensors.filter(([, t]) => has(t) || (t.ndim > 1 && t.unbind(0).every(has)));
      if (learnerName === 'coop') assert.equal(present.length, 0, `${c.name}: CoOp context should be folded into the text constants`);
      if (learnerName === 'vpt' || learnerName === 'cocoop') {
        assert.equal(
          present.length,
          learnerTensors.length,
          `${c.name}: ${learnerName} tensors kept as initializers: ${present.map(([k]) => k).join(', ')}`,
        );
      }
      text.inputIds.dispose();
      text.attentionMask.dispose();
    } finally {
      seg.dispose();
      T.dispose([...inputs.values()]);
    }
  }
  console.log(report.join('\n'));
});

test('an op without an exporter fails naming it; reading input-dependent data fails naming the read', () => {
  const spec = (forward: (x: T.Tensor) => T.Tensor) => ({
    inputs: (b: number) => [T.randn([b, 4])],
    inputNames: ['x'],
    outputNames: ['y'],
    forward: ([x]: T.Tensor[]) => [forward(x!)],
  });
  assert.throws(
    () => traceOnnx(spec((x) => x.isnan().logicalNot().float())),
    (e: unknown) => e instanceof OnnxExportError && /no exporter for op "isnan"/.test((e as Error).message),
  );
  assert.throws(() => traceOnnx(spec((x) => x.mul(x.sum().item()))), /"item" reads the values of an input-dependent tensor/);
  // a constant that does not repeat per image cannot follow the batch
  assert.throws(
    () =>
      traceOnnx(
        spec((x) =>
          x.add(
            T.arange(x.size(0) * 4)
              .float()
              .view(-1, 4),
          ),
        ),
      ),
    /blocks along dimension 0 differ/,
  );
});

test('batch-linear arguments: reshape to [B·k, ...], slices to B, per-image tiles, arange(B) indexing', async () => {
  const w = T.randn([4, 3]);
  const res = traceOnnx({
    inputs: (b) => [T.randn([b, 2, 4])],
    inputNames: ['x'],
    outputNames: ['y'],
    forward: ([x]) => {
      const B = x!.size(0);
      const flat = x!
        .reshape(B * 2, 4)
        .matmul(w)
        .view(B, 2, 3); // [B, 2, 3]
      const picked = flat.index([T.arange(B), T.zeros([B], { dtype: 'int64' })]); // [B, 3]
      const bias = T.ones([B, 3]).mul(0.5); // a per-image constant
      return [picked.add(bias).narrow(0, 0, B).softmax(-1)];
    },
  });
  const s = await ort.InferenceSession.create(res.model);
  for (const B of [1, 5]) {
    const x = T.randn([B, 2, 4]);
    const want = T.tidy(() =>
      x
        .reshape(B * 2, 4)
        .matmul(w)
        .view(B, 2, 3)
        .select(1, 0)
        .add(0.5)
        .softmax(-1)
        .toFloat32Array(),
    );
    const got = (await s.run({ x: new ort.Tensor('float32', x.toFloat32Array(), [B, 2, 4]) })).y!.data as Float32Array;
    assert.ok(maxAbs(got, want) < 1e-6, `batch ${B}`);
    x.dispose();
  }
  w.dispose();
});

test('op exporters match libtorch: interpolate (bilinear, bicubic, nearest; size and scale), conv padding, pads, norms, activations', async () => {
  T.manualSeed(7);
  const w3 = T.randn([5, 3, 3, 3]),
    w4 = T.randn([5, 3, 4, 4]),
    gamma = T.randn([6]),
    beta = T.randn([6]);
  const cases: [string, (x: T.Tensor) => T.Tensor][] = [
    ['bilinear size', (x) => T.F.interpolate(x, { size: [17, 23], mode: 'bilinear' })],
    ['bilinear scale', (x) => T.F.interpolate(x, { scaleFactor: 2, mode: 'bilinear' })],
    ['bilinear align corners', (x) => T.F.interpolate(x, { size: [20, 20], mode: 'bilinear', alignCorners: true })],
    ['bicubic size', (x) => T.F.interpolate(x, { size: [13, 19], mode: 'bicubic' })],
    ['bicubic scale', (x) => T.F.interpolate(x, { scaleFactor: 3, mode: 'bicubic' })],
    ['nearest', (x) => T.F.interpolate(x, { size: [16, 24], mode: 'nearest' })],
    ['conv same (even kernel)', (x) => T.F.conv2d(x, w4, null, 1, 'same')],
    ['conv stride 2 pad 1', (x) => T.F.conv2d(x, w3, null, 2, 1)],
    ['pad replicate', (x) => T.F.pad(x, [1, 2, 3, 0], 'replicate')],
    ['group norm', (x) => T.F.groupNorm(T.cat([x, x], 1), 3, gamma, beta)],
    ['avg pool', (x) => T.F.avgPool2d(x, 2)],
    ['layer norm + gelu', (x) => T.F.gelu(T.F.layerNorm(x, [x.size(-1)]))],
    ['std + amax', (x) => x.std(-1, 1, true).add(x.amax([2, 3], true))],
  ];
  for (const [name, fn] of cases) {
    const res = traceOnnx({ inputs: (b) => [T.randn([b, 3, 8, 10])], inputNames: ['x'], outputNames: ['y'], forward: ([x]) => [fn(x!)] });
    const s = await ort.InferenceSession.create(res.model);
    for (const B of [1, 4]) {
      const x = T.randn([B, 3, 8, 10]);
      const want = T.tidy(() => fn(x).toFloat32Array());
      const got = (await s.run({ x: new ort.Tensor('float32', x.toFloat32Array(), x.shape) })).y!.data as Float32Array;
      const d = maxAbs(got, want);
      assert.ok(d < 1e-4, `${name} batch ${B}: max |Δ| ${d}`);
      x.dispose();
    }
  }
  T.dispose([w3, w4, gamma, beta]);
});
