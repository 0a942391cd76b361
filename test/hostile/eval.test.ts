// `tunevlseg eval` under a careless user: predictions or scores aimed into the dataset folder
// (over the ground-truth masks or the split files). Each case: the exit code, a message naming
// the folder, and the dataset unchanged (hash before and after).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashTree, makeDataset, quickTrainFlags, tinyModelFlags, tvs } from './cli-harness.js';

let tmp: string;
let ds: string;
let run: string;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-eval-'));
  ds = await makeDataset(path.join(tmp, 'ds'));
  const r = tvs(['train', '--dataset', ds, '--name', 'r', '--runs-dir', path.join(tmp, 'runs'), ...quickTrainFlags, ...tinyModelFlags]);
  assert.equal(r.status, 0, r.all);
  run = path.join(tmp, 'runs', 'r');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

test('eval --out <dataset>/masks is refused: the ground truth stays as it was', () => {
  const before = hashTree(ds);
  const r = tvs(['eval', run, '--dataset', ds, '--out', path.join(ds, 'masks'), '--loader-threads', '0']);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, new RegExp(`would be written inside the dataset folder ${quote(ds)}`));
  assert.deepEqual(hashTree(ds), before);
});

test('eval --results over a split file or inside the dataset is refused before anything runs', () => {
  const before = hashTree(ds);
  const split = tvs(['eval', run, '--results', path.join(ds, 'anns', 'test.json'), '--loader-threads', '0']);
  assert.equal(split.status, 1, split.all);
  assert.match(
    split.stderr,
    new RegExp(`eval --results: the output ${quote(path.join(ds, 'anns', 'test.json'))} would be written inside the dataset folder`),
  );
  const checkpoint = tvs([
    'eval',
    run,
    '--dataset',
    ds,
    '--results',
    path.join(run, 'checkpoints', 'best.safetensors'),
    '--loader-threads',
    '0',
  ]);
  assert.equal(checkpoint.status, 1, checkpoint.all);
  assert.match(checkpoint.stderr, /would overwrite the input .*best\.safetensors/);
  assert.deepEqual(hashTree(ds), before);
  assert.ok(existsSync(path.join(run, 'checkpoints', 'best.safetensors')));
});

test('eval --images <folder> --out inside that folder is refused', () => {
  const images = path.join(ds, 'images');
  const before = hashTree(ds);
  const r = tvs(['eval', run, '--images', images, '--prompt', 'tumor', '--out', path.join(images, 'pred'), '--loader-threads', '0']);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, new RegExp(`inside the input folder ${quote(images)}`));
  assert.deepEqual(hashTree(ds), before);
});
