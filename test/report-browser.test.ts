// The HTML report in a real browser: Debian's chromium, headless, driven by playwright-core.
// Opens report.html from disk and checks every figure rendered with its data marks, every
// image decoded, no console errors and no network request; saves a screenshot.
import { test, before, after } from 'node:test';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { writeReport } from '../src/report/index.js';
import { type SyntheticBench, makeSyntheticBench } from './synthetic-bench.js';
import { repoRoot } from './helpers.js';

const CHROMIUM = process.env.TUNEVLSEG_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let tmp = '';
let info: SyntheticBench;
let reportFile = '';

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'report-browser-'));
  info = await makeSyntheticBench(path.join(tmp, 'bench'));
  reportFile = (await writeReport(info.dir, path.join(tmp, 'out'), { formats: ['html'], tsneIterations: 300 })).html!;
});
after(() => rmSync(tmp, { recursive: true, force: true }));

interface FigureCheck {
  id: string;
  width: number;
  height: number;
  children: number;
  points: number;
  lines: number;
  expectedPoints: number;
  expectedLines: number;
}

test('report.html renders in headless chromium: figures with their marks, images, no errors, no network', async () => {
  if (!existsSync(CHROMIUM)) {
    assert.fail(
      `chromium not found at ${CHROMIUM}: the report's browser test needs Debian's chromium; run scripts/bootstrap.sh (it installs it with apt-get)`,
    );
  }
  const userDataDir = mkdtempSync(path.join(tmp, 'chromium-profile-'));
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    offline: true,
  });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    const url = pathToFileURL(reportFile).href;
    await page.goto(url, { waitUntil: 'load' });

    const figs = (await page.$$eval('figure.figure', (els) =>
      els.map((el) => {
        const svg = el.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        return {
          id: el.getAttribute('data-figure') ?? '',
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          children: svg?.querySelectorAll('*').length ?? 0,
          points: svg?.querySelectorAll('g.mark-symbol.role-mark > path').length ?? 0,
          lines: svg?.querySelectorAll('g.mark-line.role-mark > path').length ?? 0,
          expectedPoints: Number(el.getAttribute('data-expected-points')),
          expectedLines: Number(el.getAttribute('data-expected-lines')),
        };
      }),
    )) as FigureCheck[];
    assert.deepEqual(
      figs.map((f) => f.id),
      [
        'fig6-depth',
        'fig7-lr-wd',
        'trials-kvasir',
        'trials-busi',
        'trials-camus',
        'curves-kvasir',
        'curves-busi',
        'curves-camus',
        'fig4-tsne',
      ],
    );
    for (const f of figs) {
      assert.ok(f.width > 100 && f.height > 100, `${f.id}: rendered ${f.width} x ${f.height}`);
      assert.ok(f.children > 50, `${f.id}: ${f.children} SVG elements`);
      assert.equal(f.points, f.expectedPoints, `${f.id} points`);
      assert.equal(f.lines, f.expectedLines, `${f.id} lines`);
    }
    // The counts the synthetic bench implies, independently of the figures' own bookkeeping.
    const main = Object.entries(info.trials).filter(([id]) => id.split('__').length === 3);
    const evaluated = main.flatMap(([, ts]) => ts.filter((t) => t.state === 'complete' && t.testDice !== null)).length;
    const byId = Object.fromEntries(figs.map((f) => [f.id, f]));
    assert.equal(byId['fig6-depth']!.points, evaluated);
    assert.equal(byId['fig6-depth']!.lines, 3);
    assert.equal(byId['fig7-lr-wd']!.points, 2 * evaluated);
    assert.equal(
      byId['trials-kvasir']!.points,
      main.filter(([id]) => id.endsWith('__kvasir')).flatMap(([, ts]) => ts.filter((t) => t.value !== null)).length,
    );
    assert.equal(
      byId['curves-kvasir']!.lines,
      3 *
        Object.entries(info.runs)
          .filter(([id]) => id.endsWith('__kvasir'))
          .reduce((s, [, n]) => s + n, 0),
    );
    assert.equal(
      byId['fig4-tsne']!.points,
      Object.values(info.embeddings).reduce((s, e) => s + e.text + e.image, 0),
    );

    // Every inline image decoded: Kvasir 3 rows x (ground truth, zero-shot, MaPLe, CoOp), BUSI 3 x (ground truth, VPT).
    type Img = { complete: boolean; naturalWidth: number; src: string };
    const imgs = await page.$$eval('img', (els) =>
      els.map((e) => {
        const i = e as unknown as Img;
        return { ok: i.complete && i.naturalWidth > 0, src: i.src.slice(0, 23) };
      }),
    );
    assert.equal(imgs.length, 3 * 4 + 3 * 2);
    assert.ok(
      imgs.every((i) => i.ok && /^data:image\/(png|jpeg);base64,/.test(i.src)),
      JSON.stringify(imgs.filter((i) => !i.ok)),
    );

    // Tables: bold maxima and the missing cell as the browser sees them.
    const t3 = await page.$eval('#table3', (t) => ({
      strong: t.querySelectorAll('strong').length,
      missing: t.querySelectorAll('td.missing').length,
      rows: t.querySelectorAll('tbody tr').length,
    }));
    assert.deepEqual(t3, { strong: 4, missing: 1, rows: 5 });

    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [url], `only the report itself is loaded, got ${requests.join(', ')}`);

    const shot = path.join(tmp, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot));
    const png = readFileSync(shot);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    assert.ok(statSync(shot).size > 50_000, `screenshot is ${statSync(shot).size} bytes`);
    assert.ok(png.readUInt32BE(20) > 2000, `full-page height ${png.readUInt32BE(20)}`);
  } finally {
    await ctx.close();
  }
});

/** Opens a report in chromium (offline), collects console errors and requests, runs `check`, closes. */
async function inBrowser(
  file: string,
  check: (page: import('playwright-core').Page) => Promise<void>,
): Promise<{ errors: string[]; requests: string[]; url: string }> {
  if (!existsSync(CHROMIUM)) assert.fail(`chromium not found at ${CHROMIUM}: run scripts/bootstrap.sh (it installs it with apt-get)`);
  const ctx = await chromium.launchPersistentContext(mkdtempSync(path.join(tmp, 'chromium-profile-')), {
    executablePath: CHROMIUM,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    offline: true,
  });
  const errors: string[] = [];
  const requests: string[] = [];
  const url = pathToFileURL(file).href;
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url, { waitUntil: 'load' });
    await check(page);
  } finally {
    await ctx.close();
  }
  return { errors, requests, url };
}

test("the demo's report: galleries of decoded images, Fig. 4, no degenerate figure, no errors, no network", async () => {
  // A very short demo (two learners, a few steps): the report is what a new user opens first.
  const run = path.join(tmp, 'demo');
  const r = spawnSync(
    process.execPath,
    [
      path.join(repoRoot(), 'bin', 'tunevlseg.js'),
      'demo',
      '--steps',
      '2',
      '--train',
      '16',
      '--val',
      '8',
      '--test',
      '12',
      '--source-test',
      '16',
      '--learners',
      'vpt,coop',
      '-q',
      '--run-dir',
      run,
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const report = path.join(run, 'report', 'report.html');
  assert.ok(r.stdout.includes(`report: ${report}`));
  assert.ok(statSync(report).size < 3_000_000, `report.html is ${statSync(report).size} bytes`);
  const shot = path.join(tmp, 'demo-report.png');
  const { errors, requests, url } = await inBrowser(report, async (page) => {
    // Galleries: one per dataset, at least 3 image rows, ground truth + zero-shot + each learner.
    const galleries = await page.$$eval('table.gallery', (ts) =>
      ts.map((t) => ({
        dataset: t.getAttribute('data-dataset'),
        rows: t.querySelectorAll('tbody tr').length,
        cols: t.querySelectorAll('thead th').length,
      })),
    );
    assert.deepEqual(
      galleries.map((g) => g.dataset),
      ['ultrasound'],
    );
    for (const g of galleries) {
      assert.ok(g.rows >= 3, `${g.dataset}: ${g.rows} rows`);
      assert.equal(g.cols, 1 + 1 + 1 + 2, 'info, ground truth, zero-shot, VPT, CoOp');
    }
    const imgs = await page.$$eval('table.gallery img', (els) =>
      els.map((e) => {
        const i = e as unknown as { complete: boolean; naturalWidth: number };
        return i.complete && i.naturalWidth > 0;
      }),
    );
    assert.ok(imgs.length >= 3 * 4);
    assert.ok(imgs.every(Boolean), `${imgs.filter((x) => !x).length} images did not decode`);
    // Figures: each drawn one holds the data marks it promises, and something to look at.
    const figs = await page.$$eval('figure.figure', (els) =>
      els.map((el) => {
        const svg = el.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        return {
          id: el.getAttribute('data-figure') ?? '',
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          points: svg?.querySelectorAll('g.mark-symbol.role-mark > path').length ?? 0,
          lines: svg?.querySelectorAll('g.mark-line.role-mark > path').length ?? 0,
          expectedPoints: Number(el.getAttribute('data-expected-points')),
          expectedLines: Number(el.getAttribute('data-expected-lines')),
          alt: svg?.getAttribute('aria-label') ?? '',
          role: svg?.getAttribute('role') ?? '',
          ticks: [...(svg?.querySelectorAll('g.role-axis-label text') ?? [])].map((t) => t.textContent ?? ''),
        };
      }),
    );
    const ids = figs.map((f) => f.id);
    assert.ok(ids.includes('fig4-tsne'), `Fig. 4 renders (figures: ${ids.join(', ')})`);
    assert.ok(ids.includes('curves-ultrasound'));
    for (const f of figs) {
      assert.ok(f.width > 100 && f.height > 100, `${f.id}: ${f.width} x ${f.height}`);
      assert.ok(f.expectedPoints + f.expectedLines > 1, `${f.id}: a figure of one mark says nothing`);
      assert.equal(f.points, f.expectedPoints, `${f.id} points`);
      assert.equal(f.lines, f.expectedLines, `${f.id} lines`);
      assert.equal(f.role, 'img');
      assert.ok(f.alt.length > 30, `${f.id}: text alternative "${f.alt}"`);
      for (const t of f.ticks) assert.doesNotMatch(t, /\.\d{3,}/, `${f.id}: tick "${t}"`);
    }
    // One learning rate and one depth: Figs. 6 and 7 are left out, each with a line saying why.
    const omitted = await page.$$eval('ul.omitted li', (ls) => ls.map((l) => [l.getAttribute('data-omitted'), l.textContent ?? '']));
    assert.deepEqual(
      omitted.map((o) => o[0]),
      ['fig6-depth', 'fig7-lr-wd'],
    );
    assert.match(omitted[1]![1]!, /one learning rate \(1e-2\)/);
    // The tables say which protocol they show.
    assert.match(await page.$eval('#table3 caption', (c) => c.textContent ?? ''), /Protocol original-size:/);
    // CSS-only zoom: following a thumbnail's link enlarges it.
    const tile = await page.$eval('table.gallery figure.tile', (f) => f.id);
    const before = await page.$eval(`#${tile} img`, (i) => i.getBoundingClientRect().width);
    await page.click(`#${tile} a.open`);
    const after = await page.$eval(`#${tile} img`, (i) => i.getBoundingClientRect().width);
    assert.ok(after > 3 * before, `zoomed ${before} -> ${after}`);
    await page.click(`#${tile} a.close`);
    await page.screenshot({ path: shot, fullPage: true });
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [url], `only the report itself is loaded, got ${requests.join(', ')}`);
  const png = readFileSync(shot);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  assert.ok(png.readUInt32BE(20) > 1500, `full-page height ${png.readUInt32BE(20)}`);
  // A copy for people to look at, when the notes folder exists (the project's shared notes).
  const notes = process.env.TUNEVLSEG_SCREENSHOT_DIR;
  if (notes) {
    mkdirSync(notes, { recursive: true });
    copyFileSync(shot, path.join(notes, 'issue-13-report.png'));
  }
});
