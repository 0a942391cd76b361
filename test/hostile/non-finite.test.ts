// Issue 22 (and issue 24 row 7), a loss that becomes NaN: `train --lr 1e30` used to end three
// ways on three runs (exit 13 with no message, exit 1 with it, exit 134 with `terminate called
// after throwing an instance of 'Napi::Error'` and a stale run lock), racing the shutdown of its
// loader workers. Now, with `quirks: fixed`, every run ends the same way: exit 1, the message,
// no lock left, loader workers shut down; run 20 times with loader workers busy. With
// `quirks: reference` the original's behaviour: the NaN loss becomes a validation loss of inf,
// early stopping ends the run, and a sweep trial completes with value inf.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSyntheticDataset } from '../../src/data/synthetic.js';
import { openStorage } from '../../src/sweep/open-storage.js';
import { parseJson } from '../../src/util/json.js';
import { hashTree, tinyModelFlags, tvs, tvsStart } from './cli-harness.js';
import { cli, tinyModel, tinySweepSetup } from './sweep-helpers.js';

let tmp: string;
let ds: string;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-nan-'));
  ds = path.join(tmp, 'ds');
  // 8 training images in batches of 1: two loader workers are decoding ahead when step 2 diverges.
  await generateSyntheticDataset('ultrasound', ds, { size: 32, counts: { train: 8, val: 2, test: 2 }, seed: 2 });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const nanArgs = (name: string, quirks: 'fixed' | 'reference', progress = 'none'): string[] => [
  'train',
  '--dataset',
  ds,
  '--name',
  name,
  '--runs-dir',
  path.join(tmp, 'runs'),
  ...tinyModelFlags,
  '--model',
  `quirks=${quirks}`,
  '--image-size',
  '32',
  '--loader-threads',
  '2',
  '--batch-size',
  '1',
  '--effective-batch-size',
  '1',
  '--min-epochs',
  '1',
  '--max-epochs',
  '2',
  '--progress',
  progress,
  '--lr',
  '1e30',
];

test('quirks fixed: a NaN loss ends every one of 20 runs with exit 1 and the message; no lock left, no native abort', async () => {
  const dataBefore = hashTree(ds);
  // Two runs at a time (two lanes of 10): more contention, more thread timings, half the wall time.
  const lane = async (l: number): Promise<void> => {
    for (let i = l; i < 20; i += 2) {
      const name = `nan-${i}`;
      const r = await tvsStart(nanArgs(name, 'fixed')).done;
      const where = `run ${i}: exit ${String(r.status)} (signal ${String(r.signal)})\n${r.all.slice(-2000)}`;
      assert.equal(r.status, 1, where);
      assert.match(r.stderr, /tunevlseg: non-finite (loss|gradient norm) \([^)]*\) at epoch 1, step \d+ .*No update was applied/, where);
      assert.match(
        r.stderr,
        new RegExp(
          `The run folder keeps the last good checkpoint: ${path.join(tmp, 'runs', name).replaceAll('/', '\\/')}\\/checkpoints\\/last\\.safetensors`,
        ),
        where,
      );
      assert.doesNotMatch(r.all, /terminate called|Napi::Error|Aborted/, where);
      assert.equal(existsSync(path.join(tmp, 'runs', `.${name}.lock`)), false, `${where}\nthe run lock was released`);
    }
  };
  await Promise.all([lane(0), lane(1)]);
  assert.deepEqual(hashTree(ds), dataBefore, 'the dataset is untouched');
});

test('quirks reference: a NaN loss becomes a validation loss of inf and early stopping ends the run as in the original; train still exits 1 saying it diverged', () => {
  const r = tvs(nanArgs('nan-ref', 'reference', 'lines'));
  assert.equal(r.status, 1, r.all.slice(-3000));
  assert.match(
    r.all,
    /non-finite loss \(NaN\) at epoch 1, step \d+ \(global step \d+\): validation loss recorded as inf and early stopping ended the run \(quirks: reference/,
  );
  assert.match(r.all, /error: training diverged: .*summary: .*nan-ref.summary\.json/);
  assert.doesNotMatch(r.all, /terminate called|Napi::Error|Aborted/);
  const summary = parseJson<{ stopReason: string; diverged?: string; epochs: number; lastEpoch: { valLoss: number } }>(
    readFileSync(path.join(tmp, 'runs', 'nan-ref', 'summary.json'), 'utf8'),
  );
  assert.match(summary.diverged ?? '', /^non-finite loss \(NaN\)/);
  assert.equal(summary.stopReason, 'early_stopping');
  assert.equal(summary.epochs, 1);
  assert.equal(summary.lastEpoch.valLoss, Infinity);
  assert.equal(existsSync(path.join(tmp, 'runs', '.nan-ref.lock')), false);
});

for (const quirks of ['reference', 'fixed'] as const) {
  test(`a sweep trial whose loss becomes NaN: ${quirks === 'reference' ? 'completes with value inf (the original: Optuna gets val_loss inf)' : 'fails with the message'}`, async () => {
    const dir = mkdtempSync(path.join(tmp, `sweep-${quirks}-`));
    const { data, config } = await tinySweepSetup(dir, {
      model: { tokenizer: path.join(path.dirname(tinyModel()), 'tokenizer'), imageSize: 64, quirks },
    });
    const storage = `sqlite:${path.join(dir, 'studies.db')}`;
    const base = [
      '--dataset',
      data,
      '--model',
      tinyModel(),
      '--learner',
      'vpt',
      '--study',
      'nan',
      '--storage',
      storage,
      '-c',
      config,
      '--runs-dir',
      path.join(dir, 'runs'),
      '--quiet',
    ];
    const first = cli(['sweep', ...base, '--trials', '1'], dir);
    assert.equal(first.status, 0, first.stderr);
    // A second trial with the first's parameters but a learning rate that diverges at once.
    const s = await openStorage(storage, { create: false });
    try {
      const study = (await s.loadStudy('nan'))!;
      const [t0] = await s.getTrials(study.id);
      await s.enqueueTrial(study.id, { ...t0!.params, lr: 1e30 });
    } finally {
      await s.close();
    }
    const more = cli(['worker', '--storage', storage, '--study', 'nan', '--trials', '2', '--quiet'], dir);
    const s2 = await openStorage(storage, { create: false });
    try {
      const study = (await s2.loadStudy('nan'))!;
      const t1 = (await s2.getTrials(study.id))[1]!;
      assert.equal(t1.params?.['lr'], 1e30);
      if (quirks === 'reference') {
        assert.equal(more.status, 0, more.stderr);
        assert.equal(t1.state, 'complete');
        assert.equal(t1.value, Infinity);
      } else {
        assert.equal(more.status, 0, more.stderr); // trial 0 completed
        assert.equal(t1.state, 'failed');
        assert.match(t1.error ?? '', /NonFiniteLossError: non-finite (loss|gradient norm|validation loss)/);
        assert.match(more.stderr, /trial 1 failed: NonFiniteLossError/);
      }
    } finally {
      await s2.close();
    }
  });
}
