// writeReport and `tunevlseg report`: the files written, a self-contained HTML file, galleries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { buildGallery, loadBench, writeReport } from '../src/report/index.js';
import { type SyntheticBench, makeSyntheticBench } from './synthetic-bench.js';
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
  assert.deepEqual(
    readdirSync(out).filter((f) => f.startsWith('.')),
    [],
    'no temporary files left',
  );

  const md = readFileSync(p.markdown!, 'utf8');
  assert.match(md, /^# TuneVLSeg benchmark report: synthetic/);
  assert.match(md, /\| CRIS \| E2E finetune \| 91\.39 \| 69\.31 \| 91\.09 \| – \|/);
  assert.match(md, /!\[Fig\. 6: test Dice vs prompt depth: [^\]]+\]\(figures\/fig6-depth\.svg\)/);
  assert.match(md, /CRIS CoOp \/ CAMUS: missing/);

  const html = readFileSync(p.html!, 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">/);
  // Nothing is fetched: no scripts, no external sources, stylesheets or fonts.
  assert.doesNotMatch(html, /<script|<link\b|<iframe|@import|url\((?!#)/i);
  for (const m of html.matchAll(/\b(?:src|href)="([^"]*)"/g))
    assert.ok(/^data:image\/(png|jpeg);base64,/.test(m[1]!) || m[1]!.startsWith('#'), m[1]);
  assert.equal((html.match(/<figure class="figure"/g) ?? []).length, 9);
  assert.equal((html.match(/<svg\b/g) ?? []).length, 9);
  assert.equal((html.match(/<table class="results"/g) ?? []).length, 3);
  // Galleries: best, median and worst image; Kvasir: ground truth, zero-shot, MaPLe, CoOp; BUSI: ground truth, VPT.
  assert.equal((html.match(/<table class="gallery"/g) ?? []).length, 2);
  assert.equal((html.match(/<img src="data:image\/(png|jpeg);base64,/g) ?? []).length, 3 * 4 + 3 * 2);
  // Every figure has a text alternative: role="img" and the title plus its summary.
  assert.equal(
    (html.match(/<svg role="img" aria-label="Fig\. |<svg role="img" aria-label="(Sweep trials|Training curves)/g) ?? []).length,
    9,
  );
  assert.match(html, /@media print/);
  // A dataset without predictions says why it has no gallery.
  assert.match(html, /No gallery for CAMUS: no cell of it has scored predictions/);
  assert.match(html, /2025-01-02 03:04 UTC/);
  assert.match(html, /cells\/cris__coop__camus/);
});

test('galleries: best, median and worst image by mean Dice over the methods; zero-shot and each method as columns', async () => {
  const b = loadBench(info.dir);
  const kv = (await buildGallery(b, 'kvasir', { thumbWidth: 32 }))!;
  assert.deepEqual(
    kv.columns.map((c) => c.id),
    info.galleryColumns.kvasir,
  );
  assert.deepEqual(
    kv.columns.map((c) => c.label),
    ['Zero-shot CLIPSeg', 'CLIPSeg MaPLe', 'CLIPSeg CoOp'],
  );
  // Mean over MaPLe and CoOp (zero-shot excluded): img0 0.90, img1 0.25, img2 0.60, img3 0.50.
  assert.deepEqual(
    kv.rows.map((r) => [r.rank, r.name]),
    [
      ['best', 'img0.png'],
      ['median', 'img2.png'],
      ['worst', 'img1.png'],
    ],
  );
  assert.ok(Math.abs(kv.rows[0]!.meanDice - 0.9) < 1e-12);
  assert.deepEqual(
    kv.rows[2]!.tiles.map((t) => t.dice),
    [info.zeroShot.clipseg__kvasir![1], info.predictions.kvasir!.dice[1], 0.3],
  );
  assert.deepEqual(kv.notes, []);
  for (const r of kv.rows) {
    for (const uri of [r.groundTruth, ...r.tiles.map((t) => t.uri)]) {
      assert.ok(uri !== null && /^data:image\/(png|jpeg);base64,/.test(uri));
      const img = Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64');
      assert.ok(img.subarray(0, 4).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47])) || img.subarray(0, 2).equals(Buffer.from([0xff, 0xd8])));
    }
  }
  // Two rows per group: with four images, best 2, median (the middle two) overlap and are shown once.
  const k2 = (await buildGallery(b, 'kvasir', { k: 2, thumbWidth: 16 }))!;
  assert.deepEqual(
    k2.rows.map((r) => r.name),
    ['img0.png', 'img2.png', 'img3.png', 'img1.png'],
  );
  const bu = (await buildGallery(b, 'busi'))!;
  assert.deepEqual(
    bu.columns.map((c) => c.id),
    ['clipseg__vpt__busi'],
  );
  assert.deepEqual(
    bu.rows.map((r) => r.name),
    ['case1', 'case2', 'case0'],
  );
  assert.equal(await buildGallery(b, 'camus'), null);
});

test('gallery HTML: thumbnails open larger with CSS only (:target), each image inlined once', async () => {
  const out = path.join(tmp, 'zoom');
  const p = await writeReport(info.dir, out, { formats: ['html'], include: [] });
  const html = readFileSync(p.html!, 'utf8');
  const tiles = [...html.matchAll(/<figure class="tile" id="([^"]+)"><a class="open" href="#([^"]+)"/g)];
  assert.equal(
    tiles.length,
    3 * 4 + 3 * 2,
    html
      .match(/<table class="gallery"[\s\S]*?<\/table>/g)!
      .map((x) => x.replace(/data:[^"]+/g, 'D'))
      .join('\n')
      .replace(/<figure class="tile"[^]*?<\/figure>/g, 'T'),
  );
  for (const t of tiles) assert.equal(t[1], t[2], 'each thumbnail links to its own tile');
  assert.match(html, /\.tile:target \.open img \{ position: fixed;/);
  const uris = [...html.matchAll(/src="(data:[^"]+)"/g)].map((m) => m[1]);
  assert.equal(uris.length, tiles.length, 'one inline image per tile: the zoom reuses it');
  assert.ok(Buffer.byteLength(html) < 3_000_000);
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
