// Issue 22, `bench` under a careless user: `--max-epochs 3` below the default minEpochs (10)
// used to fail every trial on the config, exit 0, say the cell "will be retried", and a rerun
// with a fixed config into the same --out did nothing. Now the contradiction is refused before
// anything is written; a cell whose trials all fail makes bench exit 1 with the reason; and the
// rerun really sweeps that cell again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir } from '../helpers.js';
import { cli, tinyModel, tinySweepSetup, treeHashes } from './sweep-helpers.js';

const bench = (dir: string, data: string, config: string, extra: string[] = []) =>
  cli(
    [
      'bench',
      '--models',
      `tiny=${tinyModel()}`,
      '--learners',
      'vpt',
      '--datasets',
      `us=${data}`,
      '--trials',
      '1',
      '--out',
      join(dir, 'bench'),
      '-c',
      config,
      '--max-depth',
      '2',
      '--no-predictions',
      '--no-embeddings',
      '-q',
      ...extra,
    ],
    dir,
  );

test('bench --max-epochs below minEpochs is refused before anything is written, naming the keys', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-bench-'));
  try {
    const { data } = await tinySweepSetup(dir);
    // A config that leaves minEpochs at its default (10).
    const config = join(dir, 'defaults.json');
    writeFileSync(
      config,
      JSON.stringify({
        model: { tokenizer: join(fixturesDir(), 'tokenizer'), imageSize: 64 },
        batchSize: 4,
        effectiveBatchSize: 8,
        data: { workers: 0 },
      }),
    );
    const before = treeHashes(dir);
    const r = bench(dir, data, config, ['--max-epochs', '3']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /the trials' training config \(.*defaults\.json\) is refused before any trial runs: invalid training configuration:\n +config key "minEpochs": must not exceed maxEpochs \(3\), got 10/,
    );
    assert.doesNotMatch(r.stdout + r.stderr, /will be retried/);
    assert.deepEqual(treeHashes(dir), before);
    assert.equal(existsSync(join(dir, 'bench')), false, 'no bench folder was made');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cell whose every trial fails: exit 1 with the cell and the reason; the rerun with a fixed config sweeps it again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-bench-'));
  try {
    const { data } = await tinySweepSetup(dir);
    const bad = join(dir, 'bad.json');
    const good = join(dir, 'good.json');
    const cfg = {
      model: { tokenizer: join(fixturesDir(), 'tokenizer'), imageSize: 64 },
      batchSize: 4,
      effectiveBatchSize: 8,
      minEpochs: 1,
      maxEpochs: 1,
    };
    writeFileSync(bad, JSON.stringify({ ...cfg, data: { workers: 0, promptKey: 'p9' } }));
    writeFileSync(good, JSON.stringify({ ...cfg, data: { workers: 0, promptKey: 'p1' } }));
    const dataBefore = treeHashes(data);
    const first = bench(dir, data, bad);
    assert.equal(first.status, 1, first.stdout + first.stderr);
    assert.match(
      first.stderr,
      /tiny__vpt__us: no trial completed \(\{"waiting":0,"running":0,"complete":0,"pruned":0,"failed":1\}\); the cell stays empty and is swept again by the next `tunevlseg bench` into this folder/,
    );
    assert.match(
      first.stderr,
      /bench: 1 cell\(s\) completed no trial and stay empty[^\n]*:\n +tiny__vpt__us: [^\n]*first failure, trial 0: DatasetError: [^\n]*\n +- [^\n]*has no prompt "p9"/,
    );
    assert.equal(existsSync(join(dir, 'bench', 'cells', 'tiny__vpt__us', 'summary.json')), false);

    const second = bench(dir, data, good);
    assert.equal(second.status, 0, second.stdout + second.stderr);
    assert.ok(existsSync(join(dir, 'bench', 'cells', 'tiny__vpt__us', 'summary.json')), 'the fixed rerun filled the cell');
    assert.deepEqual(treeHashes(data), dataBefore);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
