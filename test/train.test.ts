// Trainer pieces: DiceCE against the fixtures, metrics edge cases, augmentation (determinism,
// mask follows image), config validation, checkpoints, a short training run on synthetic data
// (loss down, Dice up, run folder layout), flat memory, NaN handling, evaluation and prediction.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

import * as T from '../src/torch/index.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import {
  diceCELoss,
  diceCELossPerSample,
  diceIoU,
  diceIoUFromCounts,
  MeanAccumulator,
  sampleAugmentations,
  applyAugmentations,
  augmentBatch,
  augmentRng,
  affineTheta,
  DEFAULT_AUGMENT,
  type SampleAugment,
  parseTrainConfig,
  configLeaves,
  parseFlagValue,
  parseAssignments,
  ConfigError,
  saveCheckpoint,
  loadCheckpoint,
  loadCheckpointInto,
  readCheckpointMeta,
  stringifyJson,
  parseJson,
  writeFileAtomic,
  train,
  NonFiniteLossError,
  evaluate,
  predictFolder,
  TinySegmenter,
  EVAL_PROTOCOLS,
  type EpochRecord,
  type TrainConfigInput,
} from '../src/index.js';
import type { TextInputs } from '../src/tuning/segmenter.js';
import { fixturesDir, sharedDir } from './helpers.js';
import { runEval } from '../src/cli/eval.js';

// Tiny models: one libtorch thread is much faster than two contending ones on a busy machine.
T.setNumThreads(1);

let tmp: string;
let shapes: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-train-'));
  shapes = path.join(tmp, 'shapes');
  // 40 px files, 32 px model input: predictions are resized back to 40x40.
  await generateSyntheticDataset('shapes', shapes, { size: 40, counts: { train: 32, val: 8, test: 6 }, seed: 5 });
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Same shape and bit-equal values. */
const same = (a: T.Tensor, b: T.Tensor): boolean => a.shape.join(',') === b.shape.join(',') && T.tidy(() => a.eq(b).all().item()) === 1;

// ------------------------------------------------------------------------------------ loss

test('DiceCE equals the fixture dicece_loss / dice_loss / bce_loss (MONAI semantics)', () => {
  const tiny = path.join(fixturesDir(), 'clipseg-tiny');
  const out = T.loadSafetensors(path.join(tiny, 'outputs.safetensors')).tensors;
  const inp = T.loadSafetensors(path.join(tiny, 'inputs.safetensors')).tensors;
  try {
    T.tidy(() => {
      const logits = out.get('logits')!.view(2, 1, 96, 96);
      const labels = inp.get('labels')!;
      const r = diceCELoss(logits, labels);
      for (const [name, got] of [
        ['dicece_loss', r.loss],
        ['dice_loss', r.dice],
        ['bce_loss', r.bce],
      ] as const) {
        const exp = out.get(name)!.item();
        assert.ok(Math.abs(got.item() - exp) < 1e-6, `${name}: ${got.item()} vs ${exp}`);
      }
      // per-sample values average to the batch loss (equal-sized samples)
      assert.ok(Math.abs(diceCELossPerSample(logits, labels).mean().item() - r.loss.item()) < 1e-6);
      return null;
    });
  } finally {
    T.dispose([...out.values(), ...inp.values()]);
  }
});

test('DiceCE rejects mismatched or multi-channel shapes', () => {
  T.tidy(() => {
    assert.throws(() => diceCELoss(T.zeros([2, 1, 4, 4]), T.zeros([2, 1, 4, 5])), /same \[B, C, \.\.\.spatial\] shape/);
    assert.throws(() => diceCELoss(T.zeros([2, 2, 4, 4]), T.zeros([2, 2, 4, 4])), /one-channel/);
    return null;
  });
});

// ------------------------------------------------------------------------------------ metrics

test('metrics: empty/empty = 1, empty prediction of a non-empty mask = 0, hand-computed cases', () => {
  assert.deepEqual(diceIoUFromCounts(0, 0, 0), { dice: 1, iou: 1 });
  assert.deepEqual(diceIoUFromCounts(0, 0, 5), { dice: 0, iou: 0 });
  assert.deepEqual(diceIoUFromCounts(0, 3, 0), { dice: 0, iou: 0 });
  T.tidy(() => {
    // 4 samples of 2x2; logits +-5 (sigmoid 0.993 / 0.007)
    const L = (bits: number[]): number[] => bits.map((b) => (b ? 5 : -5));
    const logits = T.tensor([L([0, 0, 0, 0]), L([0, 0, 0, 0]), L([1, 1, 0, 0]), L([1, 1, 1, 0])]).view(4, 1, 2, 2);
    const target = T.tensor([
      [0, 0, 0, 0],
      [1, 0, 0, 0],
      [1, 0, 0, 0],
      [1, 1, 0, 1],
    ]).view(4, 1, 2, 2);
    const r = diceIoU(logits, target);
    assert.deepEqual(r.dice, [1, 0, 2 / 3, (2 * 2) / (3 + 3)]);
    assert.deepEqual(r.iou, [1, 0, 1 / 2, 2 / 4]);
    // threshold is strict: p = 0.5 exactly (logit 0) is background
    const z = diceIoU(T.zeros([1, 1, 2, 2]), T.ones([1, 1, 2, 2]));
    assert.deepEqual(z.dice, [0]);
    // probabilities directly, other threshold
    const p = diceIoU(T.tensor([[0.3, 0.6, 0.2, 0.9]]).view(1, 1, 2, 2), T.tensor([[1, 1, 0, 0]]).view(1, 1, 2, 2), {
      fromProbabilities: true,
      threshold: 0.25,
    });
    assert.deepEqual(p.dice, [(2 * 2) / (3 + 2)]);
    assert.deepEqual(p.iou, [2 / 3]);
    return null;
  });
  const acc = new MeanAccumulator();
  acc.add('dice', [1, 0, 0.5]);
  acc.add('loss', 2, 4);
  acc.add('loss', 1, 1);
  assert.equal(acc.mean('dice'), 0.5);
  assert.equal(acc.mean('loss'), 9 / 5);
  assert.equal(MeanAccumulator.fromState(JSON.parse(JSON.stringify(acc.state()))).mean('loss'), 9 / 5);
});

// ------------------------------------------------------------------------------------ augmentation

/** A batch of [0, 1] pixels whose red channel is bright exactly where the mask is 1 (a square per sample). */
function squareBatch(B: number, S: number): { images: T.Tensor; masks: T.Tensor } {
  const img = new Float32Array(B * 3 * S * S);
  const msk = new Float32Array(B * S * S);
  for (let b = 0; b < B; b++) {
    const x0 = 6 + 2 * b,
      y0 = 9 + b,
      side = 14;
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const inside = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
        msk[b * S * S + y * S + x] = inside ? 1 : 0;
        for (let c = 0; c < 3; c++) {
          const v = c === 0 ? (inside ? 0.9 : 0.1) : 0.3 + 0.2 * Math.sin((x + y + c) / 5);
          img[((b * 3 + c) * S + y) * S + x] = v;
        }
      }
    }
  }
  return { images: T.tensor(img, [B, 3, S, S]), masks: T.tensor(msk, [B, 1, S, S]) };
}

test('augmentation is deterministic in (seed, epoch, step) and p=0 is the identity', () => {
  const cfg = { ...DEFAULT_AUGMENT, p: 0.5 };
  const a = sampleAugmentations(cfg, 16, augmentRng(7, 2, 3));
  assert.deepEqual(sampleAugmentations(cfg, 16, augmentRng(7, 2, 3)), a);
  assert.notDeepEqual(sampleAugmentations(cfg, 16, augmentRng(7, 2, 4)), a);
  assert.notDeepEqual(sampleAugmentations(cfg, 16, augmentRng(7, 3, 3)), a);
  // ranges
  for (const s of sampleAugmentations({ ...DEFAULT_AUGMENT, p: 1 }, 200, augmentRng(1, 0, 0))) {
    assert.ok(s.affine && s.colour);
    assert.ok(s.affine.scale >= 0.98 && s.affine.scale <= 1.02);
    assert.ok(Math.abs(s.affine.tx) <= 0.02 && Math.abs(s.affine.ty) <= 0.02 && Math.abs(s.affine.angle) <= 5);
    assert.ok(Math.abs(s.colour.alpha - 1) <= 0.1 && Math.abs(s.colour.beta) <= 0.1);
  }
  // about 20% of samples get each transform by default
  const many = sampleAugmentations(DEFAULT_AUGMENT, 2000, augmentRng(3, 0, 0));
  const frac = many.filter((s) => s.affine).length / many.length;
  assert.ok(frac > 0.17 && frac < 0.23, `affine fraction ${frac}`);
  T.tidy(() => {
    const { images, masks } = squareBatch(4, 32);
    const r1 = augmentBatch(images, masks, { ...DEFAULT_AUGMENT, p: 1 }, { seed: 1, epoch: 0, step: 5 });
    const r2 = augmentBatch(images, masks, { ...DEFAULT_AUGMENT, p: 1 }, { seed: 1, epoch: 0, step: 5 });
    assert.ok(same(r1.images, r2.images) && same(r1.masks, r2.masks));
    assert.ok(!same(r1.images, images));
    const id = augmentBatch(images, masks, { ...DEFAULT_AUGMENT, p: 0 }, { seed: 1, epoch: 0, step: 5 });
    assert.ok(same(id.images, images) && same(id.masks, masks));
    return null;
  });
});

test('the mask follows the image transform (same grid), masks stay binary', () => {
  T.tidy(() => {
    const { images, masks } = squareBatch(6, 32);
    const plan: SampleAugment[] = [
      { affine: { scale: 1.02, tx: 0.02, ty: -0.02, angle: 5 }, colour: null },
      { affine: { scale: 0.98, tx: -0.02, ty: 0.02, angle: -5 }, colour: null },
      { affine: null, colour: null },
      { affine: { scale: 1, tx: 0, ty: 0, angle: 45 }, colour: null },
      { affine: { scale: 1, tx: 0.125, ty: 0, angle: 0 }, colour: null },
      { affine: null, colour: { alpha: 1.1, beta: 0.05 } },
    ];
    const out = applyAugmentations(images, masks, plan, { ...DEFAULT_AUGMENT, brightnessByMax: false });
    const m = out.masks.toFloat32Array();
    assert.ok(
      m.every((v) => v === 0 || v === 1),
      'mask values stay 0/1',
    );
    // red channel thresholded half-way between 0.1 and 0.9 = where the square went
    const red = out.images.narrow(1, 0, 1).gt(0.5).to('float32');
    const agree = red.eq(out.masks).to('float32').flatten(1).mean(1).toArray();
    for (let b = 0; b < 6; b++) assert.ok(agree[b]! > 0.985, `sample ${b}: image and mask agree on ${agree[b]}`);
    // untouched samples are bit-exact copies
    assert.ok(same(out.images.select(0, 2), images.select(0, 2)) && same(out.masks.select(0, 2), masks.select(0, 2)));
    // a 4-pixel shift to the right (0.125 * 32) moves the square exactly, border replicated
    const shifted = out.masks.select(0, 4).select(0, 0);
    const orig = masks.select(0, 4).select(0, 0);
    assert.ok(same(shifted.narrow(1, 4, 28), orig.narrow(1, 0, 28)));
    assert.ok(same(shifted.narrow(1, 0, 4), orig.narrow(1, 0, 1).expand(32, 4)));
    // rotation by 45 degrees changes the mask but keeps roughly its area
    const area = (t: T.Tensor): number => t.sum().item();
    assert.ok(!same(out.masks.select(0, 3), masks.select(0, 3)));
    assert.ok(Math.abs(area(out.masks.select(0, 3)) - 196) < 20);
    // colour: x' = clamp(a*x + a*b*mean(x)), mask untouched
    assert.ok(same(out.masks.select(0, 5), masks.select(0, 5)));
    const px = images.select(0, 5);
    const expPx = px
      .mul(1.1)
      .add(px.mean().mul(1.1 * 0.05))
      .clamp(0, 1);
    const gotPx = out.images.select(0, 5);
    assert.ok(gotPx.allclose(expPx, 1e-5, 1e-5));
    return null;
  });
  // theta of the identity transform
  assert.deepEqual(
    affineTheta({ scale: 1, tx: 0, ty: 0, angle: 0 })
      .flat()
      .map((v) => v + 0),
    [1, 0, 0, 0, 1, 0],
  );
});

// ------------------------------------------------------------------------------------ config

test('config: defaults, errors naming the key and its source, flags for every key', () => {
  const c = parseTrainConfig({ name: 'x', data: { dir: '/d' } });
  assert.equal(c.lr, 2e-4);
  assert.equal(c.effectiveBatchSize, 32);
  assert.deepEqual(c.plateau, { factor: 0.2, patience: 5, threshold: 1e-4, minLr: 0 });
  assert.deepEqual(c.earlyStopping, { enabled: true, monitor: 'val_loss', patience: 12, minDelta: 1e-4 });
  assert.equal(c.valCheckInterval, 1);
  assert.equal(c.augment.p, 0.2);
  assert.equal(c.loss.lambdaCe, 0.2);
  const named = parseTrainConfig({ data: { dir: '/data/Kvasir SEG' } }).name;
  assert.match(named, /^Kvasir-SEG-\d{8}-\d{6}$/);
  const bad = (input: unknown, sources?: Map<string, string>): string => {
    try {
      parseTrainConfig(input, sources);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.message;
    }
    throw new Error('expected a ConfigError');
  };
  assert.match(
    bad({ name: 'x', data: { dir: '/d' }, lr: 'fast' }, new Map([['lr', '--lr']])),
    /config key "lr": .*expected number.*\(from --lr\)/,
  );
  assert.match(bad({ name: 'x', data: {} }), /config key "data\.dir": missing/);
  assert.match(bad({ name: 'x', data: { dir: '/d' }, plateau: { factr: 0.1 } }), /config key "plateau\.factr": unknown key/);
  assert.match(
    bad({ name: 'x', data: { dir: '/d' }, batchSize: 8, effectiveBatchSize: 12 }),
    /config key "effectiveBatchSize": must be a multiple of batchSize/,
  );
  assert.match(bad({ name: '../up', data: { dir: '/d' } }), /config key "name"/);
  const leaves = configLeaves();
  const flags = new Map(leaves.map((l) => [l.key, l.flag]));
  assert.equal(flags.get('lr'), '--lr');
  assert.equal(flags.get('data.dir'), '--data-dir');
  assert.equal(flags.get('earlyStopping.minDelta'), '--early-stopping-min-delta');
  assert.equal(flags.get('augment.maskInterpolation'), '--augment-mask-interpolation');
  assert.ok(leaves.length >= 35, `${leaves.length} leaves`);
  const leaf = (k: string) => leaves.find((l) => l.key === k);
  assert.equal(parseFlagValue(leaf('lr'), '1e-3'), 1e-3);
  assert.equal(parseFlagValue(leaf('name'), '123'), '123');
  assert.equal(parseFlagValue(leaf('data.overridePrompt'), 'null'), null);
  assert.deepEqual(parseFlagValue(leaf('betas'), '[0.9, 0.99]'), [0.9, 0.99]);
  assert.equal(parseFlagValue(leaf('earlyStopping.enabled'), 'false'), false);
  assert.deepEqual(
    parseAssignments(['learner=vpt', 'depth=3'], '--model', 'model.').map(([k, v]) => [k, v]),
    [
      ['model.learner', 'vpt'],
      ['model.depth', 3],
    ],
  );
  assert.throws(() => parseAssignments(['oops'], '--set'), /expected key=value/);
});

// ------------------------------------------------------------------------------------ checkpoints

test('checkpoint: learnable state + metadata round trip, strict load, atomic writes', () => {
  const dir = path.join(tmp, 'ckpt');
  T.manualSeed(1);
  const a = new TinySegmenter({ imageSize: 32 });
  T.manualSeed(2);
  const b = new TinySegmenter({ imageSize: 32 });
  try {
    const file = path.join(dir, 'x.safetensors');
    saveCheckpoint(file, a, {
      kind: 'best',
      model: { kind: 'tiny' },
      metrics: { valDice: 0.5, valLoss: Infinity },
      epoch: 3,
      globalStep: 12,
    });
    const meta = readCheckpointMeta(file);
    assert.equal(meta.kind, 'best');
    assert.equal(meta.epoch, 3);
    assert.equal(meta.globalStep, 12);
    assert.deepEqual(meta.model, { kind: 'tiny' });
    assert.equal(meta.metrics.valLoss, Infinity);
    assert.equal(meta.segmenter.kind, 'tiny');
    assert.match(meta.tunevlsegVersion, /^\d+\.\d+\.\d+/);
    const { state } = loadCheckpoint(file);
    // only the learnable tensors (the frozen stem and embeddings are not stored)
    assert.deepEqual([...state.keys()].sort(), [...a.learnableState().keys()].sort());
    assert.ok(!state.has('stem.weight'));
    T.dispose([...state.values()]);
    loadCheckpointInto(b, file);
    for (const [k, t] of a.learnableState()) assert.ok(same(t, b.learnableState().get(k)!), k);
    // no temporary files left; a stale one from a killed writer does not matter
    assert.deepEqual(readdirSync(dir), ['x.safetensors']);
    writeFileAtomic(path.join(dir, '.x.safetensors.999.abc.tmp'), 'partial');
    assert.equal(readCheckpointMeta(file).epoch, 3);
    // a checkpoint of another model fails naming the keys
    const other = new TinySegmenter({ imageSize: 32, channels: 4 });
    assert.throws(() => loadCheckpointInto(other, file), /expected \[/);
    other.dispose();
    // not a tunevlseg checkpoint
    T.saveSafetensors(path.join(dir, 'plain.safetensors'), { w: T.ones([2]) });
    assert.throws(() => readCheckpointMeta(path.join(dir, 'plain.safetensors')), /not a tunevlseg checkpoint/);
    assert.deepEqual(parseJson(stringifyJson({ a: -Infinity, b: [NaN, 1] })), { a: -Infinity, b: [NaN, 1] });
  } finally {
    a.dispose();
    b.dispose();
  }
});

// ------------------------------------------------------------------------------------ training

const baseConfig = (name: string, extra: Partial<TrainConfigInput> = {}): TrainConfigInput => ({
  name,
  runsDir: path.join(tmp, 'runs'),
  seed: 11,
  data: { dir: shapes, imageSize: 32, workers: 0 },
  batchSize: 8,
  effectiveBatchSize: 8,
  minEpochs: 1,
  maxEpochs: 2,
  lr: 0.05,
  progress: 'none',
  ...extra,
});
const tiny = (): TinySegmenter => new TinySegmenter({ imageSize: 32 });

test('two epochs on synthetic data lower the loss and raise val Dice; run folder layout', async () => {
  const cfg = baseConfig('two-epochs');
  const epochs: EpochRecord[] = [];
  const summary = await train(cfg, { buildSegmenter: tiny, onEpoch: (r) => epochs.push(r) });
  const run = path.join(tmp, 'runs', 'two-epochs');
  // the initial weights are in the run folder's first "last" checkpoint... now overwritten; rebuild them
  T.manualSeed(11);
  const init = tiny();
  const before = await evaluate(init, shapes, 'val', { imageSize: 32, workers: 0, batchSize: 8 });
  loadCheckpointInto(init, path.join(run, 'checkpoints', 'best.safetensors'));
  const afterEval = await evaluate(init, shapes, 'val', { imageSize: 32, workers: 0, batchSize: 8 });
  init.dispose();
  assert.equal(epochs.length, 2);
  assert.ok(epochs[1]!.valLoss < before.loss, `val loss ${before.loss} -> ${epochs[1]!.valLoss}`);
  assert.ok(epochs[1]!.valDice > before.dice + 0.02, `val Dice ${before.dice} -> ${epochs[1]!.valDice}`);
  assert.ok(epochs[1]!.trainLoss < epochs[0]!.trainLoss, `train loss ${epochs[0]!.trainLoss} -> ${epochs[1]!.trainLoss}`);
  // summary = the best checkpoint's scores, equal to evaluating it independently
  assert.equal(
    summary.bestEpoch,
    epochs.reduce((b, e) => (e.valDice > epochs[b - 1]!.valDice ? e.epoch : b), 1),
  );
  assert.equal(summary.val.dice, afterEval.dice);
  assert.equal(summary.val.loss, afterEval.loss);
  assert.equal(summary.val.dice, epochs[summary.bestEpoch - 1]!.valDice);
  assert.equal(summary.epochs, 2);
  assert.equal(summary.stopReason, 'max_epochs');
  assert.ok(summary.test && summary.test.samples > 0);
  const fresh = tiny();
  assert.equal(summary.trainableParams, fresh.numParameters(true));
  fresh.dispose();
  // run folder
  for (const f of [
    'config.json',
    'metrics.jsonl',
    'summary.json',
    'checkpoints/best.safetensors',
    'checkpoints/last.safetensors',
    'checkpoints/resume/state.safetensors',
    'eval/val.json',
    'eval/test.json',
  ])
    assert.ok(existsSync(path.join(run, f)), f);
  const config = JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.lr, 0.05);
  assert.equal(config.weightDecay, 0, "the resolved default (quirks reference: the original's weight_decay 0.0) is recorded");
  assert.deepEqual(JSON.parse(readFileSync(path.join(run, 'summary.json'), 'utf8')).val, summary.val);
  const lines = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; epoch?: number });
  const steps = lines.filter((l) => l.type === 'step');
  const N = (JSON.parse(readFileSync(path.join(shapes, 'anns', 'train.json'), 'utf8')) as unknown[]).length;
  assert.equal(steps.length, 2 * Math.ceil(N / 8));
  assert.deepEqual(
    lines.filter((l) => l.type === 'epoch').map((l) => l.epoch),
    [1, 2],
  );
  assert.equal(lines[lines.length - 1]!.type, 'final');
  const last = readCheckpointMeta(path.join(run, 'checkpoints', 'last.safetensors'));
  assert.equal(last.epoch, 2);
  assert.equal(last.metrics.valDice, epochs[1]!.valDice);
  const perSample = JSON.parse(readFileSync(path.join(run, 'eval', 'val.json'), 'utf8')) as { perSample: { dice: number }[] };
  assert.equal(perSample.perSample.length, summary.val.samples);
  // an existing run folder is not silently reused
  await assert.rejects(train(cfg, { buildSegmenter: tiny }), /already exists: resume it/);
  // a dataset problem fails before any run folder is made
  await assert.rejects(
    train(baseConfig('no-data', { data: { dir: path.join(tmp, 'missing'), imageSize: 32 } }), { buildSegmenter: tiny }),
    /split file not found/,
  );
  assert.ok(!existsSync(path.join(tmp, 'runs', 'no-data')));
});

test('issue 24 row 8: a dataset the original evaluates through its training transforms (VOC, Cityscapes) is augmented at val/test, with val as test, in reference mode', async () => {
  // configs/data/image_dir_text_mask_{jpg,png}.yaml: val_ds and test_ds take ${train_transforms},
  // and test_ds reads images/validation. `data convert` records that in dataset.json.
  const voc = path.join(tmp, 'voc-like');
  await fs.cp(shapes, voc, { recursive: true });
  await fs.rm(path.join(voc, 'anns', 'test.json'));
  await fs.writeFile(
    path.join(voc, 'dataset.json'),
    JSON.stringify({
      reference: { dataConfig: 'configs/data/image_dir_text_mask_jpg.yaml', evalTransforms: 'train', testSplit: 'val' },
    }),
  );
  const cfg = (name: string, extra: Partial<TrainConfigInput> = {}): TrainConfigInput =>
    baseConfig(name, {
      data: { dir: voc, imageSize: 32, workers: 0 },
      maxEpochs: 1,
      augment: { p: 1 },
      progress: 'lines',
      ...extra,
    });
  const notes: string[] = [];
  // evaluation batches of 3: the augmentation draws are per batch, which `eval` must follow
  const ref = await train(cfg('voc-ref', { evalBatchSize: 3 }), { buildSegmenter: tiny, log: (l) => notes.push(l) });
  assert.deepEqual(ref.evaluation, { augmented: true, testSplit: 'val' });
  assert.equal(ref.test?.samples, ref.val.samples, 'the test set is the val split');
  assert.ok(
    notes.some((l) => /the test set is the val split, as the original's configs\/data\/image_dir_text_mask_jpg\.yaml/.test(l)),
    notes.join('\n'),
  );
  const testJson = JSON.parse(readFileSync(path.join(tmp, 'runs', 'voc-ref', 'eval', 'test.json'), 'utf8')) as { split: string };
  assert.equal(testJson.split, 'val');
  // The val/test scores are those of augmented inputs: an un-augmented evaluation of the same checkpoint differs,
  // and so do val and test (their own draws) although they hold the same samples.
  const seg = tiny();
  try {
    loadCheckpointInto(seg, path.join(tmp, 'runs', 'voc-ref', 'checkpoints', 'best.safetensors'));
    const plain = await evaluate(seg, voc, 'val', { imageSize: 32, workers: 0 });
    assert.ok(Math.abs(plain.loss - ref.val.loss) > 1e-6, `${plain.loss} vs ${ref.val.loss}`);
    assert.ok(Math.abs(ref.test!.loss - ref.val.loss) > 1e-6);
    // `tunevlseg eval` of the run reads as its training did: test = the val split, augmented with the final
    // test evaluation's draws (in the run's batches of 3), val with the best validation's: the summary's scores
    const runDir = path.join(tmp, 'runs', 'voc-ref');
    const ev = (raw: Record<string, unknown>): ReturnType<typeof runEval> => runEval(runDir, { loaderThreads: '0', ...raw }, tiny);
    const t = await ev({});
    assert.deepEqual(t.reading, { split: 'val', augmented: true });
    assert.deepEqual([t.evaluation!.loss, t.evaluation!.dice, t.evaluation!.iou], [ref.test!.loss, ref.test!.dice, ref.test!.iou]);
    assert.ok(
      t.notes.some((n) => /the test set is the val split, as the original's configs\/data\/image_dir_text_mask_jpg\.yaml/.test(n)),
      t.notes.join('\n'),
    );
    assert.ok(
      t.notes.some((n) =>
        /go through the training augmentation, with the draws of the run's final test evaluation in batches of 3/.test(n),
      ),
      t.notes.join('\n'),
    );
    const v = await ev({ split: 'val' });
    assert.deepEqual([v.evaluation!.loss, v.evaluation!.dice], [ref.val.loss, ref.val.dice]);
    // clean inputs on request, the same as evaluating the checkpoint directly
    const clean = await ev({ evalAugment: 'off' });
    assert.deepEqual(clean.reading, { split: 'val', augmented: false });
    assert.ok(Math.abs(clean.evaluation!.loss - plain.loss) < 1e-6);
    // another batch size draws otherwise, said so
    const b5 = await ev({ batchSize: '5' });
    assert.ok(
      b5.notes.some((n) =>
        /--batch-size 5: the augmentation draws are made per batch, so they differ from the run's \(batches of 3\)/.test(n),
      ),
    );
    // --out predicts the clean images (predictions are for use), said so
    const out = await ev({ out: path.join(tmp, 'voc-ref-preds'), overlays: false });
    assert.deepEqual(out.reading, { split: 'val', augmented: false });
    assert.ok(out.notes.some((n) => /--out predicts and scores the clean images/.test(n)));
    // a checkpoint file alone has no seed or augmentation settings: clean inputs, explained; "on" is refused
    const best = path.join(runDir, 'checkpoints', 'best.safetensors');
    const file = await runEval(best, { dataset: voc, loaderThreads: '0', imageSize: '32' }, tiny);
    assert.deepEqual(file.reading, { split: 'val', augmented: false });
    assert.ok(
      file.notes.some((n) => /a checkpoint file has no run config \(seed, augmentation\), so its inputs are read clean/.test(n)),
      file.notes.join('\n'),
    );
    await assert.rejects(
      runEval(best, { dataset: voc, loaderThreads: '0', evalAugment: 'on' }, tiny),
      /option "--eval-augment": on needs a run folder/,
    );
  } finally {
    seg.dispose();
  }
  // data.evalAugment: false turns the augmentation off (the test split stays the original's)
  const off = await train(cfg('voc-off', { data: { dir: voc, imageSize: 32, workers: 0, evalAugment: false }, progress: 'none' }), {
    buildSegmenter: tiny,
  });
  assert.deepEqual(off.evaluation, { augmented: false, testSplit: 'val' });
  // quirks fixed: this project's evaluation (no augmentation; no test split, no test evaluation)
  const fixed = await train(cfg('voc-fixed', { model: { quirks: 'fixed' }, progress: 'none' }), {
    buildSegmenter: () => new TinySegmenter({ imageSize: 32, quirks: 'fixed' }),
  });
  assert.deepEqual(fixed.evaluation, { augmented: false, testSplit: null });
  assert.equal(fixed.test, null);
});

test('gradient accumulation: one step of 16 = two passes of 8 (same update)', async () => {
  const one = await train(baseConfig('accum-16', { batchSize: 16, effectiveBatchSize: 16, maxEpochs: 1, augment: { p: 0 } }), {
    buildSegmenter: tiny,
  });
  const two = await train(baseConfig('accum-8x2', { batchSize: 8, effectiveBatchSize: 16, maxEpochs: 1, augment: { p: 0 } }), {
    buildSegmenter: tiny,
  });
  assert.equal(one.globalSteps, two.globalSteps);
  const a = loadCheckpoint(path.join(tmp, 'runs', 'accum-16', 'checkpoints', 'last.safetensors')).state;
  const b = loadCheckpoint(path.join(tmp, 'runs', 'accum-8x2', 'checkpoints', 'last.safetensors')).state;
  for (const [k, t] of a) assert.ok(t.allclose(b.get(k)!, 1e-4, 1e-5), k);
  T.dispose([...a.values(), ...b.values()]);
});

/** TinySegmenter that records, at each training forward, the summed |gradient| its context vectors hold so far. */
class GradProbe extends TinySegmenter {
  readonly seen: number[] = [];
  override forward(x: T.Tensor, text: TextInputs): T.Tensor {
    if (this.training) {
      const g = this.context.grad;
      this.seen.push(g ? T.tidy(() => g.abs().sum().item()) : 0);
      g?.dispose();
    }
    return super.forward(x, text);
  }
}

test('gradient accumulation weighting: reference divides each pass by A (Lightning), fixed by its share of the samples', async () => {
  // Passes of 24, A = 2: the second step holds a full pass and a smaller last one (N - 72 samples).
  // At that last pass's forward the context holds w·g of the full pass (same data, same weights
  // in both modes: the same explicit weight decay): reference w = 1/2, fixed w = 24 / (24 + last).
  const N = (JSON.parse(readFileSync(path.join(shapes, 'anns', 'train.json'), 'utf8')) as unknown[]).length;
  const last = N - 3 * 24;
  assert.ok(last > 0 && last < 24, `the synthetic split (${N} samples) must end in a smaller pass`);
  const common = {
    batchSize: 24,
    effectiveBatchSize: 48,
    weightDecay: 1e-3,
    maxEpochs: 1,
    augment: { p: 0 },
    data: { dir: shapes, imageSize: 32, workers: 0, testSplit: null },
  };
  const run = async (name: string, quirks: 'reference' | 'fixed'): Promise<number[]> => {
    let seg: GradProbe | null = null;
    await train(baseConfig(name, { ...common, model: { quirks } }), {
      buildSegmenter: () => (seg = new GradProbe({ imageSize: 32, quirks })),
    });
    return seg!.seen;
  };
  const ref = await run('weights-ref', 'reference');
  const fixed = await run('weights-fixed', 'fixed');
  assert.equal(ref.length, 4, 'two steps of two passes');
  assert.deepEqual([ref[0], ref[2]], [0, 0], 'gradients are none when a step starts');
  assert.ok(Math.abs(ref[1]! - fixed[1]!) <= 1e-6 * fixed[1]!, 'full window: 1/2 in both modes');
  const ratio = ref[3]! / fixed[3]!;
  assert.ok(Math.abs(ratio - 1 / 2 / (24 / (24 + last))) < 1e-5, `ratio ${ratio}`);
});

test('memory is flat: live tensors after epoch 1 equal those after epoch 3', async () => {
  const live: number[] = [];
  const lines: string[] = [];
  await train(baseConfig('memory', { maxEpochs: 3, progress: 'lines' }), {
    buildSegmenter: tiny,
    onEpoch: () => live.push(T.liveTensors()),
    log: (l) => lines.push(l),
  });
  // quiet mode: one line per epoch (plus the final evaluation messages)
  const epochLines = lines.filter((l) => l.startsWith('epoch '));
  assert.equal(epochLines.length, 3);
  assert.match(
    epochLines[0]!,
    /^epoch 1\/3 {2}train loss \d\.\d{4} dice \d\.\d{4} \| val loss \d\.\d{4} dice \d\.\d{4} iou \d\.\d{4} \| lr 5\.00e-2 \| [\d.]+ img\/s \| [\d.]+ s/,
  );
  assert.match(lines[lines.length - 1]!, /^done: 3 epochs \(max_epochs\), best epoch \d: val Dice/);
  assert.equal(live.length, 3);
  assert.equal(live[2], live[0], `live tensors per epoch: ${live.join(', ')}`);
});

/** TinySegmenter whose forward turns NaN from its n-th training call on. */
class NaNAfter extends TinySegmenter {
  calls = 0;
  constructor(
    readonly n: number,
    quirks: 'reference' | 'fixed' = 'fixed',
  ) {
    super({ imageSize: 32, quirks });
  }
  override forward(x: T.Tensor, text: TextInputs): T.Tensor {
    const y = super.forward(x, text);
    if (this.training && ++this.calls >= this.n) return y.mul(Number.NaN);
    return y;
  }
}

test('quirks fixed: a NaN loss stops with an error naming the step; the last good checkpoint stays', async () => {
  const cfg = baseConfig('nan', { maxEpochs: 3 });
  const perEpoch = Math.ceil((JSON.parse(readFileSync(path.join(shapes, 'anns', 'train.json'), 'utf8')) as unknown[]).length / 8);
  const run = path.join(tmp, 'runs', 'nan');
  let lastGood: Map<string, T.Tensor> | null = null;
  await assert.rejects(
    train(cfg, {
      buildSegmenter: () => new NaNAfter(perEpoch + 3),
      onEpoch: () => {
        lastGood = loadCheckpoint(path.join(run, 'checkpoints', 'last.safetensors')).state;
      },
    }),
    (e: unknown) => {
      assert.ok(e instanceof NonFiniteLossError);
      assert.match(e.message, /non-finite loss \(NaN\) at epoch 2, step 3 \(batch 3\/\d+, global step \d+; samples: shapes-train-/);
      assert.match(e.message, /last good checkpoint: .*last\.safetensors \(after epoch 1\)/);
      assert.equal(e.epoch, 2);
      assert.equal(e.step, 3);
      return true;
    },
  );
  const meta = readCheckpointMeta(path.join(run, 'checkpoints', 'last.safetensors'));
  assert.equal(meta.epoch, 1);
  const { state } = loadCheckpoint(path.join(run, 'checkpoints', 'last.safetensors'));
  for (const [k, t] of state) {
    assert.ok(T.tidy(() => t.isfinite().all().item()) === 1, `${k} finite`);
    assert.ok(same(t, lastGood!.get(k)!), `${k} unchanged since epoch 1`);
  }
  T.dispose([...state.values(), ...lastGood!.values()]);
  assert.ok(!existsSync(path.join(run, 'summary.json')));
  const lines = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.match(lines[lines.length - 1]!, /"type":"error"/);
});

// ------------------------------------------------------------------------------------ evaluation and prediction

test('quirks reference: a NaN loss becomes val_loss inf (nan_to_num, nan=inf) and early stopping ends the run, as the original', async () => {
  const cfg = baseConfig('nan-ref', { maxEpochs: 3, minEpochs: 3 });
  const perEpoch = Math.ceil((JSON.parse(readFileSync(path.join(shapes, 'anns', 'train.json'), 'utf8')) as unknown[]).length / 8);
  const run = path.join(tmp, 'runs', 'nan-ref');
  const epochs: EpochRecord[] = [];
  let lastGood: Map<string, T.Tensor> | null = null;
  const summary = await train(cfg, {
    buildSegmenter: () => new NaNAfter(perEpoch + 3, 'reference'),
    onEpoch: (r) => {
      epochs.push(r);
      if (r.epoch === 1) lastGood = loadCheckpoint(path.join(run, 'checkpoints', 'last.safetensors')).state;
    },
  });
  // Epoch 2 diverged at its 3rd step: the epoch's val_loss is inf, and early stopping (Lightning's
  // check_finite) ends the run there although minEpochs is 3 (the original would go on with NaN
  // weights to min_epochs; its val_loss stays inf, so the trial value is the same).
  assert.equal(summary.stopReason, 'early_stopping');
  assert.equal(summary.epochs, 2);
  assert.equal(summary.lastEpoch.valLoss, Infinity);
  assert.deepEqual(
    epochs.map((e) => Number.isFinite(e.valLoss)),
    [true, false],
  );
  const lines = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => parseJson<Record<string, unknown>>(l));
  assert.ok(lines.some((l) => l.type === 'error' && l.quirks === 'reference' && l.what === 'loss (NaN)' && l.epoch === 2 && l.step === 3));
  // No update was applied on the NaN step: the last checkpoint is epoch 1's, finite.
  const { state } = loadCheckpoint(path.join(run, 'checkpoints', 'last.safetensors'));
  for (const [k, t] of state) {
    assert.ok(T.tidy(() => t.isfinite().all().item()) === 1, `${k} finite`);
    assert.ok(same(t, lastGood!.get(k)!), `${k} unchanged since epoch 1`);
  }
  T.dispose([...state.values(), ...lastGood!.values()]);
});
test('evaluate gives per-sample scores; predictFolder writes masks at the original size', async () => {
  T.manualSeed(3);
  const seg = tiny();
  try {
    const r = await evaluate(seg, shapes, 'test', { imageSize: 32, workers: 0, batchSize: 4, protocols: EVAL_PROTOCOLS });
    assert.equal(r.perSample.length, r.samples);
    assert.ok(r.perSample.every((s) => s.dice >= 0 && s.dice <= 1 && s.iou <= s.dice + 1e-12 && s.prompt.endsWith('.')));
    assert.ok(Math.abs(r.dice - r.perSample.reduce((a, s) => a + s.dice, 0) / r.samples) < 1e-12);
    const out = path.join(tmp, 'pred');
    const p = await predictFolder(seg, { input: shapes, split: 'test', outDir: out, imageSize: 32, workers: 0 });
    assert.equal(p.files.length, r.samples);
    assert.deepEqual(p.evaluation!.perSample, r.perSample);
    assert.equal(p.evaluation!.dice, r.dice);
    const f = p.files[0]!;
    for (const file of [f.mask, f.prob, f.overlay!]) {
      const meta = await sharp(file).metadata();
      assert.deepEqual([meta.width, meta.height], [40, 40], file);
    }
    assert.ok(existsSync(path.join(out, 'predictions.json')));
    // a folder of real images (kvasir-sample) with one prompt: every output at its image's size
    const kv = path.join(sharedDir(), 'datasets', 'kvasir-sample', 'images');
    const some = path.join(tmp, 'kv');
    await fs.mkdir(some);
    for (const name of readdirSync(kv).sort().slice(0, 3)) await fs.copyFile(path.join(kv, name), path.join(some, name));
    const q = await predictFolder(seg, {
      input: some,
      prompt: 'polyp',
      outDir: path.join(tmp, 'pred-kv'),
      imageSize: 32,
      workers: 0,
      overlays: false,
    });
    assert.equal(q.files.length, 3);
    for (const file of q.files) {
      const src = await sharp(path.join(some, file.name)).metadata();
      const got = await sharp(file.mask).metadata();
      assert.deepEqual([got.width, got.height], [src.width, src.height]);
      assert.equal(file.prompt, 'polyp.');
      assert.equal(file.overlay, undefined);
    }
    await assert.rejects(predictFolder(seg, { input: some, outDir: path.join(tmp, 'x') }), /needs a prompt/);
  } finally {
    seg.dispose();
  }
});

test('predictFolder writes each batch behind the next forward: outputs in input order, progress in images and images/s', async () => {
  T.manualSeed(4);
  const seg = tiny();
  try {
    const progress: { done: number; total: number; images: number; totalImages: number; rate: number }[] = [];
    const out = path.join(tmp, 'pred-behind');
    const p = await predictFolder(seg, {
      input: shapes,
      split: 'test',
      outDir: out,
      imageSize: 32,
      workers: 1,
      batchSize: 2,
      overlays: false,
      onBatch: (done, total, pr) =>
        progress.push({ done, total, images: pr.images, totalImages: pr.totalImages, rate: pr.imagesPerSecond }),
    });
    const ref = await evaluate(seg, shapes, 'test', { imageSize: 32, workers: 0, batchSize: 4 });
    assert.ok(ref.samples >= 3, 'the fixture split has several batches of 2');
    // In input order, each entry's files written, whatever batch they were written behind.
    assert.deepEqual(
      p.files.map((f) => f.name),
      ref.perSample.map((s) => s.name),
    );
    assert.deepEqual(
      p.evaluation!.perSample.map((s) => s.dice),
      ref.perSample.map((s) => s.dice),
    );
    for (const f of p.files) assert.ok(existsSync(f.mask) && existsSync(f.prob), f.name);
    // Progress: images written so far (never ahead of the files), the last call has them all.
    const batches = Math.ceil(ref.samples / 2);
    assert.equal(progress.length, batches + 1);
    assert.deepEqual(
      progress.map((x) => x.done),
      Array.from({ length: batches + 1 }, (_, i) => i),
    );
    assert.ok(progress.every((x, i) => x.total === batches && x.totalImages === ref.samples && x.images === Math.min(ref.samples, 2 * i)));
    assert.ok(progress.at(-1)!.rate > 0 && Number.isFinite(progress.at(-1)!.rate));
  } finally {
    seg.dispose();
  }
});
