// `tunevlseg predict` under a careless user: outputs over inputs, outputs inside the input
// folder, two inputs with one output name, a FIFO, a foreign file in --out, temp copies.
// Each case: the exit code, a message naming the file, and every input unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { hashTree, makeDataset, tinyModel, tinyTokenizer, tvs } from './cli-harness.js';

let tmp: string;
let images: string;
const model = ['--model', tinyModel, '--tokenizer', tinyTokenizer, '--prompt', 'tumor', '-q'];

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-predict-'));
  const ds = await makeDataset(path.join(tmp, 'ds'));
  images = path.join(tmp, 'imgs');
  mkdirSync(images);
  const src = readdirSync(path.join(ds, 'images')).sort();
  copyFileSync(path.join(ds, 'images', src[0]!), path.join(images, 'x.png'));
  copyFileSync(path.join(ds, 'images', src[1]!), path.join(images, 'y.png'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('predict dir/x.png --out dir: refused, x.png untouched', () => {
  const before = hashTree(images);
  const r = tvs(['predict', ...model, path.join(images, 'x.png'), '--out', images]);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, /x\.png would overwrite the input .*x\.png/);
  assert.deepEqual(hashTree(images), before);
});

test('predict dir --out dir/sub: refused (output inside the input folder), nothing written', () => {
  const before = hashTree(images);
  const r = tvs(['predict', ...model, images, '--out', path.join(images, 'pred')]);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, /would be written inside the input folder/);
  assert.match(r.stderr, new RegExp(images.replaceAll('/', '\\/')));
  assert.deepEqual(hashTree(images), before);
  assert.equal(existsSync(path.join(images, 'pred')), false);
});

test('predict on a folder holding b.jpg and b.png: refused, naming both', () => {
  const dir = path.join(tmp, 'same-stem');
  mkdirSync(dir);
  copyFileSync(path.join(images, 'x.png'), path.join(dir, 'b.png'));
  execFileSync(process.execPath, [
    '-e',
    `require('sharp')(${JSON.stringify(path.join(dir, 'b.png'))}).jpeg().toFile(${JSON.stringify(path.join(dir, 'b.jpg'))})`,
  ]);
  const out = path.join(tmp, 'same-stem-out');
  const before = hashTree(dir);
  const r = tvs(['predict', ...model, dir, '--out', out]);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, /b\.jpg and b\.png would both write .*b\.png/);
  assert.deepEqual(hashTree(dir), before);
  assert.equal(existsSync(out), false, 'nothing written');
});

test('predict on a FIFO: refused at once instead of blocking', () => {
  const fifo = path.join(tmp, 'pipe.png');
  execFileSync('mkfifo', [fifo]);
  const r = tvs(['predict', ...model, fifo, '--out', path.join(tmp, 'fifo-out')], { timeout: 60_000 });
  assert.equal(r.signal, null, 'killed by the timeout: predict blocked on the FIFO');
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, /pipe\.png is not a regular file/);
});

test("a failing predict leaves no temporary copies and names the user's file", () => {
  const tmpdir = mkdtempSync(path.join(tmp, 'tmpdir-'));
  const bad = path.join(tmp, 'broken.png');
  writeFileSync(bad, 'not a png at all');
  const r = tvs(['predict', ...model, path.join(images, 'x.png'), bad, '--out', path.join(tmp, 'broken-out')], { env: { TMPDIR: tmpdir } });
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, new RegExp(`${bad.replaceAll('/', '\\/')}`), 'the error names the file as given');
  assert.doesNotMatch(r.stderr, /tvs-predict-/);
  assert.deepEqual(readdirSync(tmpdir), [], 'nothing left in the temp folder');
});

test("predict into a folder with a foreign file of an output's name: refused; its own earlier outputs are replaced", () => {
  const out = path.join(tmp, 'out-foreign');
  mkdirSync(out);
  writeFileSync(path.join(out, 'x.png'), 'my precious file');
  const before = hashTree(out);
  const r = tvs(['predict', ...model, path.join(images, 'x.png'), '--out', out]);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, /x\.png exists and was not written by an earlier prediction/);
  assert.deepEqual(hashTree(out), before);
  // A folder predict wrote itself can be predicted into again.
  const own = path.join(tmp, 'out-own');
  assert.equal(tvs(['predict', ...model, path.join(images, 'x.png'), '--out', own]).status, 0);
  const r2 = tvs(['predict', ...model, path.join(images, 'x.png'), '--out', own]);
  assert.equal(r2.status, 0, r2.all);
  assert.deepEqual(Object.keys(hashTree(own)).sort(), ['predictions.json', 'x.png', 'x_overlay.png', 'x_prob.png']);
});

test('predict --model with a mistyped key: the valid keys and a "did you mean"', () => {
  const r = tvs([
    'predict',
    '--model',
    tinyModel,
    '--model',
    'imagesize=32',
    '--prompt',
    'tumor',
    path.join(images, 'x.png'),
    '--out',
    path.join(tmp, 'typo'),
  ]);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, /unknown key "imagesize" \(did you mean "imageSize"\?\)/);
  assert.match(r.stderr, /Valid keys: .*learner/);
  assert.equal(existsSync(path.join(tmp, 'typo')), false);
});
