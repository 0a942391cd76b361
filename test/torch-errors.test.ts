// libtorch errors become JS Errors naming the op; no input takes the process down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import { N } from '../src/torch/native.js';
const { tidy, F } = T;

test('shape mismatches name the op and both shapes', () => {
  tidy(() => {
    assert.throws(() => T.randn([2, 3]).matmul(T.randn([4, 5])), /^Error: matmul: .*\(2x3 and 4x5\)/);
    assert.throws(() => T.randn([2, 3]).add(T.randn([4])), /^Error: add: .*size of tensor a \(3\) must match the size of tensor b \(4\)/);
    assert.throws(() => T.cat([T.randn([2, 3]), T.randn([2, 4])], 0), /^Error: cat: /);
    assert.throws(() => T.randn([2, 3]).view(7), /^Error: view: .*invalid for input of size 6/);
    assert.throws(() => T.randn([2, 3]).transpose(0, 1).view(6), /^Error: view: /);
    assert.throws(() => F.conv2d(T.randn([1, 3, 8, 8]), T.randn([4, 2, 3, 3])), /^Error: conv2d: /);
    assert.throws(() => F.embedding(T.randn([4, 2]), T.tensor([9], { dtype: 'int64' })), /^Error: embedding: .*index out of range/i);
    assert.throws(() => T.randn([3]).select(0, 5), /^Error: select: .*out of range/);
  });
});

test('dtype and device mismatches are errors, not crashes', () => {
  tidy(() => {
    assert.throws(() => T.randn([2, 2]).matmul(T.randn([2, 2], { dtype: 'float64' })), /^Error: matmul: .*(dtype|scalar type)/i);
    assert.throws(() => F.embedding(T.randn([4, 2]), T.tensor([1.5])), /^Error: embedding: /);
    if (!T.runtimeInfo().cudaAvailable) {
      assert.throws(() => T.zeros([2], { device: 'cuda' }), /^Error: zeros: /);
      assert.throws(() => T.randn([2]).to('cuda:0'), /^Error: to: /);
    }
    assert.throws(() => T.zeros([2], { device: 'tpu' as 'cpu' }), /^TypeError: zeros: invalid device 'tpu'/);
    assert.throws(() => T.tensor([1, 2]).item(), /^TypeError: item: .*one element/);
  });
});

test('bad arguments from JS become TypeErrors', () => {
  assert.throws(() => N.add({}, 1), /^TypeError: add: argument 0 must be a Tensor/);
  assert.throws(() => N.zeros('x'), /^TypeError: zeros: argument 0 must be an array of integers/);
  assert.throws(() => N.reshape(T.ones([2])._h, [1.5]), /TypeError: reshape: argument 1\[0\] must be an integer/);
  assert.throws(() => T.zeros([-1]), /^Error: zeros: /);
  assert.throws(() => T.tensor(new Float32Array(3), [2, 2]), /^TypeError: fromBuffer: buffer holds 12 bytes but shape \[2, 2\]/);
  assert.throws(
    () => F.interpolate(T.ones([1, 1, 2, 2]), { size: 4, mode: 'bogus' as 'nearest' }),
    /^TypeError: interpolate: unknown interpolate mode/,
  );
  assert.throws(() => new (N.NativeTensor as unknown as new () => unknown)(), /cannot be constructed from JS/);
});

test('the process survives a burst of failing ops', () => {
  let errors = 0;
  for (let i = 0; i < 500; i++) {
    try {
      tidy(() => T.randn([(i % 7) + 1, 3]).matmul(T.randn([4, (i % 5) + 1])));
    } catch (e) {
      assert.ok(e instanceof Error);
      errors++;
    }
  }
  assert.equal(errors, 500);
});
