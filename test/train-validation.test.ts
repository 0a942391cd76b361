// Validation inside the epoch (Lightning's val_check_interval), the early-stopping monitor
// (val_loss / val_dice), and accumulation over passes whose BatchNorms use batch statistics:
// the three training-loop departures the original's configs and run scripts need (issue 24 row
// 11, issue 25 / quirks A7, the CoOp-CRIS script's 16 x 2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as T from '../src/torch/index.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import {
  train,
  TinySegmenter,
  parseTrainConfig,
  readCheckpointMeta,
  passBatchSize,
  ConfigError,
  type TrainConfigInput,
  type EpochRecord,
  type ValidationRecord,
} from '../src/index.js';
import { monitorImproves, monitorMode, validationEvery, validationsPerEpoch } from '../src/train/validation-rules.js';

T.setNumThreads(1);

let tmp: string;
let data: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-validation-'));
  data = path.join(tmp, 'shapes');
  await generateSyntheticDataset('shapes', data, { size: 32, counts: { train: 10, val: 3, test: 3 }, seed: 3 });
  await keepTrainEntries(data, 14); // 7 passes of 2 (an image holds one entry per shape)
});

async function keepTrainEntries(dir: string, n: number): Promise<void> {
  const ann = path.join(dir, 'anns', 'train.json');
  const entries = JSON.parse(readFileSync(ann, 'utf8')) as unknown[];
  assert.ok(entries.length >= n);
  await fs.writeFile(ann, JSON.stringify(entries.slice(0, n)));
}
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const tiny = (): TinySegmenter => new TinySegmenter({ imageSize: 32 });
const config = (name: string, extra: Partial<TrainConfigInput> = {}): TrainConfigInput => ({
  name,
  runsDir: path.join(tmp, 'runs'),
  seed: 2,
  data: { dir: data, imageSize: 32, workers: 0 },
  batchSize: 2,
  effectiveBatchSize: 2,
  minEpochs: 1,
  maxEpochs: 2,
  lr: 0.02,
  augment: { p: 0 },
  progress: 'none',
  ...extra,
});
const records = (run: string): Record<string, unknown>[] =>
  readFileSync(path.join(tmp, 'runs', run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test("valCheckInterval: Lightning's val_check_batch (a fraction of the epoch's passes, floored, at least 1; or a pass count)", () => {
  // _FitLoop.setup_data: int(num_training_batches * val_check_interval), max 1; validation after batch i when (i + 1) % it == 0
  assert.equal(validationEvery(0.5, 7), 3, '7 passes at 0.5: after passes 3 and 6, none after the 7th');
  assert.equal(validationsPerEpoch(3, 7), 2);
  assert.equal(validationEvery(0.5, 6), 3);
  assert.equal(validationEvery(0.5, 3), 1, 'floor(1.5) = 1: after every pass');
  assert.equal(validationEvery(0.3, 10), 3);
  assert.equal(validationEvery(0.7, 10), 7, '10 x 0.7 is 7.000000000000001 in floating point: still 7');
  assert.equal(validationEvery(1, 5), 5, "the default: once, after the epoch's last pass");
  assert.equal(validationEvery(1e-6, 5), 1);
  assert.equal(validationEvery(4, 10), 4, 'a whole number counts passes');
  assert.throws(() => validationEvery(4, 3), /config key "valCheckInterval": 4 training passes is more than an epoch has \(3\)/);
  // the key: a fraction in (0, 1] or a whole number of passes
  assert.equal(parseTrainConfig({ data: { dir: 'd' }, valCheckInterval: 0.5 }).valCheckInterval, 0.5);
  assert.equal(parseTrainConfig({ data: { dir: 'd' }, valCheckInterval: 20 }).valCheckInterval, 20);
  assert.throws(
    () => parseTrainConfig({ data: { dir: 'd' }, valCheckInterval: 1.5 }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /config key "valCheckInterval": expected a fraction in \(0, 1\] of an epoch or a whole number/.test(e.message),
  );
  assert.throws(() => parseTrainConfig({ data: { dir: 'd' }, valCheckInterval: 0 }), /config key "valCheckInterval"/);
});

test("early-stopping monitor: val_loss improves downwards, val_dice upwards, by more than minDelta (Lightning's monitor_op)", () => {
  assert.equal(monitorMode('val_loss'), 'min');
  assert.equal(monitorMode('val_dice'), 'max');
  assert.equal(monitorImproves('val_loss', 0.5, Infinity, 1e-4), true);
  assert.equal(monitorImproves('val_loss', 0.49995, 0.5, 1e-4), false);
  assert.equal(monitorImproves('val_loss', 0.4998, 0.5, 1e-4), true);
  assert.equal(monitorImproves('val_dice', 0, -Infinity, 1e-4), true);
  assert.equal(monitorImproves('val_dice', 0.80005, 0.8, 1e-4), false);
  assert.equal(monitorImproves('val_dice', 0.8002, 0.8, 1e-4), true);
  assert.equal(parseTrainConfig({ data: { dir: 'd' } }).earlyStopping.monitor, 'val_loss');
  assert.throws(
    () => parseTrainConfig({ data: { dir: 'd' }, earlyStopping: { monitor: 'val_iou' } }),
    /config key "earlyStopping.monitor"/,
  );
});

test('valCheckInterval 0.5 on an odd epoch: validations after passes 3 and 6 of 7, none after the 7th; the epoch record carries the latest', async () => {
  const s = await train(config('half', { valCheckInterval: 0.5, minEpochs: 2 }), { buildSegmenter: tiny });
  assert.deepEqual(s.validation, { checkEveryPasses: 3, perEpoch: 2, earlyStoppingMonitor: 'val_loss' });
  const recs = records('half');
  const vals = recs.filter((r) => r.type === 'validation') as unknown as ValidationRecord[];
  const epochs = recs.filter((r) => r.type === 'epoch') as unknown as EpochRecord[];
  // Mid-epoch validations get their own record: pass 3 and pass 6 (the latter is not the epoch's end: 7 passes).
  assert.deepEqual(
    vals.map((v) => [v.epoch, v.batch, v.globalStep, v.index]),
    [
      [1, 3, 3, 0],
      [1, 6, 6, 1],
      [2, 3, 10, 2],
      [2, 6, 13, 3],
    ],
  );
  assert.equal(epochs.length, 2);
  // No validation after pass 7: the epoch's record repeats its latest validation (pass 6), as Lightning's
  // callback_metrics would hold for ReduceLROnPlateau at the epoch's end.
  for (const e of epochs) {
    const last = vals.filter((v) => v.epoch === e.epoch).at(-1)!;
    assert.deepEqual([e.valLoss, e.valDice, e.valSelectDice], [last.valLoss, last.valDice, last.valSelectDice]);
    assert.equal(e.earlyStoppingWait, last.earlyStoppingWait);
    assert.equal(
      e.best,
      vals.some((v) => v.epoch === e.epoch && v.best),
    );
    assert.equal(e.batches, undefined, 'every pass trained');
  }
  assert.equal(s.globalSteps, 14);
  // best.safetensors comes from the best validation, which the summary names
  const dices = vals.map((v) => v.valSelectDice);
  const bestAt = dices.indexOf(Math.max(...dices));
  assert.equal(s.bestValidation.index, bestAt);
  assert.deepEqual([s.bestValidation.epoch, s.bestValidation.batch], [vals[bestAt]!.epoch, vals[bestAt]!.batch]);
  const meta = readCheckpointMeta(path.join(tmp, 'runs', 'half', 'checkpoints', 'best.safetensors'));
  assert.equal(meta.globalStep, vals[bestAt]!.globalStep);
  // the default validates once per epoch: no validation records
  await train(config('whole', { minEpochs: 2 }), { buildSegmenter: tiny });
  assert.equal(records('whole').filter((r) => r.type === 'validation').length, 0);
});

test('early stopping counts validations and stops mid-epoch once minEpochs epochs are complete (monitor val_dice, mode max)', async () => {
  // minDelta 1: only the first validation improves on -inf; patience 2 triggers at the third
  // validation (epoch 2, pass 3 of 6).
  const es = { monitor: 'val_dice' as const, patience: 2, minDelta: 1 };
  const base = { valCheckInterval: 0.5, maxEpochs: 5, earlyStopping: es, data: { dir: data, imageSize: 32, workers: 0 } };
  // 12 of the 14 samples: 6 passes (a validation at the epoch's end too)
  const half = path.join(tmp, 'shapes12');
  await fs.cp(data, half, { recursive: true });
  await keepTrainEntries(half, 12);
  const lines: string[] = [];
  const s = await train(config('stop-mid', { ...base, minEpochs: 1, data: { ...base.data, dir: half }, progress: 'lines' }), {
    buildSegmenter: tiny,
    log: (l) => lines.push(l),
  });
  assert.equal(s.stopReason, 'early_stopping');
  assert.equal(s.epochs, 2);
  assert.equal(s.globalSteps, 9, 'epoch 1 (6 steps) and 3 passes of epoch 2');
  assert.equal(s.lastEpoch.batches, 3);
  assert.equal(s.lastEpoch.lrReduced, false, 'ReduceLROnPlateau does not step in an epoch cut short');
  assert.equal(s.lastEpoch.earlyStoppingWait, 2);
  assert.equal(s.validation.earlyStoppingMonitor, 'val_dice');
  assert.ok(
    lines.some((l) => /early stopping in epoch 2 after pass 3\/6: no validation-Dice improvement > 1 for 2 validations/.test(l)),
    lines.join('\n'),
  );
  const vals = records('stop-mid').filter((r) => r.type === 'validation');
  assert.deepEqual(
    vals.map((v) => [v.epoch, v.batch, v.earlyStoppingWait]),
    [
      [1, 3, 0],
      [2, 3, 2],
    ],
  );
  // minEpochs 2: triggered in epoch 2 (1 epoch complete), so epoch 2 runs to its end
  const s2 = await train(config('stop-end', { ...base, minEpochs: 2, data: { ...base.data, dir: half } }), { buildSegmenter: tiny });
  assert.equal(s2.stopReason, 'early_stopping');
  assert.equal(s2.epochs, 2);
  assert.equal(s2.globalSteps, 12);
  assert.equal(s2.lastEpoch.batches, undefined);
  assert.equal(s2.lastEpoch.earlyStoppingWait, 3);
});

test("accumulation over passes whose BatchNorms use batch statistics: allowed (the original's accumulate_grad_batches), noted", async () => {
  const bn = new TinySegmenter({ imageSize: 32, batchNorm: true });
  try {
    const notes: string[] = [];
    assert.equal(
      passBatchSize(16, 32, bn, (l) => notes.push(l)),
      16,
    );
    assert.match(
      notes[0]!,
      /2 passes of 16 per optimizer step with BatchNorm layers that use batch statistics in training \(norm\): each pass is normalised with its own 16 samples' statistics/,
    );
    assert.equal(passBatchSize(null, 32, bn), 32, "unset: one pass per step (the CoCoOp-CRIS scripts' batch 32)");
    // Two 2-sample passes in train mode: each normalised by its own statistics, the running mean
    // moved twice with momentum 0.1 (what validation then normalises with).
    T.tidy(() => {
      bn.train();
      const x = T.randn([4, 3, 32, 32]);
      const r0 = bn.norm!.runningMean!.clone();
      const m = (part: T.Tensor): T.Tensor => T.noGrad(() => bn.stem.forward(part).mean([0, 2, 3]));
      const [a, b] = [x.narrow(0, 0, 2), x.narrow(0, 2, 2)];
      const ta = bn.tokenize(['a', 'b']),
        tb = bn.tokenize(['c', 'd']);
      T.noGrad(() => {
        bn.forward(a, ta);
        bn.forward(b, tb);
      });
      const expected = r0.mul(0.81).add(m(a).mul(0.09)).add(m(b).mul(0.1));
      assert.ok(bn.norm!.runningMean!.allclose(expected, 1e-5, 1e-6));
      // one 4-sample pass moves it once, to another value
      const once = r0.mul(0.9).add(m(x).mul(0.1));
      assert.ok(!expected.allclose(once, 1e-5, 1e-6));
      return null;
    });
  } finally {
    bn.dispose();
  }
  const lines: string[] = [];
  const s = await train(config('bn-2x2', { batchSize: 2, effectiveBatchSize: 4, maxEpochs: 1, progress: 'lines' }), {
    buildSegmenter: () => new TinySegmenter({ imageSize: 32, batchNorm: true }),
    log: (l) => lines.push(l),
  });
  assert.equal(s.batchSize, 2);
  assert.ok(
    lines.some((l) => /2 passes of 2 per optimizer step with BatchNorm layers/.test(l)),
    lines.join('\n'),
  );
});

/** TinySegmenter whose validation forwards give NaN (diverged weights, as far as validation can tell). */
class NaNInEval extends TinySegmenter {
  override forward(x: T.Tensor, text: Parameters<TinySegmenter['forward']>[1]): T.Tensor {
    const y = super.forward(x, text);
    return this.training ? y : y.mul(Number.NaN);
  }
}

test('a non-finite loss at a validation inside an epoch: reference ends the run there (val_loss inf), fixed stops with the error', async () => {
  const s = await train(config('nan-mid-ref', { valCheckInterval: 0.5, minEpochs: 3, maxEpochs: 3 }), {
    buildSegmenter: () => new NaNInEval({ imageSize: 32 }),
  });
  assert.equal(s.stopReason, 'early_stopping');
  assert.equal(s.epochs, 1);
  assert.equal(s.lastEpoch.batches, 3, 'stopped at the first validation (pass 3 of 7), minEpochs notwithstanding');
  assert.equal(s.lastEpoch.valLoss, Infinity);
  assert.match(s.diverged ?? '', /validation loss NaN after epoch 1: recorded as inf and early stopping ended the run/);
  await assert.rejects(
    train(config('nan-mid-fixed', { valCheckInterval: 0.5, model: { quirks: 'fixed' } }), {
      buildSegmenter: () => new NaNInEval({ imageSize: 32, quirks: 'fixed' }),
    }),
    /non-finite validation loss \(NaN\) after epoch 1/,
  );
});
