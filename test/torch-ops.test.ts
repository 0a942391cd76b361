// Op tests against hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
const { tensor, F, tidy } = T;

const close = (a: number[], b: number[], tol = 1e-5): void => {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= tol, `element ${i}: ${x} vs ${b[i]}`));
};

test('creation, dtypes and data round trips', () => {
  tidy(() => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(a.shape, [2, 3]);
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(a.toArray(), [1, 2, 3, 4, 5, 6]);
    for (const d of ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'] as const) {
      const t = tensor([0, 1, 2, 3], { dtype: d === 'bool' ? 'bool' : d });
      assert.equal(t.dtype, d);
      const expected = d === 'bool' ? [0, 1, 1, 1] : [0, 1, 2, 3];
      assert.deepEqual(t.toArray(), expected, d);
    }
    const big = tensor(BigInt64Array.from([1n, -2n, 3n ** 30n]), [3]);
    assert.equal(big.dtype, 'int64');
    assert.equal((big.toTypedArray() as BigInt64Array)[2], 3n ** 30n);
    assert.deepEqual(T.zeros([2, 2]).toArray(), [0, 0, 0, 0]);
    assert.deepEqual(T.ones([3], { dtype: 'int32' }).toArray(), [1, 1, 1]);
    assert.deepEqual(T.full([2], 7).toArray(), [7, 7]);
    assert.deepEqual(T.arange(5).toArray(), [0, 1, 2, 3, 4]);
    assert.equal(T.arange(5).dtype, 'int64');
    close(T.arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
    assert.deepEqual(T.eye(2).toArray(), [1, 0, 0, 1]);
    close(T.linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
    assert.equal(T.scalarTensor(3).item(), 3);
    // zero-copy view sees in-place updates
    const v = T.zeros([4]);
    const view = v.dataView() as Float32Array;
    v.add_(2);
    assert.deepEqual(Array.from(view), [2, 2, 2, 2]);
  });
});

test('broadcasting arithmetic, comparisons, where, clamp', () => {
  tidy(() => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([10, 20]);
    assert.deepEqual(a.add(b).toArray(), [11, 22, 13, 24]);
    assert.deepEqual(a.sub(b, 0.5).toArray(), [-4, -8, -2, -6]);
    assert.deepEqual(a.mul(2).toArray(), [2, 4, 6, 8]);
    close(a.div(b).toArray(), [0.1, 0.1, 0.3, 0.2]);
    assert.deepEqual(a.pow(2).toArray(), [1, 4, 9, 16]);
    assert.deepEqual(a.rsub(1).toArray(), [0, -1, -2, -3]);
    assert.deepEqual(a.gt(2).toArray(), [0, 0, 1, 1]);
    assert.deepEqual(T.where(a.gt(2), a, a.neg()).toArray(), [-1, -2, 3, 4]);
    assert.deepEqual(a.clamp(2, 3).toArray(), [2, 2, 3, 3]);
    assert.deepEqual(a.maskedFill(a.eq(4), -1).toArray(), [1, 2, 3, -1]);
    assert.deepEqual(a.maximum(tensor([2.5])).toArray(), [2.5, 2.5, 3, 4]);
  });
});

test('reductions with dims', () => {
  tidy(() => {
    const a = tensor([
      [1, 5, 3],
      [4, 2, 6],
    ]);
    assert.equal(a.sum().item(), 21);
    assert.deepEqual(a.sum(0).toArray(), [5, 7, 9]);
    assert.deepEqual(a.sum(1, true).shape, [2, 1]);
    close(a.mean(1).toArray(), [3, 4]);
    assert.equal(a.max().item(), 6);
    const [v, i] = a.maxDim(1);
    assert.deepEqual(v.toArray(), [5, 6]);
    assert.deepEqual(i.toArray(), [1, 2]);
    assert.deepEqual(a.argmax(0).toArray(), [1, 0, 1]);
    assert.deepEqual(a.amin(0).toArray(), [1, 2, 3]);
    close([a.norm().item()], [Math.sqrt(1 + 25 + 9 + 16 + 4 + 36)]);
    close(a.var(1, 0).toArray(), [8 / 3, 8 / 3]);
    close(a.std(null, 1).toArray(), [Math.sqrt(17.5 / 5)]);
    close(a.logsumexp(1).toArray(), [Math.log(Math.exp(1) + Math.exp(5) + Math.exp(3)), Math.log(Math.exp(4) + Math.exp(2) + Math.exp(6))]);
  });
});

test('matmul, bmm, linear, softmax, logSoftmax', () => {
  tidy(() => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([
      [5, 6],
      [7, 8],
    ]);
    assert.deepEqual(a.matmul(b).toArray(), [19, 22, 43, 50]);
    assert.deepEqual(T.stack([a, a]).bmm(T.stack([b, b])).shape, [2, 2, 2]);
    const x = tensor([[1, 1]]);
    assert.deepEqual(F.linear(x, a, tensor([1, -1])).toArray(), [4, 6]);
    const s = tensor([1, 2, 3]).softmax(0).toArray();
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    close(s, [Math.exp(1) / z, Math.exp(2) / z, Math.exp(3) / z]);
    close(tensor([1, 2, 3]).logSoftmax(0).toArray(), s.map(Math.log));
  });
});

test('activations', () => {
  tidy(() => {
    const x = tensor([-1, 0, 2]);
    assert.deepEqual(F.relu(x).toArray(), [0, 0, 2]);
    close(F.sigmoid(x).toArray(), [1 / (1 + Math.E), 0.5, 1 / (1 + Math.exp(-2))]);
    close(F.quickGelu(x).toArray(), [-1 / (1 + Math.exp(1.702)), 0, 2 / (1 + Math.exp(-3.404))]);
    const erf = (v: number): number => {
      // Abramowitz-Stegun 7.1.26 is too coarse; use series
      let s = 0,
        term = v;
      for (let n = 0; n < 60; n++) {
        s += term / (2 * n + 1);
        term *= (-v * v) / (n + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * s;
    };
    close(
      F.gelu(x).toArray(),
      [-1, 0, 2].map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
    );
    close(F.tanh(x).toArray(), [Math.tanh(-1), 0, Math.tanh(2)]);
  });
});

test('layerNorm and batchNorm', () => {
  tidy(() => {
    const x = tensor([[1, 2, 3, 4]]);
    const m = 2.5,
      v = 1.25;
    close(
      F.layerNorm(x, [4]).toArray(),
      [1, 2, 3, 4].map((a) => (a - m) / Math.sqrt(v + 1e-5)),
    );
    close(
      F.layerNorm(x, [4], tensor([2, 2, 2, 2]), tensor([1, 1, 1, 1])).toArray(),
      [1, 2, 3, 4].map((a) => (2 * (a - m)) / Math.sqrt(v + 1e-5) + 1),
    );
    const bx = tensor([1, 3, 5, 7], [2, 2, 1, 1]); // N=2, C=2
    const rm = T.zeros([2]),
      rv = T.ones([2]);
    const y = F.batchNorm(bx, rm, rv, null, null, true, 0.1, 0);
    close(y.toArray(), [-1, -1, 1, 1]);
    close(rm.toArray(), [0.3, 0.5]); // running mean updated: 0.9*0 + 0.1*mean
    const ev = F.batchNorm(bx, T.tensor([1, 1]), T.tensor([4, 4]), null, null, false, 0.1, 0);
    close(ev.toArray(), [0, 1, 2, 3]);
  });
});

test('conv2d with padding modes, convTranspose2d, pooling', () => {
  tidy(() => {
    const x = T.arange(16, undefined, 1, { dtype: 'float32' }).reshape(1, 1, 4, 4);
    const w = T.ones([1, 1, 3, 3]);
    const valid = F.conv2d(x, w);
    assert.deepEqual(valid.shape, [1, 1, 2, 2]);
    assert.deepEqual(valid.toArray(), [45, 54, 81, 90]);
    assert.deepEqual(F.conv2d(x, w, null, 1, 'same').shape, [1, 1, 4, 4]);
    assert.equal(F.conv2d(x, w, null, 1, 'same').toArray()[0], 0 + 1 + 4 + 5);
    // replicate padding = conv of the edge-padded input
    const conv = new T.nn.Conv2d(1, 1, 3, { padding: 'same', paddingMode: 'replicate', bias: false });
    T.noGrad(() => conv.weight.copy_(w));
    const rep = conv.forward(x).toArray();
    assert.equal(rep[0], 0 + 0 + 1 + 0 + 0 + 1 + 4 + 4 + 5);
    // even kernel 'same' pads left 0 / right 1 like PyTorch
    const c4 = new T.nn.Conv2d(1, 1, 4, { padding: 'same', paddingMode: 'replicate', bias: false });
    assert.deepEqual(c4.forward(x).shape, [1, 1, 4, 4]);
    const up = F.convTranspose2d(T.ones([1, 1, 2, 2]), T.ones([1, 1, 2, 2]), null, 2);
    assert.deepEqual(up.shape, [1, 1, 4, 4]);
    assert.deepEqual(up.toArray(), new Array(16).fill(1));
    assert.deepEqual(F.maxPool2d(x, 2).toArray(), [5, 7, 13, 15]);
    assert.deepEqual(F.avgPool2d(x, 2).toArray(), [2.5, 4.5, 10.5, 12.5]);
    assert.deepEqual(F.adaptiveAvgPool2d(x, 1).toArray(), [7.5]);
  });
});

test('interpolate nearest/bilinear/bicubic with alignCorners', () => {
  tidy(() => {
    const x = tensor([0, 1, 2, 3], [1, 1, 2, 2]);
    assert.deepEqual(F.interpolate(x, { scaleFactor: 2 }).toArray(), [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]);
    const ac = F.interpolate(x, { size: 3, mode: 'bilinear', alignCorners: true }).toArray();
    close(ac, [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3]);
    const nac = F.interpolate(tensor([0, 1], [1, 1, 1, 2]), { size: [1, 4], mode: 'bilinear', alignCorners: false }).toArray();
    close(nac, [0, 0.25, 0.75, 1]);
    // bicubic (a = -0.75) reproduces linear data exactly in the interior with alignCorners; at
    // x = 0.5 the clamped neighbours (0, 0, 1, 2) weigh (-0.09375, 0.59375, 0.59375, -0.09375).
    const lin = tensor([0, 1, 2, 3], [1, 1, 1, 4]);
    const bic = F.interpolate(lin, { size: [1, 7], mode: 'bicubic', alignCorners: true }).toArray();
    close(bic, [0, 0.40625, 1, 1.5, 2, 2.59375, 3]);
  });
});

test('pad modes, affineGrid + gridSample identity and shift', () => {
  tidy(() => {
    const x = tensor([1, 2, 3], [1, 1, 3]);
    assert.deepEqual(F.pad(x, [2, 1]).toArray(), [0, 0, 1, 2, 3, 0]);
    assert.deepEqual(F.pad(x, [2, 1], 'replicate').toArray(), [1, 1, 1, 2, 3, 3]);
    assert.deepEqual(F.pad(x, [2, 1], 'reflect').toArray(), [3, 2, 1, 2, 3, 2]);
    assert.deepEqual(F.pad(x, [1, 1], 'circular').toArray(), [3, 1, 2, 3, 1]);
    const img = T.arange(16, undefined, 1, { dtype: 'float32' }).reshape(1, 1, 4, 4);
    const id = tensor([
      [
        [1, 0, 0],
        [0, 1, 0],
      ],
    ]);
    const grid = F.affineGrid(id, [1, 1, 4, 4], false);
    assert.deepEqual(grid.shape, [1, 4, 4, 2]);
    close(F.gridSample(img, grid, 'bilinear', 'zeros', false).toArray(), img.toArray());
    // translate by one pixel to the right (grid x shift of 2/W), border padding replicates
    const shift = tensor([
      [
        [1, 0, 0.5],
        [0, 1, 0],
      ],
    ]);
    const out = F.gridSample(img, F.affineGrid(shift, [1, 1, 4, 4], false), 'bilinear', 'border', false).toArray();
    close(out.slice(0, 4), [1, 2, 3, 3]);
  });
});

test('shape ops, indexing and slicing', () => {
  tidy(() => {
    const a = T.arange(24).reshape(2, 3, 4);
    assert.deepEqual(a.permute(2, 0, 1).shape, [4, 2, 3]);
    assert.deepEqual(a.transpose(0, 2).contiguous().view(-1).shape, [24]);
    assert.deepEqual(a.slice(2, 1, 3).shape, [2, 3, 2]);
    assert.deepEqual(a.slice(2, -1).reshape(-1).toArray(), [3, 7, 11, 15, 19, 23]);
    assert.deepEqual(a.select(1, 0).toArray(), [0, 1, 2, 3, 12, 13, 14, 15]);
    assert.deepEqual(a.narrow(0, 1, 1).shape, [1, 3, 4]);
    assert.deepEqual(T.cat([a, a], 1).shape, [2, 6, 4]);
    assert.deepEqual(
      a.split(2, 2).map((t) => t.shape),
      [
        [2, 3, 2],
        [2, 3, 2],
      ],
    );
    assert.deepEqual(
      a.split([1, 3], 2).map((t) => t.shape[2]),
      [1, 3],
    );
    assert.deepEqual(a.chunk(3, 1).length, 3);
    assert.deepEqual(a.flatten(1).shape, [2, 12]);
    assert.deepEqual(a.unsqueeze(0).squeeze(0).shape, [2, 3, 4]);
    assert.deepEqual(T.ones([1, 3]).expand(2, 3).shape, [2, 3]);
    const idx = tensor([2, 0], { dtype: 'int64' });
    assert.deepEqual(a.select(0, 0).indexSelect(0, idx).select(1, 0).toArray(), [8, 0]);
    assert.deepEqual(
      a
        .select(0, 0)
        .gather(1, tensor([[0], [1], [3]], { dtype: 'int64' }))
        .toArray(),
      [0, 5, 11],
    );
    assert.deepEqual(a.index([tensor([1], { dtype: 'int64' }), tensor([2], { dtype: 'int64' })]).toArray(), [20, 21, 22, 23]);
    const emb = F.embedding(
      tensor([
        [0, 0],
        [1, 1],
        [2, 2],
      ]),
      tensor([2, 0], { dtype: 'int64' }),
    );
    assert.deepEqual(emb.toArray(), [2, 2, 0, 0]);
    assert.deepEqual(tensor([1, 2, 3]).flip(0).toArray(), [3, 2, 1]);
    assert.deepEqual(T.ones([3, 3]).tril().sum().item(), 6);
  });
});

test('scaled dot-product attention equals the explicit formula; causal masking', () => {
  tidy(() => {
    T.manualSeed(0);
    const q = T.randn([2, 5, 8]),
      k = T.randn([2, 5, 8]),
      v = T.randn([2, 5, 8]);
    const ref = q
      .matmul(k.transpose(1, 2))
      .mul(1 / Math.sqrt(8))
      .softmax(-1)
      .matmul(v);
    close(F.scaledDotProductAttention(q, k, v).toArray(), ref.toArray(), 1e-5);
    const causal = F.scaledDotProductAttention(q, k, v, { isCausal: true });
    // first query attends only to the first key
    close(causal.select(1, 0).toArray(), v.select(1, 0).toArray(), 1e-5);
  });
});

test('seeded RNG is reproducible; dropout respects training flag', () => {
  T.manualSeed(42);
  const a = T.randn([5]).toArray();
  T.manualSeed(42);
  const b = T.randn([5]).toArray();
  assert.deepEqual(a, b);
  tidy(() => {
    const r = T.randint(0, 3, [1000]);
    assert.ok(r.min().item() >= 0 && r.max().item() <= 2);
    const u = T.rand([1000]);
    assert.ok(u.min().item() >= 0 && u.max().item() < 1);
    const x = T.ones([1000]);
    assert.deepEqual(F.dropout(x, 0.5, false).toArray(), x.toArray());
    const d = F.dropout(x, 0.5, true).toArray();
    assert.ok(d.every((v) => v === 0 || v === 2));
    const n = T.zeros([2000]).normal_(3, 2);
    assert.ok(Math.abs(n.mean().item() - 3) < 0.2 && Math.abs(n.std().item() - 2) < 0.2);
  });
});

test('losses: BCE with logits and MSE', () => {
  tidy(() => {
    const x = tensor([0, 2]);
    const t = tensor([0, 1]);
    const expected = (Math.log(2) + Math.log(1 + Math.exp(-2))) / 2;
    close([F.binaryCrossEntropyWithLogits(x, t).item()], [expected]);
    close([F.mseLoss(x, t).item()], [0.5]);
  });
});
