// A tuned checkpoint used with another learner or another quirks mode than it was trained
// with: `eval` and `predict` refuse it (src/tuning/checkpoint.ts), naming the checkpoint and the
// field, before any prediction is written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashTree, makeDataset, quickTrainFlags, tinyModelFlags, tvs } from './cli-harness.js';

let tmp: string;
let ds: string;
let best: string;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-tuned-'));
  ds = await makeDataset(path.join(tmp, 'ds'));
  const r = tvs(['train', '--dataset', ds, '--name', 'coop', '--runs-dir', path.join(tmp, 'runs'), ...quickTrainFlags, ...tinyModelFlags]);
  assert.equal(r.status, 0, r.all);
  best = path.join(tmp, 'runs', 'coop', 'checkpoints', 'best.safetensors');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

test('eval of a CoOp checkpoint as a VPT model, or in the other quirks mode: refused, naming the checkpoint', () => {
  const before = hashTree(path.join(tmp, 'runs'));
  const learner = tvs([
    'eval',
    best,
    '--dataset',
    ds,
    '--image-size',
    '32',
    '--loader-threads',
    '0',
    '--model',
    'learner=vpt',
    '--out',
    path.join(tmp, 'p1'),
  ]);
  assert.equal(learner.status, 1, learner.all);
  assert.match(learner.stderr, new RegExp(`${quote(best)}: .*learner`));
  const quirks = tvs([
    'eval',
    best,
    '--dataset',
    ds,
    '--image-size',
    '32',
    '--loader-threads',
    '0',
    '--model',
    'quirks=fixed',
    '--out',
    path.join(tmp, 'p2'),
  ]);
  assert.equal(quirks.status, 1, quirks.all);
  assert.match(quirks.stderr, new RegExp(`${quote(best)}: .*quirks`));
  assert.equal(existsSync(path.join(tmp, 'p1')) || existsSync(path.join(tmp, 'p2')), false, 'no predictions written');
  assert.deepEqual(hashTree(path.join(tmp, 'runs')), before);
});

test('predict --tuned with another quirks mode: refused, naming the checkpoint', () => {
  const images = path.join(ds, 'images');
  const before = hashTree(ds);
  const r = tvs(['predict', '--tuned', best, '--model', 'quirks=fixed', '--prompt', 'tumor', '-q', images, '--out', path.join(tmp, 'p3')]);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, new RegExp(`${quote(best)}: .*quirks`));
  assert.equal(existsSync(path.join(tmp, 'p3')), false);
  assert.deepEqual(hashTree(ds), before);
});
