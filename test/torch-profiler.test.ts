// The op profiler (native/src/profile.cc, src/torch/profiler.ts): calls, FLOPs of products and of
// the fused attention, autograd nodes, nesting (self <= total), take() resetting, stop().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
const { F, tidy } = T;

test("the op profiler counts calls, products' FLOPs, autograd nodes, and self time within total time", () => {
  const a = T.randn([8, 16]).requiresGrad_(true).keep();
  const b = T.randn([16, 4]).keep();
  T.startOpProfile();
  try {
    tidy(() => a.mm(b).relu().sum().backward());
    const p = T.takeOpProfile();
    const mm = p.ops['aten::mm'];
    assert.ok(mm, `aten::mm recorded (have ${Object.keys(p.ops).join(', ')})`);
    // Forward a @ b (2·8·16·4) and backward dA = g bᵀ (2·8·4·16): the same count each.
    assert.equal(mm.calls, 2);
    assert.equal(mm.flops, 2 * 2 * 8 * 16 * 4);
    const nodes = Object.entries(p.ops)
      .filter(([, r]) => r.backward)
      .map(([n]) => n);
    assert.ok(
      nodes.some((n) => /MmBackward/.test(n)),
      `autograd nodes recorded: ${nodes.join(', ')}`,
    );
    for (const [n, r] of Object.entries(p.ops)) assert.ok(r.selfMs <= r.totalMs + 1e-9 && r.selfMs >= 0, n);
    assert.ok(p.topMs > 0);

    // The fused attention reports its products: 4·B·S·T·D forward, 8·B·S·T·D backward.
    const [B, S, D] = [2, 5, 8];
    const q = T.randn([B, S, D]).requiresGrad_(true).keep();
    tidy(() =>
      F.multiHeadAttention(q, T.randn([B, S, D]), T.randn([B, S, D]), 2, 0.5)
        .sum()
        .backward(),
    );
    const at = T.takeOpProfile();
    if (at.ops['tvs::attention']) {
      // (absent only where the fused op falls back to the composition: no OpenBLAS symbols)
      assert.equal(at.ops['tvs::attention']!.flops, 4 * B * S * S * D);
      assert.equal(at.ops['tvs::attention_backward']!.flops, 8 * B * S * S * D);
    } else {
      assert.ok(at.ops['aten::bmm'] || at.ops['aten::matmul'], 'the composition ran instead');
    }
    q.dispose();
    // take() starts afresh.
    assert.deepEqual(T.takeOpProfile().ops, {});
  } finally {
    T.stopOpProfile();
    a.dispose();
    b.dispose();
  }
  assert.throws(() => T.takeOpProfile(), /profilerTake: the profiler is not running/);
});
