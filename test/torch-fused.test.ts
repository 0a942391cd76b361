// The fused native ops (native/src/fused.cc) against the unfused composition they replace:
// values and gradients in float32 and float64, finite differences in float64, masks, cross
// attention, strided inputs, no-grad, the autocast fallback, and argument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
const { F, tidy, gradcheck } = T;

type DT = 'float32' | 'float64';

/** HF CLIPAttention's eager math, op by op: q scaled, heads transposed, matmul, bias, softmax, matmul. */
function attentionReference(q: T.Tensor, k: T.Tensor, v: T.Tensor, H: number, scale: number, bias: T.Tensor | null): T.Tensor {
  return tidy(() => {
    const [B, S, D] = q.shape as [number, number, number];
    const Tk = k.size(1),
      Dh = D / H;
    const heads = (t: T.Tensor, len: number): T.Tensor => t.reshape(B, len, H, Dh).transpose(1, 2);
    let scores = heads(q.mul(scale), S).matmul(heads(k, Tk).transpose(2, 3));
    if (bias) scores = scores.add(bias);
    return scores.softmax(-1).matmul(heads(v, Tk)).transpose(1, 2).reshape(B, S, D);
  });
}
const quickGeluReference = (x: T.Tensor): T.Tensor => tidy(() => x.mul(x.mul(1.702).sigmoid()));

/** max |a - b| / (max |b| + tiny) */
function relErr(a: T.Tensor, b: T.Tensor): number {
  return tidy(() => a.sub(b).abs().max().item() / (b.abs().max().item() + 1e-30));
}

/** Values and input gradients of f and g on the same inputs and the same upstream gradient. */
function compare(
  f: (...xs: T.Tensor[]) => T.Tensor,
  g: (...xs: T.Tensor[]) => T.Tensor,
  inputs: T.Tensor[],
  needGrad = inputs.map(() => true),
): { value: number; grads: number[] } {
  return tidy(() => {
    const run = (fn: (...xs: T.Tensor[]) => T.Tensor): { y: T.Tensor; grads: (T.Tensor | null)[] } => {
      const xs = inputs.map((x, i) => x.detach().clone().requiresGrad_(needGrad[i]!));
      const y = fn(...xs);
      T.manualSeed(11);
      const up = T.randn(y.shape, { dtype: y.dtype });
      y.mul(up).sum().backward();
      return { y: y.detach(), grads: xs.map((x) => x.grad) };
    };
    const a = run(f),
      b = run(g);
    return {
      value: relErr(a.y, b.y),
      grads: a.grads.map((ga, i) => {
        const gb = b.grads[i];
        if (!needGrad[i]) {
          assert.equal(ga, null, `input ${i} needs no gradient`);
          return 0;
        }
        assert.ok(ga && gb, `input ${i} has a gradient`);
        return relErr(ga, gb);
      }),
    };
  });
}

const tol = (dt: DT): number => (dt === 'float32' ? 2e-5 : 1e-12);

for (const dt of ['float32', 'float64'] as DT[]) {
  test(`multiHeadAttention matches the composition (${dt}): self-attention, masks, cross-attention, batch sizes`, () => {
    T.manualSeed(1);
    const cases: { B: number; S: number; Tk: number; H: number; D: number; bias?: 'causal' | 'padding' | 'per-head' }[] = [
      { B: 2, S: 13, Tk: 13, H: 4, D: 32 },
      { B: 1, S: 7, Tk: 7, H: 1, D: 8 },
      { B: 3, S: 9, Tk: 9, H: 2, D: 12, bias: 'causal' },
      { B: 2, S: 6, Tk: 6, H: 3, D: 12, bias: 'padding' },
      { B: 2, S: 5, Tk: 11, H: 2, D: 16 },
      { B: 2, S: 4, Tk: 6, H: 2, D: 8, bias: 'per-head' },
    ];
    for (const c of cases) {
      tidy(() => {
        const q = T.randn([c.B, c.S, c.D], { dtype: dt }),
          k = T.randn([c.B, c.Tk, c.D], { dtype: dt }),
          v = T.randn([c.B, c.Tk, c.D], { dtype: dt });
        let bias: T.Tensor | null = null;
        if (c.bias === 'causal') bias = T.ones([c.S, c.Tk], { dtype: dt }).triu(1).mul(-3.4028234663852886e38).view(1, 1, c.S, c.Tk);
        if (c.bias === 'padding')
          bias = T.tensor(
            [
              [0, 0, 0, 0, -1e9, -1e9],
              [0, 0, 0, 0, 0, -1e9],
            ],
            { dtype: dt },
          ).view(2, 1, 1, 6);
        if (c.bias === 'per-head') bias = T.randn([c.B, c.H, c.S, c.Tk], { dtype: dt });
        const scale = (c.D / c.H) ** -0.5;
        const r = compare(
          (a, b, e) => F.multiHeadAttention(a, b, e, c.H, scale, bias),
          (a, b, e) => attentionReference(a, b, e, c.H, scale, bias),
          [q, k, v],
        );
        const what = JSON.stringify(c);
        assert.ok(r.value < tol(dt), `${what}: output rel. error ${r.value}`);
        r.grads.forEach((e, i) => assert.ok(e < 10 * tol(dt), `${what}: grad of ${'qkv'[i]} rel. error ${e}`));
      });
    }
  });

  test(`linearQuickGelu and quickGelu match the composition (${dt}), bias or none, gradients of x, W and b`, () => {
    T.manualSeed(2);
    tidy(() => {
      const x = T.randn([2, 7, 16], { dtype: dt }).mul(3),
        w = T.randn([40, 16], { dtype: dt }).mul(0.5),
        b = T.randn([40], { dtype: dt });
      const withBias = compare(
        (a, c, e) => F.linearQuickGelu(a, c, e),
        (a, c, e) => quickGeluReference(F.linear(a, c, e)),
        [x, w, b],
      );
      assert.ok(withBias.value < tol(dt), `with bias: output rel. error ${withBias.value}`);
      withBias.grads.forEach((e, i) => assert.ok(e < 10 * tol(dt), `with bias: grad ${i} rel. error ${e}`));
      const noBias = compare(
        (a, c) => F.linearQuickGelu(a, c, null),
        (a, c) => quickGeluReference(F.linear(a, c)),
        [x, w],
      );
      assert.ok(noBias.value < tol(dt) && noBias.grads.every((e) => e < 10 * tol(dt)), `no bias: ${JSON.stringify(noBias)}`);
      // Without a graph (inference): the activation written over the product, same values.
      const inference = T.noGrad(() => F.linearQuickGelu(x, w, b));
      assert.ok(relErr(inference, quickGeluReference(F.linear(x, w, b))) < tol(dt), 'no-grad linearQuickGelu');
      assert.equal(inference.requiresGrad, false);
      // A frozen layer (the prompt-tuning case): only x needs a gradient.
      const frozen = compare(
        (a, c, e) => F.linearQuickGelu(a, c, e),
        (a, c, e) => quickGeluReference(F.linear(a, c, e)),
        [x, w, b],
        [true, false, false],
      );
      assert.ok(frozen.grads[0]! < 10 * tol(dt), `frozen weights: grad of x rel. error ${frozen.grads[0]}`);
      // quick_gelu alone, over the whole range: saturated tails, 0, and values near the clamp of exp.
      const wide = T.cat([
        T.randn([1000], { dtype: dt }).mul(4),
        T.tensor([0, -0, 1e-30, -40, 40, -87, 88, -100, 100, -1e4, 1e4], { dtype: dt }),
      ]);
      const act = compare(
        (a) => F.quickGelu(a),
        (a) => quickGeluReference(a),
        [wide],
      );
      assert.ok(act.value < tol(dt), `quickGelu: output rel. error ${act.value}`);
      assert.ok(act.grads[0]! < 10 * tol(dt), `quickGelu: grad rel. error ${act.grads[0]}`);
      const elementwise = tidy(() =>
        F.quickGelu(wide).sub(quickGeluReference(wide)).abs().div(quickGeluReference(wide).abs().add(1e-30)).max().item(),
      );
      assert.ok(elementwise < (dt === 'float32' ? 1e-5 : 1e-13), `quickGelu: worst element rel. error ${elementwise}`);
    });
  });
}

test('gradcheck (float64 finite differences): multiHeadAttention with and without a mask, linearQuickGelu, quickGelu', () => {
  T.manualSeed(3);
  const d = (s: number[]): T.Tensor => T.randn(s, { dtype: 'float64' }).keep();
  const mask = T.tensor(
    [
      [0, 0, -1e9, 0],
      [0, 0, 0, -1e9],
    ],
    { dtype: 'float64' },
  )
    .view(2, 1, 1, 4)
    .keep();
  const checks: [string, (...xs: T.Tensor[]) => T.Tensor, T.Tensor[]][] = [
    ['attention', (q, k, v) => F.multiHeadAttention(q, k, v, 2, 0.5), [d([2, 3, 4]), d([2, 3, 4]), d([2, 3, 4])]],
    ['attention masked cross', (q, k, v) => F.multiHeadAttention(q, k, v, 2, 0.7, mask), [d([2, 3, 4]), d([2, 4, 4]), d([2, 4, 4])]],
    ['linearQuickGelu', (x, w, b) => F.linearQuickGelu(x, w, b), [d([2, 3]), d([4, 3]), d([4])]],
    ['quickGelu', (x) => F.quickGelu(x.mul(3)), [d([7])]],
  ];
  for (const [name, f, inputs] of checks) {
    const r = gradcheck(f, inputs);
    for (const t of inputs) t.dispose();
    assert.ok(r.ok && r.maxAbsErr < 1e-6, `${name}: max abs error ${r.maxAbsErr} (${r.worst})`);
  }
  mask.dispose();
});

test('multiHeadAttention: strided inputs, no-grad, one head needing a gradient, bfloat16 autocast falls back to the composition', () => {
  T.manualSeed(4);
  tidy(() => {
    // q/k/v as transposed views (not contiguous) give the same result as contiguous copies.
    const base = T.randn([6, 2, 16]);
    const q = base.transpose(0, 1),
      k = base.transpose(0, 1).mul(0.5),
      v = base.transpose(0, 1).add(1);
    assert.equal(q.isContiguous, false);
    const a = F.multiHeadAttention(q, k, v, 4, 0.5);
    const b = attentionReference(q.contiguous(), k.contiguous(), v.contiguous(), 4, 0.5, null);
    assert.ok(relErr(a, b) < 2e-5);
    // Under noGrad nothing is recorded.
    const n = T.noGrad(() => F.multiHeadAttention(q.clone().requiresGrad_(true), k, v, 4, 0.5));
    assert.equal(n.requiresGrad, false);
    // Only v needs a gradient: q and k get none, v's matches the composition.
    const r = compare(
      (x, y, z) => F.multiHeadAttention(x, y, z, 4, 0.5),
      (x, y, z) => attentionReference(x, y, z, 4, 0.5, null),
      [q.contiguous(), k.contiguous(), v.contiguous()],
      [false, false, true],
    );
    assert.ok(r.grads[2]! < 2e-4, `grad of v rel. error ${r.grads[2]}`);
    // CPU autocast: the composition runs (matmuls in bfloat16), close to float32.
    const mixed = T.autocast('cpu', 'bfloat16', () => F.multiHeadAttention(q, k, v, 4, 0.5));
    assert.equal(mixed.dtype, 'bfloat16');
    assert.ok(relErr(mixed.float(), b) < 5e-2, `bf16 rel. error ${relErr(mixed.float(), b)}`);
    const act = T.autocast('cpu', 'bfloat16', () => F.linearQuickGelu(q, T.randn([5, 16]), T.randn([5])));
    assert.equal(act.dtype, 'bfloat16');
  });
});

test('fused ops name their argument errors', () => {
  tidy(() => {
    const x = T.randn([2, 3, 8]);
    assert.throws(() => F.multiHeadAttention(x, x, x, 3, 1), /attention: embed dim 8 is not divisible by 3 heads/);
    assert.throws(() => F.multiHeadAttention(x.view(6, 8), x, x, 2, 1), /attention: q, k and v must be \[B, S, D\]/);
    assert.throws(() => F.multiHeadAttention(x, T.randn([2, 4, 8]), x, 2, 1), /attention: k and v must be/);
    assert.throws(() => F.linearQuickGelu(x, T.randn([4, 5]), null), /linearQuickGelu/);
  });
});
