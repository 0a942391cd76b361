// Adding a learner. First as a built-in: a copy of the built package gets a new learner folder
// (options, class, entry) and one line in the list of built-ins, no other file edited, and the new
// learner reaches `inspect`, the sweep space, the bench grid and the report. Then at run time: a
// throw-away VPT variant registered with `registerLearner` is picked up by `inspect`, the sweep
// space (a real one-trial sweep), the bench grid, the factory's config validation and the report's
// labels and order; removing it forgets it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { z } from 'zod';
import {
  BaseLearner,
  LEARNER_NAMES,
  commonOptions,
  isLearnerName,
  learnerEntry,
  learnersFor,
  registerLearner,
  LearnerConfigError,
  type LearnerEntry,
  type LearnerHost,
  type PromptPair,
} from '../src/learners/index.js';
import { randomVectors } from '../src/learners/base.js';
import { runInspect } from '../src/cli/inspect.js';
import { runSweep as sweep, sweepSpace } from '../src/experiment/index.js';
import { gridCells as benchCells } from '../src/experiment/grid.js';
import { learnerLabel, learnerOrder } from '../src/report/paper.js';
import { openStorage, summarizeStudy } from '../src/sweep/index.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { fixturesDir, repoRoot } from './helpers.js';

const TINY = join(fixturesDir(), 'clipseg-tiny');
const NAME = 'vpt_half';

/** VPT whose prompt tokens enter at half scale: a learner this repository does not have. */
const vptHalfSchema = z.object({ ...commonOptions }).strict();
class VptHalfLearner extends BaseLearner {
  readonly name = NAME;
  readonly usesText = false;
  readonly usesVision = true;
  readonly options: z.output<typeof vptHalfSchema>;
  constructor(options: Record<string, unknown>, host: LearnerHost) {
    const o = vptHalfSchema.parse(options);
    if (host.visionDim === null) throw new LearnerConfigError(`${NAME}: needs a token-based vision encoder`);
    super(randomVectors([o.depth, o.numContext, host.visionDim], o.vectorStd));
    this.options = o;
  }
  prompts(layer: number): PromptPair {
    return { vision: this.ctx(layer).mul(0.5) };
  }
  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}

const ENTRY: LearnerEntry = {
  name: NAME,
  label: 'VPT/2',
  title: 'VPT (half scale)',
  summary: 'VPT prompts at half scale (test learner)',
  schema: vptHalfSchema,
  create: (o, h) => new VptHalfLearner(o, h),
  text: false,
  vision: true,
  models: ['clipseg'],
  referenceClass: 'VPTHalfContextLearner',
  referenceWrappers: { clipseg: 'VPTCLIPSeg' },
  referenceDefaults: {},
  searchRows: { numContext: { type: 'categorical', choices: [2, 3] } },
};

/** A built-in learner's folder as the compiled package holds it: VPT whose prompts enter at half scale. */
const HALF_FOLDER: Readonly<Record<string, string>> = {
  'options.js': `// vpt_half's options: VPT's.
import { z } from 'zod';
import { commonOptions } from '../options.js';
export const vptHalfOptionsSchema = z.object({ ...commonOptions }).strict();
`,
  'learner.js': `// VPT whose prompt tokens enter at half scale. Parameters: context_vectors [depth, n, Dv].
import { BaseLearner, openVisionPromptLearner, randomVectors } from '../base.js';
import { vptHalfOptionsSchema } from './options.js';
export class VptHalfLearner extends BaseLearner {
  name = 'vpt_half';
  usesText = false;
  usesVision = true;
  options;
  constructor(options, host) {
    const { o, dv } = openVisionPromptLearner(vptHalfOptionsSchema, 'vpt_half', options, host);
    super(randomVectors([o.depth, o.numContext, dv], o.vectorStd));
    this.options = o;
  }
  prompts(layer) {
    return { vision: this.ctx(layer).mul(0.5) };
  }
  describe() {
    return { name: this.name, ...this.options };
  }
}
`,
  'entry.js': `import { vptHalfOptionsSchema } from './options.js';
export const entry = {
  name: 'vpt_half', label: 'VPT/2', title: 'VPT (half scale)', summary: 'VPT prompts at half scale',
  schema: vptHalfOptionsSchema, load: async () => (await import('./learner.js')).VptHalfLearner,
  text: false, vision: true, models: ['clipseg'],
  referenceClass: 'VPTHalfContextLearner', referenceWrappers: { clipseg: 'VPTHalfCLIPSeg' }, referenceDefaults: {},
  searchRows: { numContext: { type: 'categorical', choices: [2, 3] } },
};
`,
};

/** What the copy's library says about vpt_half: its sweep space, its bench cells and its place in the report. */
const PROBE = `const src = process.argv[2];
const { LEARNER_NAMES } = await import(src + '/learners/registry.js');
const { sweepSpace } = await import(src + '/experiment/index.js');
const { gridCells } = await import(src + '/experiment/grid.js');
const { learnerLabel, learnerOrder } = await import(src + '/report/paper.js');
const { parseBenchJson, inferGrid } = await import(src + '/report/load-grid.js');
const bench = parseBenchJson({ models: ['clipseg', 'cris'], learners: ['vpt', 'vpt_half'], datasets: ['kvasir'] });
const inferred = inferGrid(['vpt_half', 'maple', 'vpt'].map((learner) => ({ model: 'clipseg', learner, dataset: 'kvasir', ablation: null })), 'g');
console.log(JSON.stringify({
  names: LEARNER_NAMES,
  space: sweepSpace('vpt_half', 2).params,
  cells: gridCells(['clipseg', 'cris'], ['vpt_half'], ['kv=/data/kvasir'], ['upsampler']).map((c) => c.id),
  label: learnerLabel('vpt_half'),
  order: learnerOrder(),
  benchLearners: bench.learners,
  inferredOrder: inferred.learners.clipseg,
}));
`;

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

test('a built-in learner is one folder plus one line in builtins: a copy of the package with vpt_half added knows it everywhere', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-learner-folder-'));
  try {
    const root = repoRoot();
    const built = join(root, 'dist', 'src');
    // The package as installed: package.json, bin, dist/src; the addon and the dependencies by link.
    cpSync(join(root, 'package.json'), join(dir, 'package.json'));
    cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
    cpSync(built, join(dir, 'dist', 'src'), { recursive: true });
    symlinkSync(join(root, 'native'), join(dir, 'native'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const learners = join(dir, 'dist', 'src', 'learners');

    // The folder, and its one line in the list of built-ins.
    mkdirSync(join(learners, 'vpt_half'));
    for (const [f, text] of Object.entries(HALF_FOLDER)) writeFileSync(join(learners, 'vpt_half', f), text);
    const builtins = readFileSync(join(learners, 'builtins.js'), 'utf8');
    const last = builtins.match(/^( *)import\('\.\/full_finetune\/entry\.js'\),\n/m);
    assert.ok(last, 'builtins.js lists the folders one import line each');
    writeFileSync(join(learners, 'builtins.js'), builtins.replace(last[0], `${last[0]}${last[1]}import('./vpt_half/entry.js'),\n`));

    // No other file of the package differs.
    const before = filesUnder(built);
    const after = filesUnder(join(dir, 'dist', 'src'));
    assert.deepEqual(
      after.filter((f) => !before.includes(f)),
      ['learners/vpt_half/entry.js', 'learners/vpt_half/learner.js', 'learners/vpt_half/options.js'],
    );
    const changed = before.filter((f) => !readFileSync(join(built, f)).equals(readFileSync(join(dir, 'dist', 'src', f))));
    assert.deepEqual(changed, ['learners/builtins.js']);
    const added = readFileSync(join(learners, 'builtins.js'), 'utf8')
      .split('\n')
      .filter((l) => !builtins.split('\n').includes(l));
    assert.deepEqual(added, [`${last[1]}import('./vpt_half/entry.js'),`], 'one line');

    // inspect (the command): the new learner's class is built on a tiny CLIPSeg.
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [join(dir, 'bin', 'tunevlseg.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
    const ins = cli(['inspect', '--model', TINY, '--learner', 'vpt_half', '--depth', '2', '--num-context', '3', '--json']);
    assert.equal(ins.status, 0, ins.stderr);
    const r = JSON.parse(ins.stdout) as { learner: string; parameters: Array<{ name: string; shape: number[] }> };
    assert.equal(r.learner, 'vpt_half');
    assert.deepEqual(r.parameters.find((p) => p.name === 'context_learner.context_vectors')?.shape, [2, 3, 64]);
    // The help lists it among the learners; this repository's own build does not know it.
    assert.match(cli(['inspect', '--help']).stdout, /vpt_half/);
    const mine = spawnSync(
      process.execPath,
      [join(root, 'bin', 'tunevlseg.js'), 'inspect', '--model', TINY, '--learner', 'vpt_half', '--json'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.notEqual(mine.status, 0);
    assert.match(mine.stderr, /vpt_half/);

    // The sweep space, the bench grid and the report, read from the copy's library.
    writeFileSync(join(dir, 'probe.mjs'), PROBE);
    const p = spawnSync(process.execPath, [join(dir, 'probe.mjs'), join(dir, 'dist', 'src')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(p.status, 0, p.stderr);
    const got = JSON.parse(p.stdout) as Record<string, unknown> & { names: string[]; order: string[] };
    assert.equal(got.names.at(-1), 'vpt_half', 'registered after the built-ins listed before it');
    assert.deepEqual(Object.keys(got.space as object), ['lr', 'weight_decay', 'prompt_depth', 'num_context']);
    assert.deepEqual((got.space as Record<string, unknown>).num_context, { type: 'categorical', choices: [2, 3] });
    assert.deepEqual(got.cells, ['clipseg__vpt_half__kv', 'clipseg__vpt_half__kv__no-upsampler']);
    assert.equal(got.label, 'VPT/2');
    assert.equal(got.order.at(-1), 'vpt_half', 'no paper position: after the paper learners');
    // bench.json: the registry says vpt_half is CLIPSeg-only, so CRIS's list drops it (an unknown id would be kept).
    assert.deepEqual(got.benchLearners, { clipseg: ['vpt', 'vpt_half'], cris: [] });
    assert.deepEqual(got.inferredOrder, ['maple', 'vpt', 'vpt_half']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the registry, the TuneVLSeg spaces and the report read the learner folders without libtorch; only classes.ts loads the classes', () => {
  // A missing addon fails any import of src/torch: the entries (and what reads them) must not need it.
  const probe = `const src = ${JSON.stringify(join(repoRoot(), 'dist', 'src'))};
const { LEARNER_NAMES, learnerEntry } = await import(src + '/learners/registry.js');
const { learnerSpace } = await import(src + '/experiment/spaces.js');
const { learnerOrder } = await import(src + '/report/paper.js');
console.log(JSON.stringify({ names: LEARNER_NAMES, loads: LEARNER_NAMES.filter((n) => typeof learnerEntry(n).load === 'function'), rows: Object.keys(learnerSpace('maple').params), order: learnerOrder().length }));
try { await import(src + '/learners/classes.js'); console.log('classes loaded'); } catch (e) { console.log('classes: ' + e.message.split('\\n')[0]); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], {
    encoding: 'utf8',
    env: { ...process.env, TUNEVLSEG_ADDON: '/nope/addon.node' },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const [first, second] = r.stdout.trim().split('\n');
  const got = JSON.parse(first!) as { names: string[]; loads: string[]; rows: string[]; order: number };
  assert.deepEqual(got.loads, got.names, 'every built-in entry loads its class lazily');
  assert.ok(got.names.length >= 6 && got.order === got.names.length);
  assert.ok(got.rows.includes('intermediate_dim'), got.rows.join());
  assert.match(second!, /^classes: .*addon/, 'the classes (libtorch) load only through classes.ts');
});

test('a registered learner is known everywhere that reads the registry, and forgotten when removed', async () => {
  assert.equal(isLearnerName(NAME), false);
  const unregister = registerLearner(ENTRY);
  try {
    assert.ok(LEARNER_NAMES.includes(NAME));
    assert.deepEqual(learnersFor('cris').includes(NAME), false);
    assert.throws(() => registerLearner(ENTRY), /already registered/);
    assert.throws(
      () => registerLearner({ ...ENTRY, name: 'other', referenceClass: 'Other', searchRows: { nope: { type: 'int', low: 1, high: 2 } } }),
      /search row "nope"/,
    );

    // inspect (its library function): the trainable tensors of the new learner on a tiny CLIPSeg
    const r = await runInspect({ model: TINY, learner: NAME, depth: '2', numContext: '3' });
    assert.equal(r.learner, NAME);
    assert.deepEqual(r.parameters.find((p) => p.name === 'context_learner.context_vectors')?.shape, [2, 3, 64]);

    // the sweep space: the common rows plus the learner's own row under its paper name
    const space = sweepSpace(NAME, 2);
    assert.deepEqual(Object.keys(space.params), ['lr', 'weight_decay', 'prompt_depth', 'num_context']);
    assert.deepEqual(space.params.num_context, { type: 'categorical', choices: [2, 3] });

    // the bench grid: a CLIPSeg cell, no CRIS cell (the entry supports CLIPSeg only)
    const ids = benchCells(['clipseg', 'cris'], [NAME], ['kv=/data/kvasir'], ['upsampler']).map((c) => c.id);
    assert.deepEqual(ids, [`clipseg__${NAME}__kv`, `clipseg__${NAME}__kv__no-upsampler`]);

    // the report: its label and a place in the row order (after the paper's learners)
    assert.equal(learnerLabel(NAME), 'VPT/2');
    assert.equal(learnerOrder().at(-1), NAME);
  } finally {
    unregister();
  }
  assert.equal(isLearnerName(NAME), false);
  assert.ok(!LEARNER_NAMES.includes(NAME));
  await assert.rejects(runInspect({ model: TINY, learner: NAME }), /unknown learner "vpt_half"/);
  assert.throws(() => learnerEntry(NAME), /unknown learner/);
});

test('a one-trial sweep of a registered learner samples its row and trains it', async () => {
  const unregister = registerLearner(ENTRY);
  const dir = mkdtempSync(join(tmpdir(), 'tvs-learner-registry-'));
  try {
    await generateSyntheticDataset('ultrasound', join(dir, 'data'), { size: 64, counts: { train: 4, val: 2, test: 2 }, seed: 3 });
    const cfg = join(dir, 'train.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        model: { tokenizer: join(fixturesDir(), 'tokenizer'), imageSize: 64 },
        batchSize: 2,
        effectiveBatchSize: 2,
        minEpochs: 1,
        maxEpochs: 1,
        data: { workers: 0, promptKey: 'p1' },
      }),
    );
    const storage = `sqlite:${join(dir, 'studies.db')}`;
    const log = console.log;
    console.log = () => {};
    try {
      await sweep({
        model: TINY,
        learner: NAME,
        dataset: join(dir, 'data'),
        trials: '1',
        storage,
        study: 'one',
        workers: '1',
        seed: '0',
        objective: 'val_loss',
        pruner: 'none',
        maxDepth: '2',
        config: cfg,
        runsDir: join(dir, 'runs'),
        quiet: true,
      });
    } finally {
      console.log = log;
    }
    const st = await openStorage(storage);
    try {
      const s = await summarizeStudy(st, 'one');
      assert.equal(s.counts.complete, 1, JSON.stringify(s.trials.map((t) => t.error)));
      const t = s.trials[0]!;
      assert.deepEqual(Object.keys(t.params!).sort(), ['lr', 'num_context', 'prompt_depth', 'weight_decay']);
      assert.ok([2, 3].includes(t.params!.num_context as number));
      const run = JSON.parse((await import('node:fs')).readFileSync(join(t.attrs.runDir as string, 'config.json'), 'utf8')) as {
        model: Record<string, unknown>;
      };
      assert.equal(run.model.learner, NAME);
      assert.equal(run.model.numContext, t.params!.num_context);
    } finally {
      await st.close();
    }
  } finally {
    unregister();
    rmSync(dir, { recursive: true, force: true });
  }
});
