// Prompts the model would not see as written: a word the tokenizer maps to its unknown token,
// and a prompt longer than the text context. Each gets one warning per prompt (not per batch),
// and the run still works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashTree, makeDataset, tinyModel, tinyTokenizer, tvs } from './cli-harness.js';

let tmp: string;
let images: string;
let tokenizer: string;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-prompts-'));
  const ds = await makeDataset(path.join(tmp, 'ds'));
  images = path.join(ds, 'images');
  // The fixture tokenizer without the word "tumor": BPE still merges to "tumor</w>", which the
  // vocabulary no longer has, so it becomes the unknown token.
  tokenizer = path.join(tmp, 'tok');
  mkdirSync(tokenizer);
  for (const f of readdirSync(tinyTokenizer)) copyFileSync(path.join(tinyTokenizer, f), path.join(tokenizer, f));
  const vocab = JSON.parse(readFileSync(path.join(tokenizer, 'vocab.json'), 'utf8')) as Record<string, number>;
  delete vocab['tumor</w>'];
  writeFileSync(path.join(tokenizer, 'vocab.json'), JSON.stringify(vocab));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('an unknown word and a cut prompt are each warned about once, and prediction still runs', () => {
  const long = `tumor ${Array.from({ length: 90 }, () => 'red').join(' ')}`;
  const before = hashTree(images);
  const r = tvs([
    'predict',
    '--model',
    tinyModel,
    '--tokenizer',
    tokenizer,
    '--prompt',
    long,
    '--batch-size',
    '2',
    '-q',
    images,
    '--out',
    path.join(tmp, 'out'),
  ]);
  assert.equal(r.status, 0, r.all);
  const unknown = r.stderr.match(/warning: prompt "tumor red[^"]*": the tokenizer does not know "tumor"/g) ?? [];
  const cut =
    r.stderr.match(
      /warning: prompt "tumor red[^"]*": 9[12] tokens, more than the 75 that fit \(77 positions - BOS\/EOS\): the rest is cut/g,
    ) ?? [];
  assert.equal(unknown.length, 1, r.stderr);
  assert.equal(cut.length, 1, r.stderr);
  assert.deepEqual(hashTree(images), before);
});

test('a prompt that fits and is known gives no warning', () => {
  const r = tvs([
    'predict',
    '--model',
    tinyModel,
    '--tokenizer',
    tinyTokenizer,
    '--prompt',
    'tumor',
    '-q',
    path.join(images, readdirSync(images)[0]!),
    '--out',
    path.join(tmp, 'out2'),
  ]);
  assert.equal(r.status, 0, r.all);
  assert.doesNotMatch(r.stderr, /warning: prompt/);
});
