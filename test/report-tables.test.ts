// Tables 3-5 from a synthetic bench: values against the summaries, means, bold maxima,
// missing cells, ± std over seeds; Markdown, CSV and LaTeX well-formedness; HTML table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type Bench,
  type ResultTable,
  PAPER_E2E,
  loadBench,
  table3,
  table4,
  table5,
  toCsv,
  toHtmlTable,
  toLatex,
  toMarkdown,
  buildTables,
  latexEscape,
} from '../src/report/index.js';
import { type SyntheticBench, makeSyntheticBench } from './synthetic-bench.js';

let tmp = '';
let info: SyntheticBench;
let bench: Bench;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'report-tables-'));
  info = await makeSyntheticBench(path.join(tmp, 'bench'));
  bench = loadBench(info.dir);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const sampleStd = (xs: number[]): number => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

const rowOf = (t: ResultTable, ...labels: string[]) => {
  const r = t.rows.find((x) => labels.every((l, i) => x.labels[i] === l));
  assert.ok(r, `row ${labels.join(' ')} not found in ${t.id}`);
  return r;
};

/** RFC 4180 parser (quoted fields, doubled quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') q = false;
      else field += c;
    } else if (c === '"') {
      assert.equal(field, '', 'a quote inside an unquoted field');
      q = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (c !== '\r') field += c;
  }
  assert.equal(q, false, 'unterminated quoted field');
  assert.equal(field, '', 'CSV must end with a newline');
  return rows;
}

test('Table 3 values equal the summaries (percent), with mean ± sample std over seeds', () => {
  const t = table3(bench);
  assert.deepEqual(
    t.columns.map((c) => c.key),
    ['kvasir', 'busi', 'camus'],
  );
  assert.deepEqual(
    t.rows.map((r) => r.labels.join(' / ')),
    ['CLIPSeg / MaPLe', 'CLIPSeg / VPT', 'CLIPSeg / CoOp', 'CRIS / CoOp', 'Average across Methods / '],
  );
  for (const r of t.rows.filter((x) => x.kind === 'method')) {
    r.values.forEach((v, j) => {
      const id = r.cells[j]!;
      const dice = info.testDice[id];
      if (!dice) {
        assert.equal(v, null, `${id} is missing`);
        return;
      }
      assert.ok(v);
      close(v.mean, mean(dice) * 100);
      assert.equal(v.n, dice.length);
      if (dice.length > 1) close(v.std!, sampleStd(dice) * 100);
      else assert.equal(v.std, null);
    });
  }
  const vpt = rowOf(t, 'CLIPSeg', 'VPT');
  close(vpt.values[0]!.mean, 82);
  close(vpt.values[0]!.std!, Math.SQRT2 * 2);
  // Row mean over the present datasets; CRIS CoOp lacks CAMUS, so its mean is partial.
  close(vpt.summary!.mean, (82 + 67.02 + 87.31) / 3);
  const cris = rowOf(t, 'CRIS', 'CoOp');
  assert.equal(cris.values[2], null);
  assert.equal(cris.partial, true);
  close(cris.summary!.mean, (75.55 + 58.34) / 2);
  assert.equal(vpt.partial, false);
  // Column means ("Average across Methods").
  const avg = t.rows[t.rows.length - 1]!;
  assert.equal(avg.kind, 'average');
  close(avg.values[0]!.mean, (86.12 + 82 + 70.11 + 75.55) / 4);
  close(avg.values[2]!.mean, (84.55 + 87.31 + 77.02) / 3);
  assert.equal(avg.values[2]!.n, 3);
});

test('Table 3 bolds the best value of each column and of the mean, methods only', () => {
  const t = table3(bench, { withPaperE2E: true });
  const bold = t.rows.flatMap((r) =>
    r.values.map((v, j) => (r.bold[j] ? `${r.labels[1]}@${t.columns[j]!.key}=${v!.mean.toFixed(2)}` : null)).filter(Boolean),
  );
  assert.deepEqual(bold, ['MaPLe@kvasir=86.12', 'VPT@busi=67.02', 'VPT@camus=87.31']);
  assert.deepEqual(
    t.rows.filter((r) => r.summaryBold).map((r) => r.labels[1]),
    ['VPT'],
  );
  // The E2E rows hold the paper's numbers, and are never bold though higher.
  const e2e = t.rows.filter((r) => r.kind === 'reference');
  assert.equal(e2e.length, 2);
  const cris = PAPER_E2E.find((x) => x.model === 'cris')!;
  assert.deepEqual(
    rowOf(t, 'CRIS', 'E2E finetune').values.map((v) => v!.mean),
    [cris.values.kvasir, cris.values.busi, cris.values.camus],
  );
  assert.ok(e2e.every((r) => r.bold.every((b) => !b) && !r.summaryBold && r.summary === null));
  // The average row ignores the reference rows.
  close(t.rows[t.rows.length - 1]!.values[0]!.mean, (86.12 + 82 + 70.11 + 75.55) / 4);
});

test('ties at the printed precision are all bold', () => {
  const b = loadBench(info.dir);
  const coop = b.cells.find((c) => c.id === 'clipseg__coop__kvasir')!;
  coop.test = { ...coop.test!, mean: 0.861249 }; // prints 86.12 like MaPLe's 0.8612
  const t = table3(b);
  assert.equal(rowOf(t, 'CLIPSeg', 'MaPLe').bold[0], true);
  assert.equal(rowOf(t, 'CLIPSeg', 'CoOp').bold[0], true);
  assert.equal(rowOf(t, 'CLIPSeg', 'VPT').bold[0], false);
});

test('Markdown: bold maxima, ± std, en dash for the missing cell, partial mean marked', () => {
  const md = toMarkdown(table3(bench));
  const lines = md.split('\n').filter((l) => l.startsWith('|'));
  assert.equal(lines.length, 2 + 5);
  const cols = (l: string) => l.split(/(?<!\\)\|/).length;
  assert.ok(
    lines.every((l) => cols(l) === cols(lines[0]!)),
    'every row has the header`s column count',
  );
  assert.match(md, /\| CLIPSeg \| MaPLe \| \*\*86\.12\*\* \| 62\.31 \| 84\.55 \| 77\.66 \|/);
  assert.match(md, /\| CLIPSeg \| VPT \| 82\.00 ± 2\.83 \| \*\*67\.02\*\* \| \*\*87\.31\*\* \| \*\*78\.78\*\* \|/);
  assert.match(md, /\| CRIS \| CoOp \| 75\.55 \| 58\.34 \| – \| 66\.94† \|/);
  assert.match(md, /Missing \(–\): CRIS CoOp \/ CAMUS/);
});

test('CSV: RFC 4180, one header, equal field counts, numbers match', () => {
  const t = table3(bench, { withPaperE2E: true });
  const rows = parseCsv(toCsv(t));
  const head = rows[0]!;
  assert.deepEqual(head, [
    'kind',
    'model',
    'context_learner',
    'kvasir',
    'kvasir_std',
    'kvasir_n',
    'busi',
    'busi_std',
    'busi_n',
    'camus',
    'camus_std',
    'camus_n',
    'mean',
  ]);
  assert.equal(rows.length, 1 + t.rows.length);
  for (const r of rows) assert.equal(r.length, head.length);
  const vpt = rows.find((r) => r[1] === 'CLIPSeg' && r[2] === 'VPT')!;
  assert.equal(Number(vpt[3]), 82);
  assert.equal(Number(vpt[4]), 2.8284);
  assert.equal(vpt[5], '2');
  const cris = rows.find((r) => r[0] === 'method' && r[1] === 'CRIS')!;
  assert.deepEqual(cris.slice(9, 12), ['', '', '']);
  assert.equal(rows.filter((r) => r[0] === 'reference').length, 2);
  // Quoting: a label with a comma and a quote survives.
  const t2 = { ...t, rows: [{ ...t.rows[2]!, labels: ['A, "B"', 'C'] }] };
  assert.deepEqual(parseCsv(toCsv(t2))[1]!.slice(1, 3), ['A, "B"', 'C']);
});

/** Checks a booktabs table: balanced environments and braces, rules, and a constant column count. */
function checkLatex(tex: string, ncols: number): void {
  assert.equal((tex.match(/\\begin\{/g) ?? []).length, (tex.match(/\\end\{/g) ?? []).length);
  let depth = 0;
  for (let i = 0; i < tex.length; i++) {
    if (tex[i] === '\\') {
      i++;
      continue;
    }
    if (tex[i] === '{') depth++;
    if (tex[i] === '}') depth--;
    assert.ok(depth >= 0, 'unbalanced }');
  }
  assert.equal(depth, 0, 'unbalanced {');
  const spec = /\\begin\{tabular\}\{([lcr]+)\}/.exec(tex);
  assert.ok(spec);
  assert.equal(spec[1]!.length, ncols);
  for (const r of ['\\toprule', '\\midrule', '\\bottomrule']) assert.ok(tex.includes(r), r);
  const body = tex.slice(tex.indexOf('\\toprule'), tex.indexOf('\\bottomrule'));
  const rows = body.split('\n').filter((l) => l.endsWith('\\\\'));
  assert.ok(rows.length >= 3);
  for (const l of rows) {
    // Columns: unescaped & separators, counting \multicolumn{k} as k columns.
    const amps = (l.match(/(?<!\\)&/g) ?? []).length;
    const extra = [...l.matchAll(/\\multicolumn\{(\d+)\}/g)].reduce((s, m) => s + Number(m[1]) - 1, 0);
    assert.equal(amps + 1 + extra, ncols, `row "${l}"`);
  }
  // No raw special characters outside commands.
  assert.doesNotMatch(tex.replace(/\\[%$&_#{}]/g, ''), /(?<!\\)%(?! Generated)/);
}

test('LaTeX: booktabs, well-formed, bold and ± as commands, missing as --', () => {
  const t = table3(bench, { withPaperE2E: true });
  const tex = toLatex(t);
  checkLatex(tex, 2 + 3 + 1);
  assert.ok(tex.includes('\\textbf{86.12}'));
  assert.ok(tex.includes('82.00 $\\pm$ 2.83'));
  assert.ok(tex.includes('& -- &'));
  assert.ok(tex.includes('66.94$^\\dagger$'));
  assert.ok(tex.includes('\\multicolumn{2}{c}{Radiology}'));
  assert.ok(tex.includes('\\cmidrule(lr){4-5}'));
  assert.ok(tex.includes('Test Dice (\\%)'));
  for (const tt of [table4(bench)!, table5(bench)!]) checkLatex(toLatex(tt), tt.labelHeaders.length + tt.columns.length + 1);
  assert.equal(latexEscape('a_b & 50% #1 {x} ~ ^'), 'a\\_b \\& 50\\% \\#1 \\{x\\} \\textasciitilde{} \\textasciicircum{}');
});

test('Table 4: Gaussian vs "a photo of a" with mean ± std over datasets', () => {
  const t = table4(bench)!;
  assert.deepEqual(
    t.rows.map((r) => r.labels[0]),
    ['Gaussian', 'a photo of a'],
  );
  const g = [84.01, 63.33, 80.12];
  const p = [86.12, 62.31, 84.55];
  t.rows[0]!.values.forEach((v, j) => close(v!.mean, g[j]!));
  t.rows[1]!.values.forEach((v, j) => close(v!.mean, p[j]!));
  close(t.rows[0]!.summary!.mean, mean(g));
  close(t.rows[0]!.summary!.std!, sampleStd(g));
  assert.deepEqual(
    t.rows.map((r) => r.bold),
    [
      [false, true, false],
      [true, false, true],
    ],
  );
  assert.deepEqual(
    t.rows.map((r) => r.summaryBold),
    [false, true],
  );
  assert.match(toMarkdown(t), /\| a photo of a \| \*\*86\.12\*\* \| 62\.31 \| \*\*84\.55\*\* \| \*\*77\.66 ± 13\.32\*\* \|/);
});

test('Table 5: no-upsampler rows, average row, and the change against Table 3', () => {
  const t = table5(bench)!;
  assert.deepEqual(
    t.rows.map((r) => r.labels.join(' ')),
    ['CLIPSeg VPT', 'CLIPSeg CoOp', 'Average across Methods '],
  );
  close(t.rows[0]!.values[0]!.mean, 79.12);
  close(t.rows[2]!.values[1]!.mean, (60.11 + 50.02) / 2);
  close(t.rows[1]!.summary!.std!, sampleStd([68.14, 50.02, 74.05]));
  const delta = mean([82 - 79.12, 67.02 - 60.11, 87.31 - 85.23, 70.11 - 68.14, 51.23 - 50.02, 77.02 - 74.05]);
  assert.ok(
    t.notes.some((n) => n.includes(`+${delta.toFixed(2)} points`)),
    t.notes.join('\n'),
  );
  assert.equal(
    buildTables(bench)
      .map((x) => x.id)
      .join(','),
    'table3,table4,table5',
  );
});

test('HTML table: header groups, strong maxima, missing class, escaped labels', () => {
  const t = table3(bench);
  const html = toHtmlTable(t);
  assert.equal((html.match(/<strong>/g) ?? []).length, 4);
  assert.equal((html.match(/<td class="missing">–<\/td>/g) ?? []).length, 1);
  assert.match(html, /<th colspan="2">Radiology<\/th>/);
  assert.equal((html.match(/<tr class="(method|average)/g) ?? []).length, 5);
  const evil = { ...t, caption: '<script>x</script>' };
  assert.ok(!toHtmlTable(evil).includes('<script>'));
});

test('a bench without ablations has no Tables 4 and 5', async () => {
  const dir = path.join(tmp, 'plain');
  const { mkdirSync, cpSync } = await import('node:fs');
  mkdirSync(path.join(dir, 'cells'), { recursive: true });
  cpSync(path.join(info.dir, 'cells', 'clipseg__vpt__kvasir'), path.join(dir, 'cells', 'clipseg__vpt__kvasir'), { recursive: true });
  const b = loadBench(dir);
  assert.equal(b.gridSource, 'inferred');
  assert.equal(table4(b), null);
  assert.equal(table5(b), null);
  const t = table3(b);
  assert.equal(t.rows.length, 2);
  close(t.rows[0]!.values[0]!.mean, 82);
  // Unknown datasets (none here) would get no group; Kvasir is Non-Radiology.
  assert.deepEqual(t.groups, [{ label: 'Non-Radiology', span: 1 }]);
});

test('runs that read val/test as the original reads VOC/Cityscapes (summary.json "evaluation") are named in the notes', async () => {
  const { cpSync, readFileSync, readdirSync, writeFileSync } = await import('node:fs');
  assert.ok(!table3(bench).notes.some((n) => /training augmentation/.test(n)), 'clean runs: no note');
  const dir = path.join(tmp, 'evaluated');
  cpSync(info.dir, dir, { recursive: true });
  // every camus cell: augmented val/test, tested on the val split (as train writes it for VOC/Cityscapes)
  const files = readdirSync(path.join(dir, 'cells'), { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.startsWith('clipseg__') && f.includes('__camus') && f.endsWith('summary.json'),
  );
  assert.ok(files.length > 0);
  for (const f of files) {
    const file = path.join(dir, 'cells', f);
    const s = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...s, evaluation: { augmented: true, testSplit: 'val' } }));
  }
  const b = loadBench(dir);
  const run = b.cells.find((c) => c.key.dataset === 'camus' && c.key.model === 'clipseg')!.runs[0]!;
  assert.deepEqual(run.summary!.evaluation, { augmented: true, testSplit: 'val' });
  const note = table3(b).notes.find((n) => /training augmentation/.test(n));
  assert.equal(
    note,
    "CAMUS: val and test inputs went through the training augmentation, as the original's data configs read them; " +
      'the test set is CAMUS\'s val split (no test split; the original tests on val) (summary.json "evaluation").',
  );
});
