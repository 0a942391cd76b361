// `tunevlseg train` under a careless user: --overwrite with a bad model, two processes on one
// run, stale locks, masks of the wrong size or with 0/1 values, unusable runs folders, a start
// that fails after the run folder was made, Ctrl-C twice. Each case: the exit code, a message
// naming the run/file/key, and no earlier run or input changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { hashTree, makeDataset, quickTrainFlags, tinyModel, tinyModelFlags, tvs, tvsStart, waitFor } from './cli-harness.js';

let tmp: string;
let ds: string;
let runs: string;
let finished: string;

const trainArgs = (name: string, extra: string[] = [], data = ds): string[] => [
  'train',
  '--dataset',
  data,
  '--name',
  name,
  '--runs-dir',
  runs,
  ...quickTrainFlags,
  ...tinyModelFlags,
  ...extra,
];

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-train-'));
  ds = await makeDataset(path.join(tmp, 'ds'));
  runs = path.join(tmp, 'runs');
  const r = tvs(trainArgs('done'));
  assert.equal(r.status, 0, r.all);
  finished = path.join(runs, 'done');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('train --overwrite with a mistyped --model key or a missing model folder keeps the finished run', () => {
  const before = hashTree(finished);
  const typo = tvs([
    'train',
    '--dataset',
    ds,
    '--name',
    'done',
    '--runs-dir',
    runs,
    ...quickTrainFlags,
    '--model',
    tinyModel,
    '--model',
    'learnr=coop',
    '--overwrite',
  ]);
  assert.equal(typo.status, 1, typo.all);
  assert.match(typo.stderr, /unknown key "learnr" \(did you mean "learner"\?\)/);
  const missing = tvs([
    'train',
    '--dataset',
    ds,
    '--name',
    'done',
    '--runs-dir',
    runs,
    ...quickTrainFlags,
    '--model',
    path.join(tmp, 'no-such-model'),
    '--overwrite',
  ]);
  assert.equal(missing.status, 1, missing.all);
  assert.match(missing.stderr, /no-such-model/);
  assert.deepEqual(hashTree(finished), before, 'the finished run is untouched');
  assert.deepEqual(
    readdirSync(runs).filter((n) => n.includes('replaced')),
    [],
    'no moved-aside copy left behind',
  );
});

test('a run folder overlapping the dataset is refused, even with --overwrite', () => {
  const before = hashTree(ds);
  const r = tvs(['train', '--dataset', ds, '--name', 'images', '--runs-dir', ds, ...quickTrainFlags, ...tinyModelFlags, '--overwrite']);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, new RegExp(`overlaps the dataset folder \\(data\\.dir\\) ${ds.replaceAll('/', '\\/')}`));
  assert.deepEqual(hashTree(ds), before);
});

test('a run in use by a live process is refused with its pid; a stale lock of a dead process is taken over', async () => {
  const lock = path.join(runs, '.done.lock');
  const holder = spawn('sleep', ['60']);
  try {
    writeFileSync(lock, JSON.stringify({ pid: holder.pid, host: os.hostname(), started: new Date().toISOString() }));
    const r = tvs(['train', '--resume', finished]);
    assert.equal(r.status, 1, r.all);
    assert.match(
      r.stderr,
      new RegExp(`run ${finished.replaceAll('/', '\\/')} is in use by another tunevlseg process \\(pid ${holder.pid}\\)`),
    );
  } finally {
    holder.kill();
  }
  await new Promise((r) => holder.once('exit', r));
  // The holder is gone: its lock is stale, taken over, and released again at exit.
  const r2 = tvs(['train', '--resume', finished]);
  assert.equal(r2.status, 1, r2.all);
  assert.match(r2.stderr, /already finished/);
  assert.equal(existsSync(lock), false, 'the lock is released');
});

test("two trainings of one run at once: the second fails at once naming the run and the first one's pid", async () => {
  const name = 'busy';
  const first = tvsStart(trainArgs(name, ['--max-epochs', '200', '--min-epochs', '200']));
  const lock = path.join(runs, `.${name}.lock`);
  try {
    await waitFor(() => existsSync(path.join(runs, name, 'checkpoints', 'resume', 'state.safetensors')), 120_000, 'the first run to start');
    const second = tvs(['train', '--resume', path.join(runs, name)]);
    assert.equal(second.status, 1, second.all);
    assert.match(second.stderr, new RegExp(`run .*${name} is in use by another tunevlseg process \\(pid ${first.child.pid}\\)`));
    assert.ok(existsSync(lock));
  } finally {
    first.child.kill('SIGINT');
    await first.done;
  }
  assert.equal(existsSync(lock), false, 'released by the interrupted run');
  // Had the second process gone on, it would have logged a resume into the first one's metrics.
  const metrics = readFileSync(path.join(runs, name, 'metrics.jsonl'), 'utf8');
  assert.doesNotMatch(metrics, /"type":"resume"/);
});

test("train refuses a mask whose size differs from its image's and a 0/1-valued mask, naming both, before making a run folder", async () => {
  const bad = await makeDataset(path.join(tmp, 'bad-masks'));
  const train = JSON.parse(readFileSync(path.join(bad, 'anns', 'train.json'), 'utf8')) as { mask_name: string }[];
  const small = path.join(bad, 'masks', train[0]!.mask_name);
  const ones = path.join(bad, 'masks', train[1]!.mask_name);
  await sharp(Buffer.alloc(16 * 16, 255), { raw: { width: 16, height: 16, channels: 1 } })
    .png()
    .toFile(`${small}.tmp.png`);
  await sharp(Buffer.alloc(32 * 32, 1), { raw: { width: 32, height: 32, channels: 1 } })
    .png()
    .toFile(`${ones}.tmp.png`);
  for (const f of [small, ones]) writeFileSync(f, readFileSync(`${f}.tmp.png`));
  rmSync(`${small}.tmp.png`);
  rmSync(`${ones}.tmp.png`);
  const before = hashTree(bad);
  const r = tvs(trainArgs('bad-masks', [], bad));
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, new RegExp(`mask ${small.replaceAll('/', '\\/')} is 16x16 but its image .* is 32x32`));
  assert.match(r.stderr, new RegExp(`mask ${ones.replaceAll('/', '\\/')}: largest value is 1`));
  assert.equal(existsSync(path.join(runs, 'bad-masks')), false, 'no run folder');
  assert.deepEqual(hashTree(bad), before);
});

test('train --runs-dir under /proc or over a file fails at once, naming the path', () => {
  const proc = tvs(trainArgs('p', ['--runs-dir', '/proc/tvs-no-such-dir']), { timeout: 60_000 });
  assert.equal(proc.signal, null, 'killed by the timeout: train hung on /proc');
  assert.equal(proc.status, 1, proc.all);
  assert.match(proc.stderr, /runs folder \(runsDir\) \/proc\/tvs-no-such-dir/);
  const file = path.join(tmp, 'a-file');
  writeFileSync(file, 'x');
  const onFile = tvs(trainArgs('p', ['--runs-dir', path.join(file, 'runs')]));
  assert.equal(onFile.status, 1, onFile.all);
  assert.match(onFile.stderr, /a-file is not a folder/);
  assert.equal(readFileSync(file, 'utf8'), 'x');
});

test('a start that fails after the run folder was made leaves no stale folder; --overwrite then keeps the old run', () => {
  // cuda:99 exists on no machine: the failure comes after validation, when the folder exists.
  const r = tvs(trainArgs('late-fail', ['--device', 'cuda:99']));
  assert.equal(r.status, 1, r.all);
  assert.equal(existsSync(path.join(runs, 'late-fail')), false, 'the half-made run folder is removed');
  const retry = tvs(trainArgs('late-fail'));
  assert.equal(retry.status, 0, `the retry is not blocked by "already exists": ${retry.all}`);
  const before = hashTree(finished);
  const over = tvs(trainArgs('done', ['--device', 'cuda:99', '--overwrite']));
  assert.equal(over.status, 1, over.all);
  assert.deepEqual(hashTree(finished), before, 'the replaced run is put back');
});

test('Ctrl-C twice right after the start: no folder, or a resumable one', async () => {
  const name = 'ctrl-c';
  const p = tvsStart(trainArgs(name, ['--max-epochs', '50', '--min-epochs', '50']));
  await waitFor(() => existsSync(path.join(runs, name)), 120_000, 'the run folder');
  p.child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 50));
  p.child.kill('SIGINT');
  const r = await p.done;
  assert.ok(r.status === 130 || r.signal === 'SIGINT', r.all);
  const dir = path.join(runs, name);
  assert.ok(
    !existsSync(dir) || existsSync(path.join(dir, 'checkpoints', 'resume', 'state.safetensors')),
    'a run folder that exists can be resumed',
  );
  assert.deepEqual(
    readdirSync(runs).filter((n) => n.includes('replaced') || n.endsWith('.tmp')),
    [],
    'nothing half-made beside it',
  );
});
