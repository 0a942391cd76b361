// Gradients: autograd basics and finite-difference checks in float64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
const { tensor, F, tidy, gradcheck } = T;

const d = (shape: number[]): T.Tensor => T.randn(shape, { dtype: 'float64' });

test('backward, grad accumulation, zeroGrad, noGrad', () => {
  const x = tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true }).keep();
  tidy(() => x.mul(x).sum().backward());
  assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
  tidy(() => x.mul(x).sum().backward());
  assert.deepEqual(x.grad!.toArray(), [4, 8, 12]);
  x.zeroGrad();
  assert.equal(x.grad, null);
  const y = T.noGrad(() => x.mul(2));
  assert.equal(y.requiresGrad, false);
  assert.throws(() => y.sum().backward(), /does not require grad/);
  tidy(() => x.mul(2).backward(tensor([1, 0, 1], { dtype: 'float64' })));
  assert.deepEqual(x.grad!.toArray(), [2, 0, 2]);
  x.dispose();
});

const checks: [string, (...xs: T.Tensor[]) => T.Tensor, number[][]][] = [
  [
    'matmul',
    (a, b) => a.matmul(b),
    [
      [3, 4],
      [4, 2],
    ],
  ],
  ['layerNorm', (x, w, b) => F.layerNorm(x, [5], w, b), [[2, 5], [5], [5]]],
  ['softmax', (x) => x.softmax(-1), [[3, 4]]],
  ['conv2d', (x, w, b) => F.conv2d(x, w, b, 1, 1), [[1, 2, 4, 4], [3, 2, 3, 3], [3]]],
  [
    'conv2d stride 2 replicate',
    (x, w) => F.conv2d(F.pad(x, [1, 1, 1, 1], 'replicate'), w, null, 2),
    [
      [1, 1, 5, 5],
      [2, 1, 3, 3],
    ],
  ],
  [
    'convTranspose2d',
    (x, w) => F.convTranspose2d(x, w, null, 2),
    [
      [1, 2, 2, 2],
      [2, 1, 3, 3],
    ],
  ],
  [
    'gridSample',
    (x, g) => F.gridSample(x, g.tanh(), 'bilinear', 'border', false),
    [
      [1, 2, 4, 4],
      [1, 3, 3, 2],
    ],
  ],
  ['interpolate bilinear', (x) => F.interpolate(x, { size: [5, 7], mode: 'bilinear', alignCorners: false }), [[1, 2, 3, 3]]],
  ['interpolate bicubic', (x) => F.interpolate(x, { size: [6, 6], mode: 'bicubic', alignCorners: true }), [[1, 1, 3, 3]]],
  [
    'attention',
    (q, k, v) => F.scaledDotProductAttention(q, k, v),
    [
      [2, 3, 4],
      [2, 5, 4],
      [2, 5, 4],
    ],
  ],
  ['quickGelu', (x) => F.quickGelu(x), [[6]]],
  [
    'BCE with logits',
    (x, t) => F.binaryCrossEntropyWithLogits(x, t.sigmoid()),
    [
      [2, 3],
      [2, 3],
    ],
  ],
];

for (const [name, f, shapes] of checks) {
  test(`gradcheck ${name}`, () => {
    T.manualSeed(7);
    const inputs = shapes.map((s) => d(s).keep());
    const r = gradcheck(f, inputs);
    for (const t of inputs) t.dispose();
    assert.ok(r.ok, `${name}: max abs error ${r.maxAbsErr} (${r.worst})`);
    assert.ok(r.maxAbsErr < 1e-6, `${name}: max abs error ${r.maxAbsErr}`);
  });
}

test('gradcheck detects a wrong gradient', () => {
  // detach() in the middle breaks the chain: autograd sees zero, numerics do not.
  const x = d([3]).keep();
  const r = gradcheck((a) => a.mul(a.detach()), [x]);
  x.dispose();
  assert.equal(r.ok, false);
});
