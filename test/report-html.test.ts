// writeReport and `tunevlseg report`: the files written, a self-contained HTML file, galleries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { type SyntheticBench, buildGallery, loadBench, makeSyntheticBench, writeReport } from '../src/report/index.js';
import { registerReportCommand } from '../src/cli/report.js';

let tmp = '';
let info: SyntheticBench;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'report-html-'));
  info = await makeSyntheticBench(path.join(tmp, 'bench'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('writeReport writes report.md, table CSV/LaTeX, figure SVGs and a self-contained report.html', async () => {
  const out = path.join(tmp, 'out');
  const p = await writeReport(info.dir, out, { withPaperE2E: true, tsneIterations: 200, date: new Date('2025-01-02T03:04:05Z') });
  assert.equal(p.html, path.join(out, 'report.html'));
  assert.equal(p.markdown, path.join(out, 'report.md'));
  assert.deepEqual(Object.keys(p.csv), ['table3', 'table4', 'table5']);
  assert.deepEqual(Object.keys(p.latex), ['table3', 'table4', 'table5']);
  assert.equal(p.csv.table3, path.join(out, 'table3.csv'));
  assert.equal(p.latex.table3, path.join(out, 'table3.tex'));
  assert.deepEqual(p.missing, ['cris__coop__camus']);
  assert.deepEqual(p.problems, []);
  for (const f of [p.html!, p.markdown!, ...Object.values(p.csv), ...Object.values(p.latex), ...p.figures]) assert.ok(existsSync(f), f);
  assert.equal(p.figures.length, 9);
  assert.deepEqual(readdirSync(out).filter((f) => f.startsWith('.')), [], 'no temporary files left');

  const md = readFileSync(p.markdown!, 'utf8');
  assert.match(md, /^# TuneVLSeg benchmark report: synthetic/);
  assert.match(md, /\| CRIS \| E2E finetune \| 91\.39 \| 69\.31 \| 91\.09 \| – \|/);
  assert.match(md, /!\[Fig\. 6: test Dice vs prompt depth\]\(figures\/fig6-depth\.svg\)/);
  assert.match(md, /CRIS CoOp \/ CAMUS: missing/);

  const html = readFileSync(p.html!, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">/);
  // Nothing is fetched: no scripts, no external sources, stylesheets or fonts.
  assert.doesNotMatch(html, /<script|<link\b|<iframe|@import|url\((?!#)/i);
  for (const m of html.matchAll(/\b(?:src|href)="([^"]*)"/g)) assert.ok(m[1]!.startsWith('data:image/png;base64,') || m[1]!.startsWith('#'), m[1]);
  assert.equal((html.match(/<figure class="figure"/g) ?? []).length, 9);
  assert.equal((html.match(/<svg\b/g) ?? []).length, 9);
  assert.equal((html.match(/<table class="results"/g) ?? []).length, 3);
  // Galleries: Kvasir 2 best + 2 worst of 4 samples, BUSI 2 best + 1 worst of 3; image, ground truth and prediction each.
  assert.equal((html.match(/<table class="gallery"/g) ?? []).length, 2);
  assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 3 * (4 + 3));
  assert.match(html, /2025-01-02 03:04 UTC/);
  assert.match(html, /cells\/cris__coop__camus/);
});

test('galleries: best and worst by per-sample Dice, from the best cell with predictions', async () => {
  const b = loadBench(info.dir);
  const kv = (await buildGallery(b, 'kvasir', { k: 2, thumbWidth: 32 }))!;
  assert.equal(kv.cell, info.predictions.kvasir!.cell);
  assert.deepEqual(kv.best.map((i) => i.dice), [0.95, 0.7]);
  assert.deepEqual(kv.worst.map((i) => i.dice), [0.2, 0.55]);
  assert.deepEqual(kv.notes, []);
  for (const it of [...kv.best, ...kv.worst]) {
    for (const uri of [it.image, it.groundTruth, it.prediction]) {
      assert.ok(uri !== null && uri.startsWith('data:image/png;base64,'));
      const png = Buffer.from(uri.slice('data:image/png;base64,'.length), 'base64');
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    }
  }
  const bu = (await buildGallery(b, 'busi', { k: 1 }))!;
  assert.equal(bu.cell, 'clipseg__vpt__busi');
  assert.deepEqual(bu.best.map((i) => i.name), ['case1']);
  assert.deepEqual(bu.worst.map((i) => i.name), ['case0']);
  assert.equal(await buildGallery(b, 'camus'), null);
});

async function cli(args: string[]): Promise<string[]> {
  const program = new Command().exitOverride();
  registerReportCommand(program);
  const lines: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  console.error = () => {};
  try {
    await program.parseAsync(['node', 'tunevlseg', 'report', ...args]);
  } finally {
    console.log = log;
    console.error = err;
  }
  return lines;
}

test('tunevlseg report prints the report path last; --format and --out', async () => {
  const out = path.join(tmp, 'cli-out');
  const lines = await cli([info.dir, '--out', out, '--with-paper-e2e', '--no-tsne', '--gallery-k', '1']);
  assert.equal(lines[lines.length - 1], path.join(out, 'report.html'));
  assert.ok(lines.includes(path.join(out, 'table3.csv')));
  const html = readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.ok(html.includes('E2E finetune'));
  assert.ok(!html.includes('fig4-tsne'));
  const md = await cli([info.dir, '--out', path.join(tmp, 'cli-md'), '--format', 'md,csv']);
  assert.equal(md[md.length - 1], path.join(tmp, 'cli-md', 'report.md'));
  assert.ok(!existsSync(path.join(tmp, 'cli-md', 'report.html')));
  assert.ok(!existsSync(path.join(tmp, 'cli-md', 'table3.tex')));
  assert.ok(existsSync(path.join(tmp, 'cli-md', 'table3.csv')));
  // Default output folder: <bench>/report.
  const def = await cli([info.dir, '--format', 'tex']);
  assert.equal(def[def.length - 1], path.join(info.dir, 'report', 'table3.tex'));
  await assert.rejects(cli([info.dir, '--format', 'pdf']), /unknown format "pdf"/);
  await assert.rejects(cli([path.join(tmp, 'missing-bench')]), /not a folder/);
});
