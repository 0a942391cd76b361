// nn.Module mechanics and layer semantics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
const { tidy, nn, F } = T;

class Net extends nn.Module {
  readonly fc = this.registerModule('fc', new nn.Linear(4, 3));
  readonly norm = this.registerModule('norm', new nn.LayerNorm(3));
  readonly blocks = this.registerModule('blocks', new nn.ModuleList([new nn.Linear(3, 3), new nn.Linear(3, 3, false)]));
  readonly bn = this.registerModule('bn', new nn.BatchNorm2d(2));
}

test('named parameters, buffers, state dict and counts follow PyTorch naming', () => {
  const n = new Net();
  assert.deepEqual(
    n.namedParameters().map(([k]) => k),
    ['fc.weight', 'fc.bias', 'norm.weight', 'norm.bias', 'blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'bn.weight', 'bn.bias'],
  );
  assert.deepEqual(
    n.namedBuffers().map(([k]) => k),
    ['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked'],
  );
  assert.equal(n.numParameters(), 12 + 3 + 3 + 3 + 9 + 3 + 9 + 2 + 2);
  assert.equal(n.stateDict().size, 12);
  n.dispose();
});

test('strict loadStateDict lists missing, unexpected and mismatched keys and changes nothing', () => {
  const a = new Net(),
    b = new Net();
  const sd = new Map(b.stateDict());
  sd.delete('fc.bias');
  sd.set('extra.weight', T.ones([1]));
  sd.set('norm.weight', T.ones([5]));
  const before = a.fc.weight.toArray();
  assert.throws(
    () => a.loadStateDict(sd, { source: 'x.safetensors' }),
    (e: Error) => {
      assert.ok(e instanceof nn.StateDictError);
      assert.match(e.message, /from x\.safetensors/);
      assert.match(e.message, /missing keys \(1\): fc\.bias/);
      assert.match(e.message, /unexpected keys \(1\): extra\.weight/);
      assert.match(e.message, /shape mismatch for norm\.weight: model has \[3\], checkpoint has \[5\]/);
      return true;
    },
  );
  assert.deepEqual(a.fc.weight.toArray(), before);
  // a full, matching dict copies values
  a.loadStateDict(b.stateDict());
  assert.deepEqual(a.fc.weight.toArray(), b.fc.weight.toArray());
  // non-strict tolerates missing/unexpected but not shape mismatches
  const partial = new Map([
    ['fc.weight', b.fc.weight],
    ['nope', T.ones([1])],
  ]);
  const r = a.loadStateDict(partial, { strict: false });
  assert.equal(r.unexpected[0], 'nope');
  a.dispose();
  b.dispose();
});

test('requiresGrad_, train/eval, to(dtype) keep parameter identity', () => {
  const n = new Net();
  const w = n.fc.weight;
  n.requiresGrad_(false);
  assert.equal(n.numParameters(true), 0);
  n.eval();
  assert.equal(n.blocks.at(0).training, false);
  n.to('float64');
  assert.equal(n.fc.weight, w);
  assert.equal(w.dtype, 'float64');
  assert.equal(n.namedBuffers().find(([k]) => k === 'bn.num_batches_tracked')![1].dtype, 'int64');
  n.dispose();
});

test('default initialisation has PyTorch bounds', () => {
  const l = new nn.Linear(100, 50);
  const bound = 1 / Math.sqrt(100);
  assert.ok(l.weight.abs().max().item() <= bound + 1e-7);
  assert.ok(l.weight.abs().max().item() > bound * 0.9);
  assert.ok(l.bias!.abs().max().item() <= bound + 1e-7);
  const c = new nn.Conv2d(3, 8, 5);
  assert.deepEqual(c.weight.shape, [8, 3, 5, 5]);
  assert.ok(c.weight.abs().max().item() <= 1 / Math.sqrt(75) + 1e-7);
  const ct = new nn.ConvTranspose2d(8, 4, 4, { stride: 4 });
  assert.deepEqual(ct.weight.shape, [8, 4, 4, 4]);
  assert.deepEqual(
    tidy(() => ct.forward(T.ones([1, 8, 3, 3])).shape),
    [1, 4, 12, 12],
  );
});

test('BatchNorm2d: batch statistics in training, running statistics in eval', () => {
  const bn = new nn.BatchNorm2d(1, 0);
  const x = T.tensor([1, 3], [2, 1, 1, 1]).keep();
  assert.deepEqual(
    tidy(() => bn.forward(x).toArray()),
    [-1, 1],
  );
  assert.ok(Math.abs(bn.runningMean!.item() - 0.2) < 1e-7);
  assert.equal(bn._buffers.get('num_batches_tracked')!.item(), 1);
  bn.eval();
  const y = tidy(() => bn.forward(x).toArray());
  const rv = 0.9 + 0.1 * 2; // unbiased batch variance 2
  y.forEach((v, i) => assert.ok(Math.abs(v - ([1, 3][i]! - 0.2) / Math.sqrt(rv)) < 1e-6));
  x.dispose();
});

test('MultiheadAttention equals the per-head formula; key padding mask removes keys', () => {
  T.manualSeed(3);
  const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true });
  tidy(() => {
    const x = T.randn([2, 5, 8]);
    const out = mha.forward(x, x, x);
    const [q, k, v] = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, -1) as [T.Tensor, T.Tensor, T.Tensor];
    const heads = (t: T.Tensor): T.Tensor => t.view(2, 5, 2, 4).transpose(1, 2);
    const att = F.scaledDotProductAttention(heads(q), heads(k), heads(v)).transpose(1, 2).reshape(2, 5, 8);
    const ref = mha.out_proj.forward(att);
    assert.ok(out.sub(ref).abs().max().item() < 1e-5);
    // masking the last two keys equals attending over the first three only
    const kpm = T.tensor(
      [
        [0, 0, 0, 1, 1],
        [0, 0, 0, 1, 1],
      ],
      { dtype: 'bool' },
    );
    const masked = mha.forward(x, x, x, { keyPaddingMask: kpm });
    const kv = x.slice(1, 0, 3);
    const cross = mha.forward(x, kv, kv);
    assert.ok(masked.sub(cross).abs().max().item() < 1e-5);
  });
  mha.dispose();
});

test('TransformerEncoderLayer: post-LN and pre-LN structure', () => {
  T.manualSeed(4);
  for (const normFirst of [false, true]) {
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, normFirst, batchFirst: true });
    tidy(() => {
      const x = T.randn([2, 3, 8]);
      const sa = (t: T.Tensor): T.Tensor => layer.self_attn.forward(t, t, t);
      const ff = (t: T.Tensor): T.Tensor => layer.linear2.forward(F.relu(layer.linear1.forward(t)));
      let ref: T.Tensor;
      if (normFirst) {
        const h = x.add(sa(layer.norm1.forward(x)));
        ref = h.add(ff(layer.norm2.forward(h)));
      } else {
        const h = layer.norm1.forward(x.add(sa(x)));
        ref = layer.norm2.forward(h.add(ff(h)));
      }
      assert.ok(layer.forward(x).sub(ref).abs().max().item() < 1e-5);
    });
    layer.dispose();
  }
});

test('BatchNorm1d normalises [N, C] and [N, C, L] and refuses other ranks', () => {
  const bn = new nn.BatchNorm1d(2, 0);
  tidy(() => {
    const y = bn.forward(
      T.tensor([
        [1, 10],
        [3, 30],
      ]),
    );
    assert.deepEqual(y.toArray(), [-1, -1, 1, 1]);
    assert.deepEqual(bn.forward(T.ones([2, 2, 5])).shape, [2, 2, 5]);
    assert.throws(() => bn.forward(T.ones([1, 2, 3, 4])), /BatchNorm1d expects a 2-D or 3-D input/);
  });
  bn.dispose();
});
