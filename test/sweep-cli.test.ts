// `tunevlseg sweep` / `study show` end to end: a real (tiny) CLIPSeg + VPT on a synthetic
// dataset, three one-epoch trials in a SQLite study.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, fixturesDir } from './helpers.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { studyRunsFolder, trialConfig, sweepSpace } from '../src/experiment/trial.js';

const bin = join(repoRoot(), 'bin', 'tunevlseg.js');
const run = (args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, TUNEVLSEG_THREADS: '1' }, timeout: 300_000 });

test('trialConfig maps sampled parameters onto training and model keys', () => {
  const cfg = trialConfig(
    { data: { dir: '/d' }, model: { model: 'x', learner: 'shared_attn' } } as never,
    { lr: 1e-3, weight_decay: 1e-4, prompt_depth: 3, nhead: 16, dim_feedforward: 1280, dropout: 0.2, norm_first: true },
    { name: 'st', id: 1, createdAt: 5 },
    7,
  );
  assert.equal(cfg.lr, 1e-3);
  assert.equal(cfg.weightDecay, 1e-4);
  assert.deepEqual(cfg.model, {
    model: 'x',
    learner: 'shared_attn',
    depth: 3,
    heads: 16,
    feedforward: 1280,
    dropout: 0.2,
    normFirst: true,
  });
  assert.equal(cfg.name, 'trial-007');
  // Trial folders are the study's own: the same name in another storage (another id or creation time) gets another folder.
  assert.match(cfg.runsDir!, /^runs\/st-[0-9a-f]{8}$/);
  assert.equal(cfg.runsDir, join('runs', studyRunsFolder({ name: 'st', id: 1, createdAt: 5 })));
  assert.notEqual(studyRunsFolder({ name: 'st', id: 1, createdAt: 6 }), studyRunsFolder({ name: 'st', id: 1, createdAt: 5 }));
  assert.notEqual(studyRunsFolder({ name: 'st', id: 2, createdAt: 5 }), studyRunsFolder({ name: 'st', id: 1, createdAt: 5 }));
  assert.throws(
    () => studyRunsFolder({ name: '../../victim', id: 1, createdAt: 5 }),
    /study name "..\/..\/victim" contains a path separator/,
  );
  assert.throws(
    () => trialConfig({ data: { dir: '/d' } } as never, { bogus: 1 }, { name: 's', id: 1, createdAt: 0 }, 0),
    /no config key for parameter "bogus"/,
  );
  const sp = sweepSpace('vpt', 3).params.prompt_depth!;
  assert.equal(sp.type === 'int' && sp.high, 3);
});

test('sweep runs trials into a SQLite study; study show reports them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-sweep-cli-'));
  try {
    await generateSyntheticDataset('ultrasound', join(dir, 'data'), { size: 64, counts: { train: 8, val: 4, test: 4 }, seed: 1 });
    const cfg = join(dir, 'train.json');
    const { writeFileSync } = await import('node:fs');
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
    const r = run(
      [
        'sweep',
        '--dataset',
        join(dir, 'data'),
        '--model',
        join(fixturesDir(), 'clipseg-tiny'),
        '--learner',
        'vpt',
        '--trials',
        '3',
        '--storage',
        storage,
        '--study',
        'tiny',
        '--max-depth',
        '3',
        '-c',
        cfg,
        '--runs-dir',
        join(dir, 'runs'),
        '--quiet',
      ],
      dir,
    );
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stdout, /best: trial \d+/);
    const show = run(['study', 'show', 'tiny', '--storage', storage, '--json'], dir);
    assert.equal(show.status, 0, show.stderr);
    const s = JSON.parse(show.stdout.trim().split('\n').pop()!) as {
      counts: Record<string, number>;
      trials: {
        number: number;
        state: string;
        value: number;
        params: Record<string, number>;
        attrs: { runDir: string; testDice: number };
      }[];
      best: { number: number };
    };
    assert.equal(s.counts.complete, 3);
    for (const t of s.trials) {
      assert.ok(Number.isFinite(t.value));
      // quirks: reference (the default): the original's sweep, under its parameter names
      assert.ok(t.params['optimizer.lr']! >= 1e-5 && t.params['optimizer.lr']! <= 5e-3);
      assert.ok(t.params['net.context_learner.prompt_depth']! >= 1 && t.params['net.context_learner.prompt_depth']! <= 3);
      assert.ok(existsSync(join(t.attrs.runDir, 'summary.json')), 'trial run folder with summary.json');
      assert.ok(t.attrs.testDice >= 0 && t.attrs.testDice <= 1);
    }
    // resuming the study with more trials runs only the missing ones
    const more = run(['worker', '--storage', storage, '--study', 'tiny', '--trials', '4', '--quiet'], dir);
    assert.equal(more.status, 0, more.stderr.slice(-2000));
    const s2 = JSON.parse(run(['study', 'show', 'tiny', '--storage', storage, '--json'], dir).stdout.trim().split('\n').pop()!) as {
      counts: Record<string, number>;
    };
    assert.equal(s2.counts.complete, 4);
    assert.equal(run(['study', 'show', 'nope', '--storage', storage], dir).status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sweep --recipe applies a run script's overrides to every trial and says what it did", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-sweep-recipe-'));
  try {
    await generateSyntheticDataset('ultrasound', join(dir, 'kvasir'), { size: 64, counts: { train: 4, val: 2, test: 2 }, seed: 2 });
    const cfg = join(dir, 'train.json');
    const { writeFileSync, readFileSync } = await import('node:fs');
    writeFileSync(
      cfg,
      JSON.stringify({
        model: { tokenizer: join(fixturesDir(), 'tokenizer'), imageSize: 64 },
        device: 'cpu',
        batchSize: 2,
        effectiveBatchSize: 2,
        minEpochs: 1,
        maxEpochs: 1,
        data: { workers: 0, promptKey: 'p1' },
      }),
    );
    const storage = `sqlite:${join(dir, 'studies.db')}`;
    const r = run(
      [
        'sweep',
        '--dataset',
        join(dir, 'kvasir'),
        '--model',
        join(fixturesDir(), 'clipseg-tiny'),
        '--learner',
        'vpt',
        '--recipe',
        'original-scripts',
        '--trials',
        '1',
        '--storage',
        storage,
        '--study',
        'rec',
        '-c',
        cfg,
        '--runs-dir',
        join(dir, 'runs'),
        '--quiet',
      ],
      dir,
    );
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    // schedule_vpt.sh ran VPT on kvasir_polyp: batch 32, no accumulation, no upsampler; 16-mixed/TF32 are CUDA-only
    assert.match(
      r.stdout,
      /recipe original-scripts: scripts\/schedule_vpt\.sh: batchSize=32, effectiveBatchSize=32, model\.useNewLastLayer=false/,
    );
    assert.match(r.stdout, /on CPU the trials run in float32/);
    const show = JSON.parse(run(['study', 'show', 'rec', '--storage', storage, '--json'], dir).stdout.trim().split('\n').pop()!) as {
      trials: { attrs: { runDir: string } }[];
    };
    const trial = JSON.parse(readFileSync(join(show.trials[0]!.attrs.runDir, 'config.json'), 'utf8')) as {
      batchSize: number;
      effectiveBatchSize: number;
      precision: string;
      model: Record<string, unknown>;
    };
    assert.equal(trial.batchSize, 32);
    assert.equal(trial.effectiveBatchSize, 32);
    assert.equal(trial.precision, '32');
    assert.equal(trial.model.useNewLastLayer, false);
    const bad = run(['sweep', '--dataset', join(dir, 'kvasir'), '--recipe', 'schedule_nope', '--print-space'], dir);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unknown recipe "schedule_nope" \(expected original-scripts, schedule_coop_clipseg/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
