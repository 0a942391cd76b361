/**
 * Reference sweeps are the original's: each learner's space, seed and trial count as its
 * configs/hparams_search/<learner>_optuna.yaml (naamiinepal/tunevlseg @ 7956bcd) gives them
 * through hydra-optuna-sweeper 1.2, and the proposals of Optuna 2.10.1's TPESampler for the same
 * seed and history (test/fixtures/tpe, written by scripts/make-tpe-fixture.py from the real
 * Optuna 2.10.1 with SciPy 1.10.1, and from Debian's Optuna 3.1.0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './helpers.js';
import {
  ORIGINAL_SETTINGS,
  openStorage,
  parseSpace,
  randomValue,
  runStudy,
  sampleForTrial,
  tpeOptionsFromSettings,
  type Params,
  type TrialObservation,
} from '../src/sweep/index.js';
import { originalSpace } from '../src/experiment/spaces.js';
import { MT19937 } from '../src/sweep/random.js';
import { planReport, planSweep } from '../src/experiment/sweep-plan.js';
import { trialConfig } from '../src/experiment/trial.js';
import { LEARNER_NAMES, learnerEntry } from '../src/learners/registry.js';
import { configTargetOf } from '../src/learners/param-names.js';
import type { LearnerName } from '../src/learners/types.js';

interface Fixture {
  optuna: string;
  cases: { learner: LearnerName; seed: number; names: string[]; trials: { params: (number | boolean)[]; value: number }[] }[];
}
const fixture = (version: string): Fixture =>
  JSON.parse(readFileSync(join(repoRoot(), 'test', 'fixtures', 'tpe', `optuna-${version}.json`), 'utf8')) as Fixture;

/**
 * Replays a fixture case through `sampleForTrial` as a study does (each trial sees the earlier
 * ones, with their seq): our proposals must equal Optuna's, parameter by parameter.
 */
function replay(c: Fixture['cases'][number], version: '2.10' | '3.1'): number {
  const space = originalSpace(c.learner)!;
  assert.deepEqual(Object.keys(space.params), c.names, `${c.learner}: parameter names and order`);
  const opts = { ...tpeOptionsFromSettings({ ...ORIGINAL_SETTINGS, optunaVersion: version }), direction: 'minimize' as const };
  const history: TrialObservation[] = [];
  let worst = 0;
  c.trials.forEach((t, seq) => {
    const p = sampleForTrial(space, history, { ...opts, seed: c.seed, seq });
    c.names.forEach((name, k) => {
      const e = t.params[k]!;
      const where = `Optuna ${version} ${c.learner} seed ${c.seed} trial ${seq} ${name}`;
      if (typeof e === 'number' && !Number.isInteger(e)) {
        const err = Math.abs((p[name] as number) - e) / Math.max(1, Math.abs(e));
        worst = Math.max(worst, err);
        assert.ok(err <= 1e-9, `${where}: ${String(p[name])} vs ${e}`);
      } else assert.equal(p[name], e, where);
    });
    history.push({ params: p, state: 'complete', value: t.value, seq });
  });
  return worst;
}

test("the original's sweeps propose what Optuna 2.10.1 proposed (six learners, their yaml seeds, 20 and 40 trials, tied values)", () => {
  const f = fixture('2.10.1');
  assert.equal(f.optuna, '2.10.1');
  assert.deepEqual([...new Set(f.cases.map((c) => c.learner))].sort(), [
    'cocoop',
    'coop',
    'maple',
    'shared_attn',
    'shared_separate',
    'vpt',
  ]);
  for (const c of f.cases) {
    assert.equal(c.seed, learnerEntry(c.learner).originalSweep!.seed, `${c.learner}: the fixture ran the yaml's seed`);
    replay(c, '2.10');
  }
});

test('with optunaVersion 3.1 the same studies propose what Optuna 3.1.0 proposes (it differs from 2.10 from the first TPE trial on)', () => {
  const f210 = fixture('2.10.1');
  const f31 = fixture('3.1.0');
  for (const c of f31.cases) replay(c, '3.1');
  // The two versions agree on the ten random start-up trials and part ways after: the density
  // Optuna 3.0-3.4 give a continuous kernel lacks its -log(sigma) term.
  for (const [i, c] of f31.cases.entries()) {
    const other = f210.cases[i]!;
    assert.deepEqual(
      c.trials.slice(0, 10).map((t) => t.params),
      other.trials.slice(0, 10).map((t) => t.params),
      `${c.learner}: start-up`,
    );
    assert.notDeepEqual(
      c.trials.map((t) => t.params),
      other.trials.map((t) => t.params),
      `${c.learner}: TPE trials`,
    );
  }
});

test('a study run by runStudy on SQLite proposes the Optuna 2.10.1 sequence (streams rebuilt from the stored history)', async () => {
  const c = fixture('2.10.1').cases.find((x) => x.learner === 'cocoop' && x.trials.length === 20)!;
  const dir = mkdtempSync(join(tmpdir(), 'tvs-sweep-ref-'));
  const storage = await openStorage(`sqlite:${join(dir, 'studies.db')}`);
  try {
    const plan = await planSweep({ learner: 'cocoop', model: { model: 'clipseg', randomWeights: true } });
    const seen: Params[] = [];
    await runStudy({
      storage,
      nTrials: plan.nTrials,
      heartbeatIntervalS: 5,
      heartbeatTimeoutS: 60,
      study: { name: 'ref', direction: 'minimize', space: plan.space, seed: plan.seed, sampler: plan.sampler },
      objective: async (params, _report, trial) => {
        seen.push(params);
        return c.trials[trial.seq]!.value;
      },
    });
    assert.equal(seen.length, 20);
    seen.forEach((p, seq) =>
      c.names.forEach((name, k) => {
        const e = c.trials[seq]!.params[k]!;
        if (typeof e === 'number' && !Number.isInteger(e))
          assert.ok(Math.abs((p[name] as number) - e) <= 1e-9 * Math.max(1, Math.abs(e)), `trial ${seq} ${name}`);
        else assert.equal(p[name], e, `trial ${seq} ${name}`);
      }),
    );
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The original's sweep files as written (configs/hparams_search/*_optuna.yaml @ 7956bcd), and
 * what hydra-optuna-sweeper 1.2 makes of each `params` entry; the same sampler block in all six.
 */
const LR = { type: 'float', low: 1e-5, high: 5e-3, step: null, log: true }; // model.optimizer.lr: tag(log, interval(1e-5, 5e-3))
const WD = { type: 'float', low: 1e-5, high: 0.01, step: null, log: true }; // model.weight_decay: tag(log, interval(1e-5, 0.01))
const DEPTH = { type: 'int', low: 1, high: 11, step: 1, log: false }; // model.net.context_learner.prompt_depth: range(1, 11)
const YAML: Record<string, { seed: number; own: Record<string, unknown> }> = {
  coop: { seed: 12345, own: {} },
  cocoop: {
    seed: 1234,
    own: {
      'net.context_learner.intermediate_dim': { type: 'categorical', choices: [32, 129, 32] }, // choice(32, 129, 32)
      'net.context_learner.use_lora_proj': { type: 'categorical', choices: [true, false] }, // choice(true, false)
    },
  },
  vpt: { seed: 1234, own: {} },
  maple: {
    seed: 12345,
    own: {
      'net.context_learner.intermediate_dim': { type: 'int', low: 32, high: 96, step: 32, log: false }, // range(32, 97, 32)
      'net.context_learner.use_lora_proj': { type: 'categorical', choices: [true, false] },
    },
  },
  shared_separate: { seed: 4322, own: { 'net.context_learner.shared_dim': { type: 'categorical', choices: [32, 64] } } },
  shared_attn: {
    seed: 123456,
    own: {
      'net.context_learner.unified_projector.nhead': { type: 'categorical', choices: [16, 20, 32] },
      'net.context_learner.unified_projector.dropout': { type: 'float', low: 0.1, high: 0.55, step: null, log: false }, // interval(0.1, 0.55)
      'net.context_learner.unified_projector.dim_feedforward': { type: 'categorical', choices: [1280, 1420] },
      'net.context_learner.unified_projector.norm_first': { type: 'categorical', choices: [true, false] },
    },
  },
};

test("--print-space gives each learner's original distributions, sampler settings, seed and n_trials", async () => {
  for (const [learner, y] of Object.entries(YAML)) {
    const r = planReport(await planSweep({ learner, model: { model: 'clipseg', randomWeights: true } }));
    const { settings, ...sampler } = r.sampler;
    assert.deepEqual(r.space, { 'optimizer.lr': LR, weight_decay: WD, 'net.context_learner.prompt_depth': DEPTH, ...y.own }, learner);
    assert.deepEqual(
      Object.keys(r.space),
      ['optimizer.lr', 'weight_decay', 'net.context_learner.prompt_depth', ...Object.keys(y.own)],
      `${learner}: the file's order`,
    );
    assert.deepEqual(
      sampler,
      {
        name: 'optuna.samplers.TPESampler',
        seed: y.seed,
        n_startup_trials: 10,
        multivariate: true,
        consider_magic_clip: true,
        consider_prior: true,
        prior_weight: 1.0,
      },
      learner,
    );
    assert.equal((settings as { optunaVersion?: string }).optunaVersion, '2.10');
    assert.equal(r.n_trials, 20);
  }
});

test("sweep --print-space prints one JSON object and exits; quirks fixed and --sampler choose ours or the original's", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-print-space-'));
  try {
    const bin = join(repoRoot(), 'bin', 'tunevlseg.js');
    const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
      spawnSync(process.execPath, [bin, 'sweep', '--dataset', join(dir, 'data'), ...args, '--print-space'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
      });
    writeFileSync(join(dir, 'ref.yaml'), 'model: {randomWeights: true}\n');
    writeFileSync(join(dir, 'fixed.yaml'), 'model: {randomWeights: true, quirks: fixed}\n');
    const ref = run(['--model', 'clipseg', '--learner', 'shared_attn', '-c', join(dir, 'ref.yaml')]);
    assert.equal(ref.status, 0, ref.stderr);
    const lines = ref.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'one line on stdout');
    const r = JSON.parse(lines[0]!) as ReturnType<typeof planReport>;
    assert.deepEqual(Object.keys(r), ['space', 'sampler', 'n_trials']);
    assert.equal(r.sampler.seed, 123456);
    assert.deepEqual(r.space['net.context_learner.prompt_depth'], DEPTH);

    const fixed = JSON.parse(run(['--model', 'clipseg', '--learner', 'maple', '-c', join(dir, 'fixed.yaml')]).stdout) as ReturnType<
      typeof planReport
    >;
    assert.equal(fixed.sampler.name, 'tunevlseg.TPESampler');
    assert.equal(fixed.sampler.seed, 0);
    assert.equal(fixed.sampler.consider_magic_clip, false);
    assert.deepEqual(Object.keys(fixed.space), ['lr', 'weight_decay', 'prompt_depth', 'intermediate_dim', 'use_lora_proj']);
    assert.equal((fixed.space.prompt_depth as { high: number }).high, 10);
    const chosen = JSON.parse(
      run(['--model', 'clipseg', '--learner', 'maple', '-c', join(dir, 'fixed.yaml'), '--sampler', 'optuna', '--seed', '7']).stdout,
    ) as ReturnType<typeof planReport>;
    assert.equal(chosen.sampler.name, 'optuna.samplers.TPESampler');
    assert.equal(chosen.sampler.seed, 7);
    // a small model caps the depth (CRIS tiny: 3 text blocks), and says so on stderr
    const tiny = run(['--model', 'cris-tiny', '--learner', 'coop', '-c', join(dir, 'ref.yaml'), '--trials', '30']);
    assert.equal(tiny.status, 0, tiny.stderr);
    const t = JSON.parse(tiny.stdout) as ReturnType<typeof planReport>;
    assert.equal((t.space['net.context_learner.prompt_depth'] as { high: number }).high, 3);
    assert.equal(t.n_trials, 30);
    assert.match(tiny.stderr, /prompt depth range 1\.\.11 clamped to 1\.\.3/);
    const bad = run(['--model', 'clipseg', '--learner', 'coop', '-c', join(dir, 'ref.yaml'), '--sampler', 'hyperopt']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--sampler <s>' argument 'hyperopt' is invalid\. expected auto \| optuna \| tunevlseg, got "hyperopt"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('range(1, 11) includes 11 and choice(32, 129, 32) draws 32 two times in three at random start-up', () => {
  const space = parseSpace(JSON.parse(JSON.stringify(originalSpace('cocoop'))));
  const rng = new MT19937(0);
  const depths = new Set<number>();
  let n32 = 0;
  const N = 3000;
  for (let i = 0; i < N; i++) {
    depths.add(randomValue(space.params['net.context_learner.prompt_depth']!, rng) as number);
    if (randomValue(space.params['net.context_learner.intermediate_dim']!, rng) === 32) n32++;
  }
  assert.deepEqual(
    [...depths].sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  );
  assert.ok(Math.abs(n32 / N - 2 / 3) < 0.03, `32 drawn ${n32} of ${N}`);
});

test("the original's parameter names set our config keys when a trial runs (one table)", () => {
  const cfg = trialConfig(
    { data: { dir: '/d' }, model: { model: 'x', learner: 'shared_attn' } } as never,
    {
      'optimizer.lr': 1e-3,
      weight_decay: 1e-4,
      'net.context_learner.prompt_depth': 11,
      'net.context_learner.unified_projector.nhead': 20,
      'net.context_learner.unified_projector.dropout': 0.3,
      'net.context_learner.unified_projector.dim_feedforward': 1420,
      'net.context_learner.unified_projector.norm_first': false,
    },
    { name: 'st', id: 1, createdAt: 0 },
    1,
  );
  assert.equal(cfg.lr, 1e-3);
  assert.equal(cfg.weightDecay, 1e-4);
  assert.deepEqual(cfg.model, {
    model: 'x',
    learner: 'shared_attn',
    depth: 11,
    heads: 20,
    dropout: 0.3,
    feedforward: 1420,
    normFirst: false,
  });
  const maple = trialConfig(
    { data: { dir: '/d' }, model: {} } as never,
    { 'net.context_learner.intermediate_dim': 96, 'net.context_learner.use_lora_proj': true },
    { name: 's', id: 1, createdAt: 0 },
    0,
  );
  assert.deepEqual(maple.model, { intermediateDim: 96, useLoraProj: true });
  assert.equal(configTargetOf('net.context_learner.nhead'), undefined, 'projector keys only under unified_projector');
  assert.equal(configTargetOf('net.bogus'), undefined);
  // Every registered learner's original sweep names parameters that set a training key or one of its options.
  for (const name of LEARNER_NAMES) {
    const e = learnerEntry(name);
    for (const k of Object.keys(e.originalSweep?.params ?? {})) {
      const t = configTargetOf(k);
      assert.ok(
        t && (t.scope === 'train' || t.key in e.schema.shape),
        `${name}: original sweep parameter "${k}" sets nothing (src/learners/param-names.ts)`,
      );
    }
  }
});
