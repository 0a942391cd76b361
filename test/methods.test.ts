// The methods past the paper (VLSM-Adapter's adapters, LoRA, full fine-tuning) in everything that
// reads the registry: inspect, the sweep spaces (the adapters' is the original's
// hparams_search space), the grid (`bench --learners vpt,dense_adapter,lora,full_finetune` runs on
// the tiny model) and the report (Table 3 with a Family and a Trainable params column), the demo's
// learner list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, fixturesDir } from './helpers.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { gridCells } from '../src/experiment/grid.js';
import { sweepSpace, trialConfig } from '../src/experiment/trial.js';
import { planSweep } from '../src/experiment/sweep-plan.js';
import { learnerSpace, tuneVLSegSpace } from '../src/experiment/spaces.js';
import { learnerFamily, learnersFor } from '../src/learners/registry.js';
import { runInspect } from '../src/cli/inspect.js';
import { parseLearnerList } from '../src/cli/demo-flags.js';
import { demoDefaultLearners } from '../src/demo/run.js';
import { openStorage } from '../src/sweep/open-storage.js';
import { formatCount, loadBench, table3, table5, toCsv, toLatex, toMarkdown } from '../src/report/index.js';

const bin = join(repoRoot(), 'bin', 'tunevlseg.js');
const TINY = join(fixturesDir(), 'clipseg-tiny');
const run = (args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, TUNEVLSEG_THREADS: '1' }, timeout: 600_000 });

test("sweep spaces: the adapters and full fine-tuning search VLSM-Adapter's space, LoRA its rank and alpha; no prompt depth", async () => {
  const optuna = { lr: { type: 'float', low: 1e-6, high: 1e-3 }, batch_size: { type: 'categorical', choices: [16, 32, 64, 128] } };
  for (const l of ['shallow_adapter', 'dense_adapter', 'full_finetune']) assert.deepEqual(learnerSpace(l).params, optuna, l);
  assert.deepEqual(Object.keys(sweepSpace('lora', 4).params), ['lr', 'weight_decay', 'r', 'lora_alpha']);
  assert.deepEqual(Object.keys(learnerSpace('vpt').params), ['lr', 'weight_decay', 'prompt_depth']);
  assert.throws(() => tuneVLSegSpace(['vpt', 'dense_adapter']), /dense_adapter" has its own training rows/);
  assert.ok(!(tuneVLSegSpace().params.learner as unknown as { choices: string[] }).choices.includes('lora'));
  const cfg = trialConfig(
    { data: { dir: 'd' }, model: { learner: 'lora' } },
    { lr: 1e-4, weight_decay: 1e-3, r: 4, lora_alpha: 16 },
    { name: 's', id: 1, createdAt: 0 },
    0,
  );
  assert.deepEqual([cfg.lr, cfg.weightDecay, cfg.model!.rank, cfg.model!.alpha], [1e-4, 1e-3, 4, 16]);
  assert.equal(
    trialConfig({ data: { dir: 'd' } }, { lr: 1e-4, batch_size: 64 }, { name: 's', id: 1, createdAt: 0 }, 0).effectiveBatchSize,
    64,
  );
  // quirks reference: the original's sweep under its own names, seed and trial count
  const plan = await planSweep({ learner: 'dense_adapter', model: { model: TINY } });
  assert.deepEqual(Object.keys(plan.space.params), ['optimizer.lr', 'datamodule.batch_size']);
  assert.deepEqual([plan.seed, plan.nTrials, plan.samplerName], [1234, 20, 'optuna']);
  assert.match(plan.source!, /vlsm-adapter @ d5b5a5e: configs\/hparams_search\/clipseg_optuna\.yaml/);
  const t = trialConfig(
    { data: { dir: 'd' } },
    { 'optimizer.lr': 2e-4, 'datamodule.batch_size': 16 },
    { name: 's', id: 1, createdAt: 0 },
    0,
  );
  assert.deepEqual([t.lr, t.effectiveBatchSize], [2e-4, 16]);
});

test('the grid: the no-upsampler ablation only where there is an upsampler; "all" is every learner', () => {
  const ids = gridCells(['tiny=x'], ['vpt', 'dense_adapter', 'lora', 'full_finetune'], ['d=y'], ['upsampler']).map((c) => c.id);
  assert.deepEqual(ids, [
    'tiny__vpt__d',
    'tiny__vpt__d__no-upsampler',
    'tiny__dense_adapter__d',
    'tiny__lora__d',
    'tiny__full_finetune__d',
  ]);
  assert.equal(gridCells(['clipseg'], ['all'], ['d'], []).length, learnersFor('clipseg').length);
  // CRIS takes none of them
  assert.deepEqual(
    gridCells(['cris'], ['dense_adapter', 'lora', 'full_finetune', 'coop'], ['d'], []).map((c) => c.learner),
    ['coop'],
  );
});

test('inspect: trainable tensors and counts of every method; no prompt depth for the methods without prompts', async () => {
  const counts: Record<string, number> = {};
  for (const l of ['shallow_adapter', 'dense_adapter', 'lora', 'full_finetune']) {
    const r = await runInspect({ model: TINY, learner: l, set: l.endsWith('adapter') ? ['adapterDim=8'] : [] });
    assert.equal(r.depth, null, l);
    counts[l] = r.total;
  }
  // the fixtures' counts for adapter_dim 8 (clipseg-tiny/adapters/*/case.json)
  assert.equal(counts.shallow_adapter, 21616);
  assert.equal(counts.dense_adapter, 26560);
  assert.equal(counts.lora, 4 * 2 * 8 * 64 * 2 + 4 * 2 * 8 * 32 * 2);
  assert.ok(counts.full_finetune! > 500_000);
  assert.equal((await runInspect({ model: TINY, learner: 'vpt' })).depth, 1);
});

test("the demo: the paper's six by default, every CLIPSeg learner with --learners all", () => {
  assert.deepEqual(
    demoDefaultLearners(),
    learnersFor('clipseg').filter((l) => learnerFamily(l) === 'prompt'),
  );
  assert.equal(demoDefaultLearners().length, 6);
  assert.deepEqual(parseLearnerList('all'), learnersFor('clipseg'));
  assert.ok(parseLearnerList('all').includes('full_finetune'));
  assert.deepEqual(parseLearnerList('vpt,lora'), ['vpt', 'lora']);
});

test('formatCount', () => {
  assert.deepEqual([4674, 29250, 3237376, 150747746].map(formatCount), ['4,674', '29.3K', '3.24M', '151M']);
});

test('bench --learners vpt,dense_adapter,lora,full_finetune runs on the tiny model; Table 3 shows the families side by side', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-methods-bench-'));
  try {
    await generateSyntheticDataset('ultrasound', join(dir, 'data'), { size: 64, counts: { train: 8, val: 4, test: 4 }, seed: 2 });
    writeFileSync(
      join(dir, 'train.json'),
      JSON.stringify({
        model: { tokenizer: join(fixturesDir(), 'tokenizer'), imageSize: 64 },
        batchSize: 4,
        effectiveBatchSize: 8,
        minEpochs: 1,
        maxEpochs: 1,
        data: { workers: 0 },
      }),
    );
    const args = [
      'bench',
      '--models',
      `tiny=${TINY}`,
      '--learners',
      'vpt,dense_adapter,lora,full_finetune',
      '--datasets',
      `us=${join(dir, 'data')}`,
      '--trials',
      '1',
      '--out',
      join(dir, 'bench'),
      '-c',
      join(dir, 'train.json'),
      '--max-depth',
      '2',
      '--no-embeddings',
      '--ablate',
      'upsampler',
      '-q',
    ];
    const r = run(args, dir);
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stdout, /5 cell\(s\) run, 0 already finished/);
    // each cell trained its method: the adapters with their recipe (clip 0.5, loss on probabilities), LoRA and full fine-tuning without the upsampler
    const cfg = (
      cell: string,
    ): { model: Record<string, unknown>; gradClipNorm: number | null; loss: { appliedTo: string }; effectiveBatchSize: number } =>
      JSON.parse(readFileSync(join(dir, 'bench', 'cells', cell, 'config.json'), 'utf8'));
    const dense = cfg('tiny__dense_adapter__us');
    assert.equal(dense.gradClipNorm, 0.5);
    assert.equal(dense.loss.appliedTo, 'probabilities');
    assert.ok([16, 32, 64, 128].includes(dense.effectiveBatchSize), 'batch size sampled from the original space');
    assert.equal(cfg('tiny__vpt__us').loss.appliedTo, 'logits');
    // each cell's study optimises what its original did: VLSM-Adapter's last val Dice upwards, TuneVLSeg's last val loss downwards
    const storage = await openStorage(`sqlite:${join(dir, 'bench', 'studies.db')}`);
    try {
      const study = async (cell: string): Promise<[string, unknown]> => {
        const s = (await storage.loadStudy(cell))!;
        return [s.direction, s.attrs.objective];
      };
      assert.deepEqual(await study('tiny__dense_adapter__us'), ['maximize', 'last_val_dice']);
      assert.deepEqual(await study('tiny__full_finetune__us'), ['maximize', 'last_val_dice']);
      assert.deepEqual(await study('tiny__vpt__us'), ['minimize', 'val_loss']);
    } finally {
      await storage.close();
    }
    const rep = run(['report', join(dir, 'bench')], dir);
    assert.equal(rep.status, 0, rep.stderr.slice(-2000));
    const md = readFileSync(join(dir, 'bench', 'report', 'report.md'), 'utf8');
    assert.match(md, /\| Model \| Family \| Method \| Trainable params \|/);
    for (const [family, method] of [
      ['Prompt tuning', 'VPT'],
      ['Adapters', 'Dense Adapter'],
      ['LoRA', 'LoRA'],
      ['Full fine-tuning', 'Full FT'],
    ]) {
      assert.match(
        md,
        new RegExp(`\\| ${family} \\| ${method} \\| [0-9.,KM]+ \\| (\\*\\*)?[0-9.]+(\\*\\*)? \\|`),
        `${family} / ${method} row`,
      );
    }
    const t = table3(loadBench(join(dir, 'bench')));
    assert.deepEqual(
      t.rows.filter((x) => x.kind === 'method').map((x) => x.group),
      ['prompt', 'adapter', 'lora', 'full'],
    );
    const summary = (cell: string): { trainableParams: number } =>
      JSON.parse(readFileSync(join(dir, 'bench', 'cells', cell, 'summary.json'), 'utf8'));
    assert.equal(t.rows.find((x) => x.labels[2] === 'LoRA')!.labels[3], formatCount(summary('tiny__lora__us').trainableParams));
    // every rendering keeps one column count
    assert.equal(toCsv(t).split('\n')[0], 'kind,model,family,method,trainable_params,us,mean');
    assert.match(toLatex(t), /\\begin\{tabular\}\{llllrr\}/);
    assert.match(toMarkdown(t), /Average across prompt-tuning methods/);
    // Table 5 (no upsampler) lists only the learner that has one
    const t5 = table5(loadBench(join(dir, 'bench')))!;
    assert.deepEqual(
      t5.rows.filter((x) => x.kind === 'method').map((x) => x.labels[1]),
      ['VPT'],
    );
    // eval of a run folder of each new method, on its test split
    for (const l of ['dense_adapter', 'lora', 'full_finetune']) {
      const e = run(['eval', join(dir, 'bench', 'cells', `tiny__${l}__us`)], dir);
      assert.equal(e.status, 0, `${l}: ${e.stderr.slice(-1500)}`);
      assert.match(e.stdout, /dice/i, l);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('train, eval and predict --tuned with shallow_adapter from the command line; the run took its recipe', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-methods-train-'));
  try {
    await generateSyntheticDataset('ultrasound', join(dir, 'data'), { size: 64, counts: { train: 8, val: 4, test: 4 }, seed: 5 });
    const t = run(
      [
        'train',
        '--dataset',
        join(dir, 'data'),
        '--model',
        TINY,
        '--model',
        'learner=shallow_adapter',
        '--model',
        'adapterDim=4',
        '--model',
        `tokenizer=${join(fixturesDir(), 'tokenizer')}`,
        '--model',
        'imageSize=64',
        '--batch-size',
        '4',
        '--effective-batch-size',
        '8',
        '--min-epochs',
        '1',
        '--max-epochs',
        '1',
        '--loader-threads',
        '0',
        '--runs-dir',
        join(dir, 'runs'),
        '--name',
        'sa',
        '-q',
      ],
      dir,
    );
    assert.equal(t.status, 0, t.stderr.slice(-2000));
    const cfg = JSON.parse(readFileSync(join(dir, 'runs', 'sa', 'config.json'), 'utf8')) as {
      lr: number;
      gradClipNorm: number;
      loss: { lambdaDice: number; appliedTo: string };
    };
    assert.deepEqual([cfg.lr, cfg.gradClipNorm, cfg.loss.lambdaDice, cfg.loss.appliedTo], [3e-4, 0.5, 1.5, 'probabilities']);
    const e = run(['eval', join(dir, 'runs', 'sa')], dir);
    assert.equal(e.status, 0, e.stderr.slice(-2000));
    const img = join(dir, 'data', 'images', readdirSync(join(dir, 'data', 'images')).sort()[0]!);
    const p = run(
      [
        'predict',
        '--tuned',
        join(dir, 'runs', 'sa', 'checkpoints', 'best.safetensors'),
        '--prompt',
        'tumor',
        '--out',
        join(dir, 'pred'),
        '-q',
        img,
      ],
      dir,
    );
    assert.equal(p.status, 0, p.stderr.slice(-2000));
    assert.ok(readdirSync(join(dir, 'pred')).some((f) => f.endsWith('_prob.png')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
