// The HTML report in a real browser: Debian's chromium, headless, driven by playwright-core.
// Opens report.html from disk and checks every figure rendered with its data marks, every
// image decoded, no console errors and no network request; saves a screenshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { type SyntheticBench, makeSyntheticBench, writeReport } from '../src/report/index.js';

const CHROMIUM = process.env.TUNEVLSEG_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

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
    assert.fail(`chromium not found at ${CHROMIUM}: the report's browser test needs Debian's chromium; run scripts/bootstrap.sh (it installs it with apt-get)`);
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

    const figs = await page.$$eval('figure.figure', (els) =>
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
    ) as FigureCheck[];
    assert.deepEqual(figs.map((f) => f.id), ['fig6-depth', 'fig7-lr-wd', 'trials-kvasir', 'trials-busi', 'trials-camus', 'curves-kvasir', 'curves-busi', 'curves-camus', 'fig4-tsne']);
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
    assert.equal(byId['trials-kvasir']!.points, main.filter(([id]) => id.endsWith('__kvasir')).flatMap(([, ts]) => ts.filter((t) => t.value !== null)).length);
    assert.equal(byId['curves-kvasir']!.lines, 3 * Object.entries(info.runs).filter(([id]) => id.endsWith('__kvasir')).reduce((s, [, n]) => s + n, 0));
    assert.equal(byId['fig4-tsne']!.points, Object.values(info.embeddings).reduce((s, e) => s + e.text + e.image, 0));

    // Every inline image decoded.
    type Img = { complete: boolean; naturalWidth: number; src: string };
    const imgs = await page.$$eval('img', (els) => els.map((e) => {
      const i = e as unknown as Img;
      return { ok: i.complete && i.naturalWidth > 0, src: i.src.slice(0, 22) };
    }));
    assert.equal(imgs.length, 3 * (4 + 3));
    assert.ok(imgs.every((i) => i.ok && i.src === 'data:image/png;base64,'), JSON.stringify(imgs.filter((i) => !i.ok)));

    // Tables: bold maxima and the missing cell as the browser sees them.
    const t3 = await page.$eval('#table3', (t) => ({ strong: t.querySelectorAll('strong').length, missing: t.querySelectorAll('td.missing').length, rows: t.querySelectorAll('tbody tr').length }));
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
