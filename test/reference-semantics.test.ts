// Training semantics of `quirks: reference` vs `fixed`, each pinned to a number from the
// original's formulas (fixtures README quirks 18-21, issue 11): soft loss targets, weight
// decay 0 meaning torch's default on every tensor, brightness_by_max and independent affine
// scales, the sweep objective, and the BatchNorm / gradient-accumulation rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../src/torch/index.js';
import {
  TinySegmenter,
  diceCELoss,
  lossTargets,
  optimizerGroups,
  passBatchSize,
  batchStatisticNorms,
  TORCH_DEFAULT_WEIGHT_DECAY,
  resolveAugment,
  applyAugmentations,
  checkpointSelectionProtocol,
  sampleAugmentations,
  affineTheta,
  DEFAULT_AUGMENT,
  parseTrainConfig,
  type TrainSummary,
  buildOptimizer,
  REFERENCE_SEED,
} from '../src/index.js';
import { Rng } from '../src/data/rng.js';
import { objectiveValue, autoObjective } from '../src/experiment/trial.js';

T.setNumThreads(1);

test('quirk 18: the loss trains on soft gray/255 targets in reference mode, on thresholded ones in fixed mode', () => {
  T.tidy(() => {
    // logits 0 (p = 0.5) on four pixels; a JPEG-like mask edge: gray 255, 250, 3, 0.
    const logits = T.zeros([1, 1, 2, 2]);
    const soft = T.tensor(Float32Array.from([255, 250, 3, 0].map((g) => g / 255)), [1, 1, 2, 2]);
    const ref = diceCELoss(logits, lossTargets(soft, true)).loss.item();
    const fixed = diceCELoss(logits, lossTargets(soft, false)).loss.item();
    // MONAI: dice = 1 - (2·Σp·t + 1e-5) / (Σp + Σt + 1e-5); BCE with logits 0 = ln 2 whatever t.
    const st = (255 + 250 + 3) / 255;
    const expectRef = 1 - (2 * 0.5 * st + 1e-5) / (2 + st + 1e-5) + 0.2 * Math.LN2;
    const expectFixed = 1 - (2 * 0.5 * 2 + 1e-5) / (2 + 2 + 1e-5) + 0.2 * Math.LN2;
    assert.ok(Math.abs(ref - expectRef) < 1e-6, `${ref} vs ${expectRef}`);
    assert.ok(Math.abs(fixed - expectFixed) < 1e-6, `${fixed} vs ${expectFixed}`);
    assert.deepEqual(lossTargets(soft, false).toArray(), [1, 1, 0, 0]);
  });
});

test("quirk 19: weight decay 0 is torch's default 0.01 on every trainable tensor (reference); > 0 decays Linear/Conv weights only", () => {
  const ref = new TinySegmenter();
  const fixed = new TinySegmenter({ quirks: 'fixed' });
  try {
    const trainable = ref.parameters().filter((p) => p.requiresGrad);
    const g0 = optimizerGroups(ref, 0);
    assert.equal(g0.length, 1);
    assert.equal(g0[0]!.weightDecay, TORCH_DEFAULT_WEIGHT_DECAY);
    assert.equal(g0[0]!.params.length, trainable.length);
    // > 0: the segmenter's groups (film/head/out weights decayed, context and biases not)
    const g = optimizerGroups(ref, 1e-3);
    assert.deepEqual(
      g.map((x) => [x.params.length, x.weightDecay]),
      [
        [3, 1e-3],
        [trainable.length - 3, 0],
      ],
    );
    // fixed: 0 means no decay at all
    assert.deepEqual(
      optimizerGroups(fixed, 0).map((x) => x.weightDecay),
      [0, 0],
    );

    // One AdamW step (lr 1e-3) with a zero gradient on the context vectors: Adam's update is 0,
    // so the reference's step leaves p·(1 - lr·0.01) exactly; fixed mode leaves p.
    const step = (seg: TinySegmenter): number[] => {
      const opt = new T.optim.AdamW(optimizerGroups(seg, 0), { lr: 1e-3 });
      const before = seg.context.toArray() as number[];
      T.tidy(() => {
        for (const p of seg.parameters().filter((q) => q.requiresGrad)) p.mul(0).sum().backward();
      });
      opt.step();
      opt.dispose();
      const after = seg.context.toArray() as number[];
      return after.map((a, i) => a / before[i]!);
    };
    for (const r of step(ref)) assert.ok(Math.abs(r - (1 - 1e-3 * 0.01)) < 1e-7, `ratio ${r}`);
    for (const r of step(fixed)) assert.equal(r, 1);
  } finally {
    ref.dispose();
    fixed.dispose();
  }
});

test('quirk 20: reference mode shifts brightness by the maximum and draws x/y scales independently', () => {
  const cfg = parseTrainConfig({ data: { dir: 'd' } }).augment;
  const ref = resolveAugment(cfg, 'reference');
  const fixed = resolveAugment(cfg, 'fixed');
  assert.deepEqual([ref.brightnessByMax, ref.keepRatio], [true, false]);
  assert.deepEqual([fixed.brightnessByMax, fixed.keepRatio], [false, true]);
  assert.equal(resolveAugment({ ...cfg, brightnessByMax: false }, 'reference').brightnessByMax, false, 'an explicit setting wins');

  // brightness/contrast on a flat image x = 0.5 with α = 1.05, β = 0.08 ([0, 1] pixels):
  // by max: 1.05·0.5 + 0.08 = 0.605; by mean: 1.05·0.5 + 1.05·0.08·0.5 = 0.567.
  T.tidy(() => {
    const img = T.full([1, 3, 4, 4], 0.5);
    const mask = T.zeros([1, 1, 4, 4]);
    const plan = [{ affine: null, colour: { alpha: 1.05, beta: 0.08 } }];
    const byMax = applyAugmentations(img, mask, plan, { ...DEFAULT_AUGMENT, brightnessByMax: true }).images;
    const byMean = applyAugmentations(img, mask, plan, { ...DEFAULT_AUGMENT, brightnessByMax: false }).images;
    assert.ok(Math.abs(byMax.max().item() - 0.605) < 1e-6 && Math.abs(byMax.min().item() - 0.605) < 1e-6);
    assert.ok(Math.abs(byMean.max().item() - 0.567) < 1e-6);
  });

  // Independent scales: a ninth draw per sample, in range, and θ = diag(1/sx, 1/sy) at angle 0.
  const drawn = sampleAugmentations({ ...ref, p: 1 }, 64, new Rng(7));
  const ys = drawn.map((d) => d.affine!.scaleY!);
  assert.ok(ys.every((y) => y >= 0.98 && y <= 1.02));
  assert.ok(
    drawn.some((d) => Math.abs(d.affine!.scale - d.affine!.scaleY!) > 1e-3),
    'x and y scales differ',
  );
  assert.ok(sampleAugmentations({ ...fixed, p: 1 }, 4, new Rng(7)).every((d) => d.affine!.scaleY === undefined));
  const th = affineTheta({ scale: 1.02, scaleY: 0.98, tx: 0, ty: 0, angle: 0 });
  assert.ok(Math.abs(th[0]![0]! - 1 / 1.02) < 1e-12 && Math.abs(th[1]![1]! - 1 / 0.98) < 1e-12 && th[0]![1] === 0);
});

test("quirk 21: the sweep objective is the last epoch's val_loss (reference); the best checkpoint's stays selectable", () => {
  const s = { val: { samples: 4, loss: 0.31, dice: 0.8, iou: 0.7 }, lastEpoch: { valLoss: 0.42 } } as unknown as TrainSummary;
  assert.equal(objectiveValue('val_loss', s), 0.42);
  assert.equal(objectiveValue('best_val_loss', s), 0.31);
  assert.equal(objectiveValue('val_dice', s), 0.8);
  assert.equal(autoObjective({}), 'val_loss');
  assert.equal(autoObjective({ quirks: 'fixed' }), 'best_val_loss');
  // ...and the best checkpoint is picked by Lightning's val_dice (mask.long() truth) in reference mode.
  assert.equal(checkpointSelectionProtocol('reference'), 'model-resolution-reference');
  assert.equal(checkpointSelectionProtocol('fixed'), 'model-resolution');
});

test("BatchNorms on batch statistics: one pass per step by default; smaller passes accumulate as the original's accumulate_grad_batches, noted", () => {
  const bn = new TinySegmenter({ batchNorm: true });
  const bnFixed = new TinySegmenter({ batchNorm: true, quirks: 'fixed' });
  const plain = new TinySegmenter();
  try {
    bn.eval();
    assert.deepEqual(batchStatisticNorms(bn), ['norm']);
    assert.equal(bn.training, false, 'the probe restores the mode');
    assert.equal(bn.norm!.training, false);
    assert.deepEqual(batchStatisticNorms(bnFixed), []);
    assert.equal(passBatchSize(null, 32, bn), 32);
    assert.equal(passBatchSize(null, 32, bnFixed), 8);
    assert.equal(passBatchSize(null, 4, plain), 4);
    assert.equal(passBatchSize(32, 32, bn), 32);
    const notes: string[] = [];
    assert.equal(
      passBatchSize(8, 32, bn, (l) => notes.push(l)),
      8,
    );
    assert.match(notes.join('\n'), /4 passes of 8 per optimizer step with BatchNorm layers that use batch statistics in training \(norm\)/);
    assert.equal(
      passBatchSize(8, 32, bnFixed, (l) => notes.push(l)),
      8,
    );
    assert.equal(notes.length, 1, 'frozen BatchNorms on running statistics: nothing to say');
  } finally {
    bn.dispose();
    bnFixed.dispose();
    plain.dispose();
  }
});

test("issue 24 row 9: a run's seed defaults to the original experiment configs' 12345 (reference), 0 (fixed); explicit wins", () => {
  // configs/experiment/coop/clipseg.yaml and coop/cris.yaml: `seed: 12345`.
  assert.equal(REFERENCE_SEED, 12345);
  assert.equal(parseTrainConfig({ data: { dir: 'd' } }).seed, 12345);
  assert.equal(parseTrainConfig({ data: { dir: 'd' }, model: { quirks: 'reference' } }).seed, 12345);
  assert.equal(parseTrainConfig({ data: { dir: 'd' }, model: { quirks: 'fixed' } }).seed, 0);
  assert.equal(parseTrainConfig({ data: { dir: 'd' }, seed: 7 }).seed, 7);
  // the resolved value is what a run folder's config.json records: parsing it again keeps it
  const once = parseTrainConfig({ data: { dir: 'd' }, name: 'r' });
  assert.equal(parseTrainConfig(JSON.parse(JSON.stringify(once))).seed, 12345);
});

test("issue 24 row 6: a non-sweep reference run decays every tensor with a gradient by torch's 0.01, in one group; tensors without one never move", () => {
  // configs/experiment/coop/*.yaml `model.weight_decay: 0.0`; image_text_mask_module.py get_optim_groups:
  // `if self.hparams.weight_decay <= 0: return self.parameters()`, then partial(AdamW, lr)(params): torch's
  // default weight_decay 0.01 on the one group, and AdamW skips a parameter whose grad is None.
  const cfg = parseTrainConfig({ data: { dir: 'd' }, lr: 1e-3 });
  assert.equal(cfg.weightDecay, 0);
  assert.equal(parseTrainConfig({ data: { dir: 'd' }, model: { quirks: 'fixed' } }).weightDecay, 0.01);
  assert.equal(parseTrainConfig({ data: { dir: 'd' }, weightDecay: 1e-4 }).weightDecay, 1e-4);
  const seg = new TinySegmenter();
  try {
    const opt = buildOptimizer(seg, cfg);
    const trainable = seg.parameters().filter((p) => p.requiresGrad);
    assert.deepEqual(
      opt.paramGroups.map((g) => [g.params.length, g.weightDecay, g.lr]),
      [[trainable.length, TORCH_DEFAULT_WEIGHT_DECAY, 1e-3]],
    );
    // A zero gradient on the context vectors only: Adam's update is 0, the decay is p·(1 - lr·0.01);
    // every other tensor has no gradient and stays bit for bit.
    const before = trainable.map((p) => p.toArray() as number[]);
    T.tidy(() => seg.context.mul(0).sum().backward());
    opt.step();
    trainable.forEach((p, k) => {
      const after = p.toArray() as number[];
      if (p === seg.context)
        for (let i = 0; i < after.length; i++) assert.ok(Math.abs(after[i]! / before[k]![i]! - (1 - 1e-3 * 0.01)) < 1e-7);
      else assert.deepEqual(after, before[k]);
    });
    opt.dispose();
    // explicit > 0 (the sweeps): the split groups, decay on Linear/Conv weights only
    const split = buildOptimizer(seg, { ...cfg, weightDecay: 1e-3 });
    assert.deepEqual(
      split.paramGroups.map((g) => [g.params.length, g.weightDecay]),
      [
        [3, 1e-3],
        [trainable.length - 3, 0],
      ],
    );
    split.dispose();
  } finally {
    seg.dispose();
  }
});
