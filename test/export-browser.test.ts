// The export's web page in a real browser: Debian's chromium, headless, driven by
// playwright-core. Served by `tunevlseg serve`'s server (src/export/serve.ts) on the loopback
// interface: loads a test image through the page's file input, reads back the mask (>= 99.9% of
// pixels as `predict --onnx`), checks that nothing was requested beyond the page's own files, and
// saves a screenshot. Opened from disk (file://, a double-click): the page says, in the page,
// how to open it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { chromium } from 'playwright-core';
import * as T from '../src/torch/index.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { exportModel } from '../src/export/bundle.js';
import { OnnxSegmenter } from '../src/export/onnx-runtime.js';
import { predictFolder } from '../src/inference/index.js';
import { serveFolder, webRootOf as webRootOfOrThrow, type Served } from '../src/export/serve.js';
import { shellQuote } from '../src/util/shell-quote.js';
import { fixturesDir, sharedDir } from './helpers.js';

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
let exportDir = '';
let image = '';
let served: Served | null = null;
let origin = '';

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'export-browser-'));
  const config = {
    model: path.join(fixturesDir(), 'clipseg-tiny'),
    tokenizer: path.join(fixturesDir(), 'tokenizer'),
    learner: 'vpt',
    depth: 1,
  };
  T.manualSeed(3); // learner initialisation and the "tuning" below are reproducible
  const seg = await buildSegmenter(config);
  T.noGrad(() => {
    for (const [, p] of seg.learnableState())
      T.tidy(() => {
        p.add_(T.randn(p.shape).mul(0.2));
      });
  });
  const ckpt = path.join(tmp, 'vpt.safetensors');
  saveCheckpoint(ckpt, seg, { kind: 'best', model: config, metrics: {}, epoch: 1, globalStep: 1 });
  seg.dispose();
  exportDir = path.join(tmp, 'export');
  await exportModel({ tuned: ckpt, prompt: 'polyp', outDir: exportDir, verify: false });
  // a test image at the model's input size (64 px): both the browser's canvas and libvips then leave it as is
  const src = (await readdir(path.join(sharedDir(), 'datasets', 'kvasir-sample', 'images'))).sort()[0]!;
  image = path.join(tmp, 'input', 'polyp.png');
  mkdirSync(path.dirname(image), { recursive: true });
  await sharp(path.join(sharedDir(), 'datasets', 'kvasir-sample', 'images', src))
    .resize(64, 64, { fit: 'fill' })
    .png()
    .toFile(image);
  served = await serveFolder(exportDir, 0);
  origin = served.url.replace(/\/$/, '');
});
after(async () => {
  await served?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('web/ runs model.onnx in chromium: the mask matches predict --onnx, no network beyond the page, screenshot', async () => {
  if (!existsSync(CHROMIUM))
    assert.fail(`chromium not found at ${CHROMIUM}: the export's browser test needs Debian's chromium (scripts/bootstrap.sh installs it)`);
  // predict --onnx on the same image
  const model = await OnnxSegmenter.open(exportDir);
  const predOut = path.join(tmp, 'pred');
  try {
    await predictFolder(model, {
      input: path.dirname(image),
      prompt: model.preprocess.prompt,
      outDir: predOut,
      overlays: false,
      threshold: model.preprocess.threshold,
    });
  } finally {
    await model.dispose();
  }
  const want = await sharp(path.join(predOut, 'polyp.png')).extractChannel(0).raw().toBuffer();

  const ctx = await chromium.launchPersistentContext(mkdtempSync(path.join(tmp, 'profile-')), {
    executablePath: CHROMIUM,
    args: ARGS,
    viewport: { width: 1000, height: 700 },
  });
  try {
    const outside: string[] = [];
    const requested: string[] = [];
    await ctx.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) {
        requested.push(url.slice(origin.length));
        return route.continue();
      }
      outside.push(url);
      return route.abort();
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${origin}/index.html`);
    await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 120_000 });
    await page.setInputFiles('#file', image);
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 120_000 });
    const status = await page.textContent('#status');
    assert.equal(await page.getAttribute('body', 'data-state'), 'done', `page: ${status}; ${errors.join('; ')}`);
    const r = await page.evaluate(
      () => (globalThis as unknown as { tvsResult: { width: number; height: number; mask: number[]; ms: number } }).tvsResult,
    );
    assert.deepEqual([r.width, r.height], [64, 64]);
    assert.equal(r.mask.length, want.length);
    let same = 0,
      fg = 0;
    for (let i = 0; i < want.length; i++) {
      if (r.mask[i] === want[i]) same++;
      if (want[i] === 255) fg++;
    }
    assert.ok(fg > 0 && fg < want.length, `the test image needs foreground and background (foreground ${fg})`);
    assert.ok(
      same / want.length >= 0.999,
      `browser mask agrees with predict --onnx on ${((100 * same) / want.length).toFixed(2)}% of pixels`,
    );
    assert.match(status ?? '', /done: \d+ ms/);
    assert.deepEqual(outside, [], "no request beyond the page's own files");
    const own = new Set([
      '/index.html',
      '/app.js',
      '/preprocess.json',
      '/model.onnx',
      '/ort.wasm.min.mjs',
      '/ort-wasm-simd-threaded.mjs',
      '/ort-wasm-simd-threaded.wasm',
    ]);
    assert.deepEqual(
      requested.filter((u) => !own.has(u.split('?')[0]!)),
      [],
      "only the page's own files",
    );
    assert.deepEqual(errors, []);
    const shot = path.join(tmp, 'web.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 5000, 'screenshot written');
    if (process.env.TUNEVLSEG_EXPORT_SCREENSHOT) copyFileSync(shot, process.env.TUNEVLSEG_EXPORT_SCREENSHOT);
  } finally {
    await ctx.close();
  }
});

test('web/ opened from disk (file://): the page itself says to run `tunevlseg serve <export dir>`', async () => {
  if (!existsSync(CHROMIUM)) assert.fail(`chromium not found at ${CHROMIUM}`);
  const ctx = await chromium.launchPersistentContext(mkdtempSync(path.join(tmp, 'profile-')), { executablePath: CHROMIUM, args: ARGS });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    // a folder name a shell would split: the command the page prints quotes it
    const odd = path.join(tmp, "it's here", 'export');
    cpSync(exportDir, odd, { recursive: true });
    await page.goto(pathToFileURL(path.join(odd, 'web', 'index.html')).href);
    await page.waitForSelector('body[data-state="file"]', { timeout: 30_000 });
    const meta = (await page.textContent('#meta')) ?? '';
    const m = /tunevlseg serve (.+?) {2}and open/.exec(meta);
    assert.ok(m, meta);
    assert.equal(m[1], shellQuote(odd), 'the command names this export folder, quoted for a shell');
    assert.equal(m[1], `'${tmp}/it'"'"'s here/export'`);
    assert.equal(await page.isDisabled('#file'), true, 'no image input without the model');
  } finally {
    await ctx.close();
  }
});

test('serveFolder: only files inside web/, 404 for the rest, an export folder or its web/ accepted', async () => {
  const res = await fetch(`${origin}/preprocess.json`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal((await fetch(`${origin}/ort-wasm-simd-threaded.wasm`, { method: 'HEAD' })).headers.get('content-type'), 'application/wasm');
  for (const bad of ['/../README.md', '/%2e%2e/README.md', '/..%2fmodel.onnx', '/nope.js'])
    assert.equal((await fetch(`${origin}${bad}`)).status, 404, bad);
  const again = await serveFolder(path.join(exportDir, 'web'), 0);
  try {
    assert.equal(again.root, served!.root);
  } finally {
    await again.close();
  }
  assert.throws(() => webRootOfOrThrow(tmp), /no web\/index\.html or index\.html there/);
});
