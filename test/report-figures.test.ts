// Figures: Vega-Lite specs rendered to SVG in Node, with one vega mark per data point.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type Bench,
  type Figure,
  buildFigures,
  buildFigureSet,
  countMarks,
  formatRate,
  isOmitted,
  lrWdFigure,
  depthFigure,
  linearFit,
  loadBench,
  renderFigures,
  renderSvg,
  testDicePoints,
} from '../src/report/index.js';
import { type SyntheticBench, makeSyntheticBench } from './synthetic-bench.js';

let tmp = '';
let info: SyntheticBench;
let bench: Bench;
let figs: Figure[];

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'report-figures-'));
  info = await makeSyntheticBench(path.join(tmp, 'bench'));
  bench = loadBench(info.dir);
  figs = await renderFigures(buildFigures(bench, { tsneIterations: 300 }));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Data marks counted from the SVG structure itself: vega writes each symbol mark as a
 * `<g class="mark-symbol role-mark ...">` holding one `<path>` per datum, and each line mark as
 * a `<g class="mark-line role-mark ...">` holding one `<path>` per series.
 */
function marksIn(svg: string, kind: 'symbol' | 'line'): number {
  let total = 0;
  const re = new RegExp(`<g class="mark-${kind} role-mark[^"]*"[^>]*>(.*?)</g>`, 'gs');
  for (const m of svg.matchAll(re)) total += (m[1]!.match(/<path\b/g) ?? []).length;
  return total;
}

const main = (id: string) =>
  Object.entries(info.trials).filter(([cell]) => cell.split('__').length === 3 && (id === '' || cell.split('__')[2] === id));

test('every figure is a non-empty SVG with the data marks it expects', () => {
  const ids = figs.map((f) => f.id);
  assert.deepEqual(ids, [
    'fig6-depth',
    'fig7-lr-wd',
    'trials-kvasir',
    'trials-busi',
    'trials-camus',
    'curves-kvasir',
    'curves-busi',
    'curves-camus',
    'fig4-tsne',
  ]);
  for (const f of figs) {
    assert.ok(f.svg && f.svg.startsWith('<svg') && f.svg.endsWith('</svg>'), f.id);
    const w = Number(/width="(\d+(?:\.\d+)?)"/.exec(f.svg)![1]);
    assert.ok(w > 100, `${f.id} width ${w}`);
    assert.equal(marksIn(f.svg, 'symbol'), f.expected.points, `${f.id} points`);
    assert.equal(marksIn(f.svg, 'line'), f.expected.lines, `${f.id} lines`);
    assert.deepEqual(countMarks(f.svg), f.expected, f.id);
    // Ids are prefixed per figure so that several SVGs can share one page.
    for (const m of f.svg.matchAll(/\bid="([^"]+)"/g)) assert.ok(m[1]!.startsWith(`${f.id}-`), m[1]);
  }
});

test('Fig. 6 and 7: one point per evaluated trial, one fit line per learner, R² in the title', () => {
  const evaluated = main('').flatMap(([, ts]) => ts.filter((t) => t.state === 'complete' && t.testDice !== null));
  assert.equal(evaluated.length, 11 * 4);
  const f6 = figs.find((f) => f.id === 'fig6-depth')!;
  assert.deepEqual(f6.expected, { points: evaluated.length, lines: 3 });
  const f7 = figs.find((f) => f.id === 'fig7-lr-wd')!;
  assert.deepEqual(f7.expected, { points: 2 * evaluated.length, lines: 0 });
  // The R² shown is the least-squares R² of that learner's trials.
  const vpt = main('')
    .filter(([cell]) => cell.split('__')[1] === 'vpt')
    .flatMap(([, ts]) => ts.filter((t) => t.testDice !== null && t.state === 'complete'));
  const fit = linearFit(
    vpt.map((t) => t.params.depth),
    vpt.map((t) => t.testDice! * 100),
  )!;
  assert.ok(f6.svg!.includes(`VPT: R² = ${fit.r2.toFixed(3)}`), 'VPT panel title with R²');
  assert.ok(
    f6.summary.includes(`VPT ${fit.slope >= 0 ? '+' : ''}${fit.slope.toFixed(2)} points/layer (R² = ${fit.r2.toFixed(3)})`),
    f6.summary,
  );
  assert.match(f7.svg!, /Learning rate/);
  assert.match(f7.svg!, /Weight decay/);
});

test('trials and training-curve figures: points per finished trial, lines per run and series', () => {
  for (const d of info.datasets) {
    const finished = main(d).flatMap(([, ts]) => ts.filter((t) => t.value !== null));
    assert.equal(figs.find((f) => f.id === `trials-${d}`)!.expected.points, finished.length);
    const runs = Object.entries(info.runs)
      .filter(([cell]) => cell.split('__')[2] === d)
      .reduce((s, [, n]) => s + n, 0);
    // train loss, val loss and val Dice per run
    assert.equal(figs.find((f) => f.id === `curves-${d}`)!.expected.lines, 3 * runs);
  }
  assert.equal(figs.find((f) => f.id === 'trials-kvasir')!.expected.points, 4 * 5);
  assert.equal(figs.find((f) => f.id === 'curves-kvasir')!.expected.lines, 3 * 5);
});

test('Fig. 4: t-SNE of all text and image embeddings (one from a float32 file)', () => {
  const f4 = figs.find((f) => f.id === 'fig4-tsne')!;
  const total = Object.values(info.embeddings).reduce((s, e) => s + e.text + e.image, 0);
  assert.equal(f4.expected.points, total);
  assert.match(f4.svg!, /\(a\) Text embeddings \(9 points/);
  assert.match(f4.svg!, /\(b\) Image embeddings \(45 points/);
  // Capped: a stratified sample per modality.
  const capped = buildFigures(bench, { include: ['fig4'], tsneMaxPoints: 12, tsneIterations: 50 });
  assert.equal(capped.length, 1);
  assert.equal(capped[0]!.expected.points, 9 + 12);
  assert.match(capped[0]!.caption, /image: 12 of 45 points/);
});

test('without evaluated trials the figures fall back to the runs, and include filters', () => {
  const b = loadBench(info.dir);
  for (const c of b.cells) c.trials = [];
  const pts = testDicePoints(b);
  assert.equal(pts.length, 12); // 11 cells, one with two seeds
  assert.ok(pts.every((p) => p.source === 'run' && p.depth === 3 && p.lr === 2e-4));
  assert.deepEqual(
    buildFigures(b, { include: ['fig6', 'curves-busi'] }).map((x) => x.id),
    ['curves-busi'],
  );
  // Two depths among the runs: Fig. 6 is drawn from them.
  const vpt = b.cells.find((c) => c.id === 'clipseg__vpt__kvasir')!;
  (vpt.runs[1]!.config!.model as Record<string, unknown>).depth = 7;
  const f = depthFigure(b);
  assert.ok(!isOmitted(f));
  assert.equal(f.expected.points, 4, 'only VPT has two depths (its four runs); the other learners are left out of the figure');
  assert.match(f.caption, /evaluated run.*left out \(one depth only\): MaPLe, CoOp/);
});

test('a figure the data cannot support is left out with one line saying why', () => {
  const b = loadBench(info.dir);
  for (const c of b.cells) c.trials = [];
  const f6 = depthFigure(b);
  assert.ok(isOmitted(f6));
  assert.equal(f6.reason, 'every run of each learner uses one prompt depth (3): a trend over depth needs at least two depths per learner.');
  const f7 = lrWdFigure(b);
  assert.ok(isOmitted(f7));
  assert.equal(f7.reason, 'every run uses one learning rate (2e-4) and one weight decay (1e-2): a trend needs at least two values.');
  // One epoch per run: no curve; one dataset of embeddings: no t-SNE.
  for (const c of b.cells) for (const r of c.runs) r.epochs = r.epochs.slice(0, 1);
  b.embeddings = b.embeddings.filter((e) => e.dataset === 'kvasir');
  const set = buildFigureSet(b);
  assert.deepEqual(set.figures, []);
  assert.deepEqual(
    set.omitted.map((o) => o.id),
    ['fig6-depth', 'fig7-lr-wd', 'curves-kvasir', 'curves-busi', 'curves-camus', 'fig4-tsne'],
  );
  assert.ok(set.omitted.every((o) => o.reason.length > 20 && !o.reason.includes('\n')));
  assert.match(set.omitted.at(-1)!.reason, /one dataset only \(kvasir\)/);
  b.embeddings = [];
  assert.match(buildFigureSet(b).omitted.at(-1)!.reason, /no CLIP embeddings/);
});

/** The tick labels of a rendered figure (vega writes them as role-axis-label text marks). */
function tickLabels(svg: string): string[] {
  const out: string[] = [];
  for (const m of svg.matchAll(/<g class="mark-text role-axis-label"[^>]*>(.*?)<\/g>/gs))
    for (const t of m[1]!.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)) out.push(t[1]!);
  return out;
}

test('ticks are written for people: Dice in % with one decimal, rates in scientific notation', () => {
  const f6 = figs.find((f) => f.id === 'fig6-depth')!;
  const f7 = figs.find((f) => f.id === 'fig7-lr-wd')!;
  const curves = figs.find((f) => f.id === 'curves-kvasir')!;
  const l6 = tickLabels(f6.svg!);
  const l7 = tickLabels(f7.svg!);
  assert.ok(l6.length > 10 && l7.length > 10);
  // Fig. 6: prompt depths (integers) and Dice (one decimal); Fig. 7: rates like 1e-4 and Dice.
  for (const l of l6) assert.match(l, /^(\d+|\d+\.\d)$/, `Fig. 6 tick "${l}"`);
  assert.ok(l6.some((l) => /^\d+\.\d$/.test(l)));
  for (const l of l7) assert.match(l, /^(\d+\.\d|\d(\.\d)?e[-−]\d+)$/, `Fig. 7 tick "${l}"`);
  assert.ok(
    l7.some((l) => /e[-−]\d/.test(l)),
    'learning rates in scientific notation',
  );
  for (const l of tickLabels(curves.svg!)) assert.match(l, /^(\d+|\d+\.\d{1,2})$/, `curves tick "${l}"`);
  assert.deepEqual([2e-4, 1.5e-3, 0.01, 0, 3].map(formatRate), ['2e-4', '1.5e-3', '1e-2', '0', '3e0']);
});

test('every figure has a one-line summary (its text alternative with the title)', () => {
  for (const f of figs) {
    assert.ok(f.summary.length > 20 && !f.summary.includes('\n'), `${f.id}: ${f.summary}`);
  }
  assert.match(figs.find((f) => f.id === 'fig4-tsne')!.summary, /Kvasir vs BUSI vs CAMUS: text embeddings, \d+% of 9 points/);
});

test('renderSvg renders a plain Vega-Lite spec offline', async () => {
  const svg = await renderSvg(
    {
      data: {
        values: [
          { a: 1, b: 2 },
          { a: 2, b: 1 },
        ],
      },
      mark: 'point',
      encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
    },
    'x',
  );
  assert.equal(countMarks(svg).points, 2);
  assert.equal(marksIn(svg, 'symbol'), 2);
});
