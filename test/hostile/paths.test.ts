// Paths and names under a careless user: a run trained with relative paths used from another
// directory, one `--model` spelling in every command, unknown keys with a suggestion, and the
// documented examples using keys that exist.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers.js';
import { checkModelKeys } from '../../src/cli/model-flag.js';
import { hashTree, makeDataset, quickTrainFlags, tinyModel, tinyTokenizer, tvs } from './cli-harness.js';

let tmp: string;
let work: string;
let elsewhere: string;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-paths-'));
  work = path.join(tmp, 'project');
  elsewhere = path.join(tmp, 'elsewhere');
  await makeDataset(path.join(work, 'data', 'us'));
  await makeDataset(path.join(elsewhere, 'placeholder'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('a run trained with relative paths records them absolute: eval works from another directory', () => {
  // Relative data folder and model folder, as a user types them in their project folder.
  const relModel = path.relative(work, tinyModel);
  const r = tvs(
    [
      'train',
      '--dataset',
      'data/us',
      '--name',
      'rel',
      '--runs-dir',
      'runs',
      ...quickTrainFlags,
      '--model',
      relModel,
      '--model',
      `tokenizer=${path.relative(work, tinyTokenizer)}`,
      '--model',
      'learner=coop',
    ],
    { cwd: work },
  );
  assert.equal(r.status, 0, r.all);
  const run = path.join(work, 'runs', 'rel');
  const cfg = JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8')) as {
    data: { dir: string };
    model: { model: string; tokenizer: string };
  };
  assert.equal(cfg.data.dir, path.join(work, 'data', 'us'));
  assert.equal(cfg.model.model, tinyModel);
  assert.equal(cfg.model.tokenizer, tinyTokenizer);
  const before = hashTree(run);
  const e = tvs(['eval', run, '--loader-threads', '0', '--json'], { cwd: elsewhere });
  assert.equal(e.status, 0, e.all);
  assert.equal((JSON.parse(e.stdout.trim().split('\n').pop()!) as { split: string }).split, 'test');
  assert.deepEqual(hashTree(run), before, 'eval changes nothing in the run');
});

test('--model: a base model or key=value in every command; an unknown key lists the valid ones with a suggestion', () => {
  const inspect = tvs([
    'inspect',
    '--model',
    tinyModel,
    '--model',
    'learner=vpt',
    '--model',
    'numContext=3',
    '--model',
    'depth=1',
    '--json',
  ]);
  assert.equal(inspect.status, 0, inspect.all);
  const r = JSON.parse(inspect.stdout) as { learner: string; numContext: number; depth: number };
  assert.deepEqual([r.learner, r.numContext, r.depth], ['vpt', 3, 1]);
  const typo = tvs(['inspect', '--model', tinyModel, '--model', 'numContxt=3']);
  assert.equal(typo.status, 1, typo.all);
  assert.match(typo.stderr, /unknown key "numContxt" \(did you mean "numContext"\?\)\. Valid keys: model, learner/);
  // eval (and train) take the same spelling; the run of the test above is the target.
  const run = path.join(work, 'runs', 'rel');
  const evalTypo = tvs(['eval', run, '--model', 'lerner=vpt', '--loader-threads', '0']);
  assert.equal(evalTypo.status, 1, evalTypo.all);
  assert.match(evalTypo.stderr, /unknown key "lerner" \(did you mean "learner"\?\)/);
  const evalBase = tvs(['eval', run, '--model', tinyModel, '--loader-threads', '0']);
  assert.equal(evalBase.status, 0, evalBase.all);
});

test('docs: every model config key in docs/train.md examples exists', () => {
  const doc = readFileSync(path.join(repoRoot(), 'docs', 'train.md'), 'utf8');
  const models = [...doc.matchAll(/model: \{([^}]*)\}/g)].map((m) => m[1]!);
  assert.ok(models.length > 0, 'the doc has a model example');
  for (const body of models) {
    const keys = [...body.matchAll(/(\w+):/g)].map((m) => m[1]!);
    assert.doesNotThrow(() => checkModelKeys(Object.fromEntries(keys.map((k) => [k, 1]))), `docs/train.md: model { ${body} }`);
  }
  for (const m of doc.matchAll(/--model ([A-Za-z]{2,}\w*)=/g))
    assert.doesNotThrow(() => checkModelKeys({ [m[1]!]: 1 }), `docs/train.md: --model ${m[1]}=`);
});
