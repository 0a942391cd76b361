// Optimizers and schedules: PyTorch update rules, fixture parity, state save/load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { fixturesDir } from './helpers.js';
const { tidy, optim } = T;

test('AdamW step 1 matches torch 1.13 on every learner fixture (params_init + grads -> adamw_step1)', () => {
  const root = join(fixturesDir(), 'clipseg-tiny', 'learners');
  const cases = readdirSync(root).filter((d) => existsSync(join(root, d, 'grads.safetensors')));
  assert.ok(cases.length >= 12);
  for (const c of cases) {
    const init = T.loadSafetensors(join(root, c, 'params_init.safetensors')).tensors;
    const grads = T.loadSafetensors(join(root, c, 'grads.safetensors')).tensors;
    const want = T.loadSafetensors(join(root, c, 'adamw_step1.safetensors')).tensors;
    const params = [...init.values()].map((t) => t.requiresGrad_(true).keep());
    const opt = new optim.AdamW(params, { lr: 1e-3, weightDecay: 1e-2 });
    for (const [name, p] of init) {
      const g = grads.get(name);
      if (g) p.grad = g;
    }
    opt.step();
    let worst = 0;
    for (const [name, p] of init) {
      const diff = tidy(() => p.sub(want.get(name)!).abs().max().item());
      worst = Math.max(worst, diff);
      if (!grads.has(name)) assert.deepEqual(p.toArray(), want.get(name)!.toArray(), `${c}: ${name} has no grad and must not change`);
    }
    assert.ok(worst < 1e-4, `${c}: max abs diff ${worst}`);
    opt.dispose();
    T.dispose([init, grads, want]);
  }
});

test('AdamW: the fused one-pass native step equals torch.optim.AdamW op by op (float32, float64, decay or none, strided parameters)', () => {
  // torch.optim.AdamW's single-tensor step, one ATen op at a time.
  const reference = (p: T.Tensor, g: T.Tensor, m: T.Tensor, v: T.Tensor, step: number, lr: number, wd: number): void =>
    tidy(() => {
      const [b1, b2, eps] = [0.9, 0.999, 1e-8];
      if (wd !== 0) p.mul_(1 - lr * wd);
      m.mul_(b1).add_(g, 1 - b1);
      v.mul_(b2).addcmul_(g, g, 1 - b2);
      const denom = v
        .sqrt()
        .div_(Math.sqrt(1 - b2 ** step))
        .add_(eps);
      p.addcdiv_(m, denom, -lr / (1 - b1 ** step));
    });
  for (const dtype of ['float32', 'float64'] as const) {
    for (const wd of [0.01, 0]) {
      for (const strided of [false, true]) {
        T.manualSeed(5);
        // 1003 elements: 8-lane blocks and a tail; strided: a transposed view (the op-by-op fallback).
        const pv = tidy(() => (strided ? T.randn([59, 17], { dtype }).transpose(0, 1) : T.randn([1003], { dtype }))).keep();
        assert.equal(pv.isContiguous, !strided);
        const q = (strided ? pv.contiguous() : pv.clone()).keep();
        pv.requiresGrad_(true);
        const opt = new optim.AdamW([pv], { lr: 0.05, weightDecay: wd });
        const [m, v] = [T.zerosLike(q).keep(), T.zerosLike(q).keep()];
        for (let step = 1; step <= 5; step++) {
          const g = tidy(() => T.randn(q.shape, { dtype }).mul(step)).keep();
          pv.grad = g;
          opt.step();
          reference(q, g, m, v, step, 0.05, wd);
          g.dispose();
        }
        const err = tidy(() => pv.sub(q).abs().max().item() / q.abs().max().item());
        assert.ok(err < (dtype === 'float32' ? 2e-7 : 1e-15), `${dtype} wd ${wd}${strided ? ' strided' : ''}: rel. error ${err}`);
        opt.dispose();
        T.dispose([q, m, v, pv]);
      }
    }
  }
});

test('SGD with momentum, nesterov and weight decay follows torch.optim.SGD', () => {
  const p = T.tensor([1, -2], { requiresGrad: true }).keep();
  const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.1 });
  // step 1: d = g + wd*p = [1.1, -2.2] with g = 2p ... use a fixed grad of [1, 1]
  p.grad = T.tensor([1, 1]);
  opt.step(); // d = [1.1, 0.8], buf = d, p = p - 0.1 d
  assert.deepEqual(
    p.toArray().map((v) => +v.toFixed(6)),
    [0.89, -2.08],
  );
  p.grad = T.tensor([1, 1]);
  opt.step(); // d = [1 + 0.089, 1 - 0.208], buf = 0.9*buf + d
  const buf = [0.9 * 1.1 + 1.089, 0.9 * 0.8 + 0.792];
  assert.deepEqual(
    p.toArray().map((v) => +v.toFixed(5)),
    [+(0.89 - 0.1 * buf[0]!).toFixed(5), +(-2.08 - 0.1 * buf[1]!).toFixed(5)],
  );
  opt.dispose();
  p.dispose();
});

test('parameter groups carry their own lr and weight decay; grad-less params are skipped', () => {
  const a = T.ones([2], { requiresGrad: true }).keep();
  const b = T.ones([2], { requiresGrad: true }).keep();
  const c = T.ones([2], { requiresGrad: true }).keep();
  const opt = new optim.AdamW(
    [
      { params: [a], weightDecay: 0.5 },
      { params: [b, c], lr: 0 },
    ],
    { lr: 0.1 },
  );
  assert.equal(opt.paramGroups[0]!.lr, 0.1);
  assert.equal(opt.paramGroups[1]!.weightDecay, 1e-2);
  a.grad = T.zeros([2]);
  b.grad = T.ones([2]);
  opt.step();
  assert.ok(Math.abs(a.toArray()[0]! - (1 - 0.1 * 0.5)) < 1e-6, 'decoupled decay with zero grad');
  assert.deepEqual(b.toArray(), [1, 1], 'lr 0 leaves the parameter');
  assert.deepEqual(c.toArray(), [1, 1], 'no grad, no step, no decay');
  assert.throws(() => new optim.AdamW([{ params: [a] }, { params: [a] }]), /more than one group/);
  opt.dispose();
  T.dispose([a, b, c]);
});

test('optimizer state save/load resumes bit-identically', () => {
  T.manualSeed(1);
  const mk = (): T.Tensor => T.tensor([0.5, -1, 2], { requiresGrad: true }).keep();
  const grads = [T.tensor([1, 2, 3]), T.tensor([-1, 0.5, 0]), T.tensor([0.3, 0.3, -2])].map((g) => g.keep());
  const p1 = mk();
  const o1 = new optim.AdamW([p1], { lr: 0.01 });
  for (const g of grads) {
    p1.grad = g;
    o1.step();
  }
  const p2 = mk();
  const o2 = new optim.AdamW([p2], { lr: 0.01 });
  p2.grad = grads[0]!;
  o2.step();
  const saved = o2.stateDict();
  const json = JSON.parse(JSON.stringify(saved.meta)) as typeof saved.meta;
  const o3 = new optim.AdamW([p2], { lr: 0.5 });
  o3.loadStateDict({ meta: json, tensors: saved.tensors });
  assert.equal(o3.paramGroups[0]!.lr, 0.01);
  for (const g of grads.slice(1)) {
    p2.grad = g;
    o3.step();
  }
  assert.deepEqual(p2.toArray(), p1.toArray());
  T.dispose([p1, p2, grads]);
  o1.dispose();
  o2.dispose();
  o3.dispose();
});

test('clipGradNorm_ scales gradients to the max norm', () => {
  const a = T.zeros([2], { requiresGrad: true }).keep();
  a.grad = T.tensor([3, 4]);
  const n = optim.clipGradNorm_([a], 1);
  assert.ok(Math.abs(n - 5) < 1e-6);
  const g = a.grad!.toArray();
  assert.ok(Math.abs(g[0]! - 0.6) < 1e-5 && Math.abs(g[1]! - 0.8) < 1e-5);
  a.dispose();
});

test('ReduceLROnPlateau and cosine schedule', () => {
  const p = T.ones([1], { requiresGrad: true }).keep();
  const opt = new optim.AdamW([p], { lr: 1 });
  const s = new optim.ReduceLROnPlateau(opt, { factor: 0.2, patience: 2 });
  const losses = [1, 0.5, 0.6, 0.6, 0.6, 0.6];
  const reduced = losses.map((l) => s.step(l));
  assert.deepEqual(reduced, [false, false, false, false, true, false]);
  assert.ok(Math.abs(opt.paramGroups[0]!.lr - 0.2) < 1e-12);
  const c = new optim.CosineSchedule(opt, 10, 0, 2);
  assert.ok(Math.abs(opt.paramGroups[0]!.lr - 0.1) < 1e-12); // warm-up step 0: base * 1/2
  for (let i = 0; i < 10; i++) c.step();
  assert.ok(opt.paramGroups[0]!.lr < 1e-12);
  opt.dispose();
  p.dispose();
});
