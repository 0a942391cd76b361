// Issue 15, sweeps under a careless user: a sweep whose trials all fail, a rerun of the same
// automatic study, a depth range deeper than the model, and reading a study without storage.
// Each test checks the exit code, a message naming the study, and that nothing written before
// changed (content hashes before and after).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../../src/sweep/open-storage.js';
import { cli, tinySweepArgs, tinySweepSetup, treeHashes } from './sweep-helpers.js';

const lastJson = (s: string): Record<string, unknown> => JSON.parse(s.trim().split('\n').pop()!) as Record<string, unknown>;

test('a sweep whose every trial fails exits 1, naming the study and the whole first failure reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-sweep-'));
  try {
    // A prompt key the dataset lacks fails every trial when it loads the data, with one line per
    // entry: a reason cut to its first line would lose them all.
    const { data, config } = await tinySweepSetup(dir, { data: { workers: 0, promptKey: 'p9' } });
    const before = treeHashes(dir);
    const r = cli(
      tinySweepArgs({ data, storage: `sqlite:${join(dir, 'studies.db')}`, config, runsDir: join(dir, 'runs'), trials: 2, study: 'doomed' }),
      dir,
    );
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const last = r.stderr.slice(r.stderr.lastIndexOf('tunevlseg: '));
    assert.match(last, /study "doomed": no trial completed \(2 failed\); first failure, trial 0:/);
    assert.match(last, /entry 0: field "prompts": has no prompt "p9"/);
    assert.match(last, /entry 7: field "prompts": has no prompt "p9"/, 'the failure reason is given in full, not its first line only');
    // The summary table gives it in full too.
    assert.match(r.stdout, /trials 0, 1 failed: DatasetError: [^\n]*8 problems\n +- [^\n]*entry 0[^\n]*\n +- [^\n]*entry 1/);
    const after = treeHashes(dir, (rel) => rel.startsWith('studies.db'));
    for (const [f, h] of Object.entries(before)) assert.equal(after[f], h, `${f} changed`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a config no trial can train with is refused before any trial, naming every bad key; nothing is created', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-sweep-'));
  try {
    const { data, config } = await tinySweepSetup(dir, { batchSize: 0, minEpochs: 10 });
    const before = treeHashes(dir);
    // minEpochs (10 by default) above --max-epochs 3 contradicts; batchSize 0 is out of range.
    const r = cli(
      tinySweepArgs(
        { data, storage: `sqlite:${join(dir, 'studies.db')}`, config, runsDir: join(dir, 'runs'), trials: 2, study: 'contradict' },
        '--max-epochs',
        '3',
      ),
      dir,
    );
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`the trials' training config \\(${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) is refused before any trial runs`),
    );
    assert.match(r.stderr, /config key "batchSize": [^\n]*\(from [^\n]*train\.json\)/);
    assert.match(r.stderr, /config key "minEpochs": must not exceed maxEpochs \(3\), got 10/);
    assert.doesNotMatch(r.stdout, /trial 0/);
    assert.deepEqual(treeHashes(dir), before, 'no study database, no runs folder');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rerunning a sweep under the same automatic study name says what it does: nothing, resume, or refuse', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-sweep-'));
  try {
    const { data, config } = await tinySweepSetup(dir);
    const storage = `sqlite:${join(dir, 'studies.db')}`;
    const args = tinySweepArgs({ data, storage, config, runsDir: join(dir, 'runs') });
    const first = cli([...args, '--trials', '1'], dir);
    assert.equal(first.status, 0, first.stderr);
    const study = /^study (\S+) in /m.exec(first.stdout)?.[1];
    assert.ok(study?.endsWith('__vpt__data'), first.stdout);
    const show = (): Record<string, unknown> => lastJson(cli(['study', 'show', study!, '--storage', storage, '--json'], dir).stdout);
    const runsBefore = treeHashes(join(dir, 'runs'));
    const studyBefore = show();

    // Same command again: the study is complete, and the sweep says so instead of silently doing nothing.
    const again = cli([...args, '--trials', '1'], dir);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`study "${study}" already has 1 finished trial\\(s\\) of the 1 asked: nothing to run`));
    assert.deepEqual(treeHashes(join(dir, 'runs')), runsBefore, 'the finished trial folders are untouched');
    assert.deepEqual(show(), studyBefore, 'the study record is untouched');

    // A different training config under the same name is refused before anything runs.
    const other = cli([...args, '--trials', '1', '--max-epochs', '2'], dir);
    assert.equal(other.status, 1);
    assert.match(other.stderr, new RegExp(`study "${study}" already exists with a different training config \\(differs in: maxEpochs\\)`));
    assert.deepEqual(treeHashes(join(dir, 'runs')), runsBefore);
    assert.deepEqual(show(), studyBefore);

    // More trials: it resumes, says how many are left, and keeps trial 0 as it was.
    const more = cli([...args, '--trials', '2'], dir);
    assert.equal(more.status, 0, more.stderr);
    assert.match(more.stdout, new RegExp(`study "${study}" exists: resuming it, 1 of 2 trial\\(s\\) finished, 1 to run`));
    const runsAfter = treeHashes(join(dir, 'runs'));
    for (const [f, h] of Object.entries(runsBefore)) assert.equal(runsAfter[f], h, `${f} changed`);
    assert.equal((show().counts as Record<string, number>).complete, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the default depth range is clamped to a small model's layers, and the sweep says so", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-sweep-'));
  try {
    const { data, config } = await tinySweepSetup(dir);
    const dataBefore = treeHashes(data);
    const storage = `sqlite:${join(dir, 'studies.db')}`;
    // No --max-depth: the original's range (1..11, quirks reference) exceeds the tiny CLIPSeg's 4 layers.
    const r = cli(tinySweepArgs({ data, storage, config, runsDir: join(dir, 'runs'), trials: 1, study: 'shallow' }), dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /prompt depth range 1\.\.11 clamped to 1\.\.4: .*clipseg-tiny takes at most 4 \(min of the text \(4\) and vision \(4\) layers\)/,
    );
    const s = await openStorage(storage, { create: false });
    try {
      const study = (await s.loadStudy('shallow'))!;
      const depth = study.space.params['net.context_learner.prompt_depth']!;
      assert.equal(depth.type === 'int' && depth.high, 4, 'the study records the clamped range');
      const trials = await s.getTrials(study.id);
      assert.deepEqual(
        trials.map((t) => t.state),
        ['complete'],
      );
    } finally {
      await s.close();
    }
    assert.deepEqual(treeHashes(data), dataBefore);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('study show and worker never create storage: without --storage they fail, naming the study and the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-sweep-'));
  try {
    const show = cli(['study', 'show', 'my-study'], dir);
    assert.equal(show.status, 1);
    assert.match(show.stderr, /study "my-study": sqlite:runs\/studies\.db: no study database at .*runs\/studies\.db/);
    const worker = cli(['worker', '--storage', 'sqlite:elsewhere/s.db', '--study', 'w'], dir);
    assert.equal(worker.status, 1);
    assert.match(worker.stderr, /study "w": sqlite:elsewhere\/s\.db: no study database/);
    assert.deepEqual(readdirSync(dir), [], 'nothing was created in the working directory');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
