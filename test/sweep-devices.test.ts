// `sweep --devices` / `worker --device`: one worker process per device on one study storage.
// No GPU here: two CPU "devices" (two processes) share a SQLite study.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, fixturesDir } from './helpers.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { parseDevices } from '../src/experiment/worker.js';

const bin = join(repoRoot(), 'bin', 'tunevlseg.js');
const run = (args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, TUNEVLSEG_THREADS: '1' }, timeout: 300_000 });

test('--devices: a list, repeated devices, or all CUDA devices; bad names and missing devices refused', () => {
  assert.deepEqual(parseDevices('cuda:0,cuda:1', 2), ['cuda:0', 'cuda:1']);
  assert.deepEqual(parseDevices('cpu, cpu', 0), ['cpu', 'cpu']);
  assert.deepEqual(parseDevices('all', 3), ['cuda:0', 'cuda:1', 'cuda:2']);
  assert.throws(() => parseDevices('all', 0), /sees no CUDA device/);
  assert.throws(() => parseDevices('cuda:2', 2), /cuda:2 does not exist \(libtorch sees 2 CUDA device\(s\)\)/);
  assert.throws(() => parseDevices('gpu0', 1), /"gpu0" is not a device/);
  assert.throws(() => parseDevices(',', 1), /expected a list/);
});

test('sweep --devices cpu,cpu runs one worker process per device on one SQLite study', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-sweep-devices-'));
  try {
    await generateSyntheticDataset('ultrasound', join(dir, 'data'), { size: 64, counts: { train: 8, val: 4, test: 4 }, seed: 1 });
    const cfg = join(dir, 'train.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        model: { tokenizer: join(fixturesDir(), 'tokenizer'), imageSize: 64 },
        batchSize: 4,
        effectiveBatchSize: 8,
        minEpochs: 1,
        maxEpochs: 1,
        data: { workers: 0, promptKey: 'p1' },
      }),
    );
    const storage = `sqlite:${join(dir, 'studies.db')}`;
    const common = [
      '--dataset',
      join(dir, 'data'),
      '--model',
      join(fixturesDir(), 'clipseg-tiny'),
      '--learner',
      'vpt',
      '--storage',
      storage,
      '--max-depth',
      '2',
      '-c',
      cfg,
      '--runs-dir',
      join(dir, 'runs'),
      '--quiet',
    ];
    const both = run(['sweep', ...common, '--trials', '2', '--study', 'dup', '--devices', 'cpu,cpu', '--workers', '2'], dir);
    assert.equal(both.status, 1);
    assert.match(both.stderr, /give --devices or --workers, not both/);

    const r = run(['sweep', ...common, '--trials', '4', '--study', 'dev', '--devices', 'cpu,cpu'], dir);
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stdout, /4 trials, 2 worker\(s\)/);
    const show = run(['study', 'show', 'dev', '--storage', storage, '--json'], dir);
    const s = JSON.parse(show.stdout.trim().split('\n').pop()!) as {
      counts: Record<string, number>;
      trials: { attrs: { runDir: string } }[];
    };
    assert.equal(s.counts.complete, 4);
    // every trial trained on the device its worker was given
    for (const t of s.trials)
      assert.equal((JSON.parse(readFileSync(join(t.attrs.runDir, 'config.json'), 'utf8')) as { device: string }).device, 'cpu');
    // both processes took part: their ids name the device
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dir, 'studies.db'), { readonly: true });
    try {
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[]).map((x) => x.name);
      const trials = tables.find((n) => /trials$/.test(n))!;
      const ids = new Set((db.prepare(`SELECT worker_id FROM ${trials}`).all() as { worker_id: string }[]).map((x) => x.worker_id));
      assert.deepEqual([...ids].sort(), ['local-0-cpu', 'local-1-cpu']);
    } finally {
      db.close();
    }
    const bad = run(['worker', '--storage', storage, '--study', 'dev', '--device', 'tpu'], dir);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--device: "tpu" is not a device/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
