// Tensor lifetimes: tidy/keep/dispose semantics, errors on misuse, flat memory in long loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as T from '../src/torch/index.js';
const { tidy, liveTensors } = T;

test('tidy disposes intermediates and keeps what it returns', () => {
  const before = liveTensors();
  const out = tidy(() => {
    const a = T.ones([10]);
    const b = a.mul(2);
    b.add(1);
    return { result: b.sum(), list: [a.mean()] };
  });
  assert.equal(liveTensors(), before + 2);
  assert.equal(out.result.item(), 20);
  T.dispose(out);
  assert.equal(liveTensors(), before);
});

test('nested tidy hands returned tensors to the outer scope', () => {
  const before = liveTensors();
  tidy(() => {
    const inner = tidy(() => T.ones([3]).mul(3));
    assert.equal(inner.isDisposed, false);
    return null;
  });
  assert.equal(liveTensors(), before);
});

test('keep() survives tidy; a throwing fn still frees its tensors', () => {
  const before = liveTensors();
  let kept!: T.Tensor;
  tidy(() => {
    kept = T.ones([2]).keep();
    T.zeros([5]);
  });
  assert.equal(kept.isDisposed, false);
  kept.dispose();
  assert.throws(() => tidy(() => {
    T.ones([4]);
    throw new Error('boom');
  }), /boom/);
  assert.equal(liveTensors(), before);
});

test('tidy refuses an async function instead of leaking', () => {
  const before = liveTensors();
  assert.throws(() => tidy((async () => T.ones([1])) as unknown as () => T.Tensor), /async function/);
  // the tensor created before the first await was inside the scope and is freed
  assert.equal(liveTensors(), before);
});

test('using a disposed tensor throws a clear error; dispose is idempotent; Symbol.dispose works', () => {
  const t = T.ones([2]);
  t.dispose();
  t.dispose();
  assert.equal(t.isDisposed, true);
  assert.throws(() => t.add(1), /disposed Tensor/);
  assert.throws(() => T.cat([T.ones([1]), t]), /disposed Tensor/);
  const before = liveTensors();
  {
    using u = T.ones([3]);
    assert.equal(u.numel, 3);
  }
  assert.equal(liveTensors(), before);
});

test('native memory is reported (live bytes and peak)', () => {
  T.resetPeakMemory();
  const s0 = T.memoryStats();
  const big = T.zeros([1024, 1024]);
  const s1 = T.memoryStats();
  assert.equal(s1.liveBytes - s0.liveBytes, 4 * 1024 * 1024);
  big.dispose();
  assert.equal(T.memoryStats().liveBytes, s0.liveBytes);
  assert.ok(T.memoryStats().peakBytes >= s0.liveBytes + 4 * 1024 * 1024);
});

/**
 * A full garbage collection, also when node runs without --expose-gc (as `npm test` does), so
 * that RSS read right after it does not depend on when V8 happened to collect.
 */
function fullGc(): void {
  if (typeof global.gc !== 'function') {
    v8.setFlagsFromString('--expose-gc');
    global.gc = vm.runInNewContext('gc') as typeof global.gc;
  }
  global.gc!();
}

test('2,000 tidy training steps of a small MLP keep memory flat', () => {
  // One libtorch thread: each OpenMP worker allocating in its own glibc arena adds RSS noise
  // unrelated to tensor lifetimes, which is what this test checks (live tensors and their bytes
  // exactly; RSS after a full collection).
  const threads = T.getNumThreads();
  T.setNumThreads(1);
  T.manualSeed(0);
  const l1 = new T.nn.Linear(32, 64), l2 = new T.nn.Linear(64, 1);
  const params = [...l1.parameters(), ...l2.parameters()];
  const opt = new T.optim.AdamW(params, { lr: 1e-3 });
  const x = T.randn([64, 32]).keep();
  const y = T.randn([64, 1]).keep();
  const step = (): number => {
    const loss = tidy(() => {
      const l = T.F.mseLoss(l2.forward(T.F.relu(l1.forward(x))), y);
      l.backward();
      return l.item();
    });
    opt.step();
    opt.zeroGrad();
    return loss;
  };
  let first = 0, last = 0;
  for (let i = 0; i < 200; i++) first = step();
  fullGc();
  const live200 = liveTensors();
  const bytes200 = T.memoryStats().liveBytes;
  // RSS in three windows of 600 steps, each read after a full collection. A leak grows in every
  // window; the allocator's own growth comes in one-off jumps (a new arena or heap segment). So
  // the quietest window must stay under 13 MB: 22 KB a step, the same sensitivity as 40 MB over
  // 1,800 steps, without failing on a single jump.
  const rss: number[] = [process.memoryUsage().rss];
  for (let w = 0; w < 3; w++) {
    for (let i = 0; i < 600; i++) last = step();
    fullGc();
    rss.push(process.memoryUsage().rss);
  }
  T.setNumThreads(threads);
  assert.equal(liveTensors(), live200, 'live native tensors grew');
  assert.equal(T.memoryStats().liveBytes, bytes200, 'bytes held by live tensors grew');
  const growth = rss.slice(1).map((r, i) => r - rss[i]!);
  assert.ok(Math.min(...growth) < 13 * 1024 * 1024, `RSS grew in every 600-step window: ${growth.map((g) => (g / 1e6).toFixed(1)).join(', ')} MB`);
  assert.ok(last < first, `loss did not decrease (${first} -> ${last})`);
  opt.dispose();
  l1.dispose();
  l2.dispose();
  x.dispose();
  y.dispose();
});
