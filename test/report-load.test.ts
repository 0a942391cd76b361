// Reading a bench folder: the grid, missing cells, seeds, trials, predictions, embeddings,
// and malformed files named in the problems (or in one BenchError with strict).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BenchError,
  cellId,
  findCell,
  gridCells,
  loadBench,
  missingCells,
  parseBenchJson,
  parseCellId,
  table3,
  toMarkdown,
  toTrialsJsonl,
} from '../src/report/index.js';
import { type SyntheticBench, makeSyntheticBench } from './synthetic-bench.js';

let tmp = '';
let info: SyntheticBench;
let n = 0;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'report-load-'));
  info = await makeSyntheticBench(path.join(tmp, 'bench'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A fresh copy of the synthetic bench to damage. */
function copy(): string {
  const d = path.join(tmp, `copy${n++}`);
  cpSync(info.dir, d, { recursive: true });
  return d;
}

test('the synthetic bench loads without problems', () => {
  const b = loadBench(info.dir);
  assert.deepEqual(b.problems, []);
  assert.equal(b.gridSource, 'bench.json');
  assert.equal(b.grid.name, 'synthetic');
  assert.equal(b.cells.length, 12 + 3 + 6);
  assert.ok(b.cells.every((c) => c.inGrid));
  assert.deepEqual(
    missingCells(b).map((c) => [c.id, c.status]),
    [['cris__coop__camus', 'missing']],
  );
  const vpt = findCell(b, { model: 'clipseg', learner: 'vpt', dataset: 'kvasir', ablation: null })!;
  assert.deepEqual(
    vpt.runs.map((r) => r.seed),
    [0, 1],
  );
  assert.equal(vpt.test!.n, 2);
  assert.ok(Math.abs(vpt.test!.mean - 0.82) < 1e-12 && Math.abs(vpt.test!.std! - 0.04 / Math.SQRT2) < 1e-12);
  assert.equal(vpt.runs[0]!.epochs.length, info.epochs);
  assert.deepEqual(
    vpt.runs[0]!.epochs.map((e) => e.epoch),
    [1, 2, 3],
  );
  assert.equal(vpt.trials.length, 6);
  assert.deepEqual(
    vpt.trials.map((t) => t.state),
    ['complete', 'complete', 'complete', 'complete', 'pruned', 'failed'],
  );
  assert.equal(vpt.trials[5]!.value, null);
  assert.equal(vpt.trials[0]!.testDice, info.trials[vpt.id]![0]!.testDice);
  assert.equal(vpt.trials[0]!.depth, info.trials[vpt.id]![0]!.params.depth);
  assert.equal(vpt.trials[0]!.valDice, info.trials[vpt.id]![0]!.testDice); // from attrs.valDice
  assert.equal(b.embeddings.length, 3);
  const camus = b.embeddings.find((e) => e.dataset === 'camus')!;
  assert.equal(camus.image!.vectors.length, 15);
  assert.equal(camus.image!.dim, 16);
});

test('predictions: predictFolder lists with images from the dataset, and bare files with eval scores', () => {
  const b = loadBench(info.dir);
  const kv = findCell(b, { model: 'clipseg', learner: 'maple', dataset: 'kvasir', ablation: null })!;
  const p = kv.runs[0]!.predictions!;
  assert.equal(p.samples.length, 4);
  for (const s of p.samples) {
    assert.ok(s.mask && s.overlay && s.image && s.groundTruth, JSON.stringify(s));
    assert.ok(s.image.endsWith(path.join('data', 'kvasir', 'images', s.name)));
    assert.ok(s.groundTruth.endsWith(path.join('data', 'kvasir', 'masks', s.name)));
  }
  assert.deepEqual(
    p.samples.map((s) => s.dice),
    info.predictions.kvasir!.dice,
  );
  const bu = findCell(b, { model: 'clipseg', learner: 'vpt', dataset: 'busi', ablation: null })!;
  const q = bu.runs[0]!.predictions!;
  assert.deepEqual(
    q.samples.map((s) => s.name),
    ['case0', 'case1', 'case2'],
  );
  assert.deepEqual(
    q.samples.map((s) => s.dice),
    info.predictions.busi!.dice,
  );
  assert.ok(q.samples.every((s) => s.image?.endsWith('_image.png') && s.groundTruth?.endsWith('_gt.png') && s.mask?.endsWith('_mask.png')));
});

test('a moved bench still finds its prediction files (absolute paths fall back to the predictions folder)', () => {
  const d = copy();
  const b = loadBench(d);
  const kv = findCell(b, { model: 'clipseg', learner: 'maple', dataset: 'kvasir', ablation: null })!;
  for (const s of kv.runs[0]!.predictions!.samples) {
    assert.ok(s.mask!.startsWith(d) && s.overlay!.startsWith(d) && s.image!.startsWith(d), JSON.stringify(s));
  }
});

test('malformed files are named in the problems; the rest still loads', () => {
  const d = copy();
  const cell = (id: string) => path.join(d, 'cells', id);
  writeFileSync(path.join(cell('clipseg__maple__busi'), 'summary.json'), '{"test": {"dice": 0.5,');
  writeFileSync(path.join(cell('clipseg__coop__busi'), 'summary.json'), JSON.stringify({ val: { dice: 0.5 }, test: { dice: 51.23 } }));
  appendFileSync(
    path.join(cell('clipseg__maple__camus'), 'trials.jsonl'),
    '{"number": 9, "state": "complete"\n{"number": -1, "state": "complete"}\n',
  );
  // A torn last line of metrics.jsonl (a killed writer) is not a problem.
  appendFileSync(path.join(cell('clipseg__maple__camus'), 'metrics.jsonl'), '{"type": "epoch", "epo');
  unlinkSync(path.join(cell('clipseg__vpt__kvasir'), 'seed-1', 'summary.json'));
  mkdirSync(path.join(d, 'cells', 'not-a-cell'));
  writeFileSync(path.join(d, 'embeddings', 'bad.json'), JSON.stringify({ image: { labels: ['a', 'b'], vectors: [[1, 2], [3]] } }));
  writeFileSync(path.join(d, 'embeddings', 'bin.json'), JSON.stringify({ image: { labels: ['a'], file: 'missing.f32', dim: 4 } }));
  const b = loadBench(d);
  const msgs = b.problems.map((p) => `${p.file}: ${p.message}`);
  const has = (re: RegExp) =>
    assert.ok(
      msgs.some((m) => re.test(m)),
      `no problem matching ${re}:\n${msgs.join('\n')}`,
    );
  has(/^cells\/clipseg__maple__busi\/summary\.json: malformed JSON/);
  has(/^cells\/clipseg__coop__busi\/summary\.json: field "test\.dice": expected a Dice in \[0, 1\] \(not a percentage\)/);
  has(/^cells\/clipseg__maple__camus\/trials\.jsonl: line 7: malformed JSON/);
  has(/^cells\/clipseg__maple__camus\/trials\.jsonl: line 8: field "number": expected a non-negative integer/);
  has(/^cells\/clipseg__vpt__kvasir\/seed-1: no summary\.json/);
  has(/^cells\/not-a-cell: not a cell folder name/);
  has(/^embeddings\/bad\.json: field "image\.vectors\[1\]": length 1, expected 2/);
  has(/^embeddings\/missing\.f32: cannot read/);
  assert.ok(!msgs.some((m) => m.includes('metrics.jsonl')), 'a torn last line is ignored');
  assert.equal(b.problems.find((p) => p.file.includes('maple__busi'))!.cell, 'clipseg__maple__busi');
  const status = (id: string) => b.cells.find((c) => c.id === id)!.status;
  assert.equal(status('clipseg__maple__busi'), 'error');
  assert.equal(status('clipseg__coop__busi'), 'error');
  assert.equal(status('clipseg__maple__camus'), 'ok');
  assert.equal(b.cells.find((c) => c.id === 'clipseg__maple__camus')!.trials.length, 6);
  // The seed without a summary is left out of the statistics.
  const vpt = b.cells.find((c) => c.id === 'clipseg__vpt__kvasir')!;
  assert.equal(vpt.test!.n, 1);
  assert.equal(vpt.test!.mean, 0.8);
  // Unreadable cells show as missing in the tables.
  const md = toMarkdown(table3(b));
  assert.match(md, /\| CLIPSeg \| MaPLe \| \*\*86\.12\*\* \| – \| 84\.55 \| 85\.33† \|/);
  assert.match(md, /\| CLIPSeg \| VPT \| 80\.00 \| \*\*67\.02\*\* \| \*\*87\.31\*\* \| \*\*78\.11\*\* \|/);
  assert.equal(b.embeddings.length, 3);
  // strict: one error listing every problem.
  assert.throws(
    () => loadBench(d, { strict: true }),
    (e: unknown) => {
      assert.ok(e instanceof BenchError);
      assert.equal(e.problems.length, b.problems.length);
      assert.match(e.message, /cells\/clipseg__maple__busi\/summary\.json: malformed JSON/);
      return true;
    },
  );
});

test('without bench.json the grid is inferred from the cell folders; a bad bench.json is named', () => {
  const d = copy();
  unlinkSync(path.join(d, 'bench.json'));
  const b = loadBench(d);
  assert.equal(b.gridSource, 'inferred');
  assert.deepEqual(b.grid.models, ['clipseg', 'cris']);
  assert.deepEqual(b.grid.learners, { clipseg: ['maple', 'vpt', 'coop'], cris: ['coop'] });
  assert.deepEqual(b.grid.datasets, ['kvasir', 'busi', 'camus']);
  assert.deepEqual(b.grid.ablations.map((a) => a.name).sort(), ['init-gaussian', 'no-upsampler']);
  // The inferred grid still has the CRIS CoOp / CAMUS hole.
  assert.deepEqual(
    missingCells(b).map((c) => c.id),
    ['cris__coop__camus'],
  );
  writeFileSync(
    path.join(d, 'bench.json'),
    JSON.stringify({ models: ['clipseg'], learners: { clipseg: ['vpt'], sam: ['vpt'] }, datasets: ['kvasir'] }),
  );
  const b2 = loadBench(d);
  assert.equal(b2.gridSource, 'inferred');
  assert.deepEqual(
    b2.problems.map((p) => `${p.file}: ${p.message}`),
    ['bench.json: field "learners.sam": "sam" is not one of the models (clipseg)'],
  );
  writeFileSync(path.join(d, 'bench.json'), JSON.stringify({ models: ['clipseg'], learners: 'vpt', datasets: [] }));
  const p3 = loadBench(d)
    .problems.map((p) => p.message)
    .join('\n');
  assert.match(p3, /field "learners"/);
  assert.match(p3, /field "datasets"/);
});

test('grid definition: flat learner lists give CRIS its textual learners only; ablation subsets', () => {
  const g = parseBenchJson({
    models: ['clipseg', 'cris'],
    learners: ['maple', 'shared_separate', 'shared_attn', 'vpt', 'cocoop', 'coop'],
    datasets: ['kvasir', 'busi'],
    ablations: ['no-upsampler', { name: 'init-gaussian', models: ['clipseg'], learners: ['maple'] }],
    extra: { anything: true },
  });
  assert.deepEqual(g.learners.cris, ['cocoop', 'coop']);
  assert.equal(g.learners.clipseg!.length, 6);
  const cells = gridCells(g);
  assert.equal(cells.filter((c) => c.ablation === null).length, 8 * 2);
  assert.equal(cells.filter((c) => c.ablation === 'no-upsampler').length, 8 * 2);
  assert.deepEqual(cells.filter((c) => c.ablation === 'init-gaussian').map(cellId), [
    'clipseg__maple__kvasir__init-gaussian',
    'clipseg__maple__busi__init-gaussian',
  ]);
  assert.deepEqual(parseCellId('clipseg__shared_attn__kvasir__no-upsampler'), {
    model: 'clipseg',
    learner: 'shared_attn',
    dataset: 'kvasir',
    ablation: 'no-upsampler',
  });
  assert.equal(parseCellId('clipseg__vpt'), null);
  assert.equal(parseCellId('a__b__c__d__e'), null);
  assert.equal(parseCellId('a__../x__c'), null);
});

test('a missing bench folder is an error; an empty one loads with a problem', () => {
  assert.throws(() => loadBench(path.join(tmp, 'nope')), /not a folder/);
  const d = path.join(tmp, 'empty');
  mkdirSync(d);
  const b = loadBench(d);
  assert.deepEqual(
    b.problems.map((p) => p.message),
    ['no cells/ folder'],
  );
  assert.equal(b.cells.length, 0);
  const t = table3(b);
  assert.equal(t.rows.length, 1);
});

test('prediction references cannot escape the predictions folder', () => {
  const d = copy();
  const pred = path.join(d, 'cells', 'clipseg__maple__kvasir', 'predictions');
  writeFileSync(
    path.join(pred, 'predictions.json'),
    JSON.stringify({
      files: [{ name: 'x.png', mask: '../../../bench.json', overlay: '/etc/passwd', image: '../summary.json', dice: 0.5 }],
    }),
  );
  const s = loadBench(d).cells.find((c) => c.id === 'clipseg__maple__kvasir')!.runs[0]!.predictions!.samples[0]!;
  assert.equal(s.mask, null);
  assert.equal(s.overlay, null);
  assert.equal(s.image, null);
});

test('toTrialsJsonl writes what loadBench reads back', () => {
  const d = copy();
  const file = path.join(d, 'cells', 'clipseg__vpt__camus', 'trials.jsonl');
  writeFileSync(
    file,
    toTrialsJsonl([
      {
        number: 0,
        seq: 0,
        state: 'complete',
        params: { lr: 1e-3, weight_decay: 1e-4, depth: 5, intermediate_dim: 32 },
        value: 0.31,
        attrs: { testDice: 0.77, valDice: 0.8 },
      },
      { number: 1, state: 'pruned', params: { lr: 2e-3, depth: 2 }, value: 0.5, attrs: { test: { dice: 0.4 } } },
      { number: 2, state: 'failed', params: null, value: null },
      // a reference sweep's trial: the original's parameter names
      {
        number: 3,
        state: 'complete',
        params: { 'optimizer.lr': 4e-4, weight_decay: 2e-5, 'net.context_learner.prompt_depth': 11 },
        value: 0.2,
        attrs: { testDice: 0.6 },
      },
    ]),
  );
  const c = loadBench(d).cells.find((x) => x.id === 'clipseg__vpt__camus')!;
  assert.deepEqual(
    c.trials.map((t) => [t.number, t.state, t.value, t.testDice, t.valDice, t.lr, t.weightDecay, t.depth]),
    [
      [0, 'complete', 0.31, 0.77, 0.8, 1e-3, 1e-4, 5],
      [1, 'pruned', 0.5, 0.4, null, 2e-3, null, 2],
      [2, 'failed', null, null, null, null, null, null],
      [3, 'complete', 0.2, 0.6, null, 4e-4, 2e-5, 11],
    ],
  );
  assert.equal(c.trials[0]!.params.intermediate_dim, 32);
});
