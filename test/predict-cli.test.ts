// `tunevlseg predict`: zero-shot masks, probabilities and overlays at the original image size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { repoRoot, fixturesDir, sharedDir } from './helpers.js';

const bin = join(repoRoot(), 'bin', 'tunevlseg.js');
const kvasir = join(sharedDir(), 'datasets', 'kvasir-sample', 'images');
const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TUNEVLSEG_THREADS: '1' }, timeout: 120_000 });

test('predict writes mask, probability map and overlay per image at its original size', async () => {
  const out = mkdtempSync(join(tmpdir(), 'tvs-predict-out-'));
  try {
    const imgs = readdirSync(kvasir)
      .sort()
      .slice(0, 2)
      .map((f) => join(kvasir, f));
    const r = run([
      'predict',
      '--model',
      join(fixturesDir(), 'clipseg-tiny'),
      '--tokenizer',
      join(fixturesDir(), 'tokenizer'),
      '--prompt',
      'polyp',
      '--out',
      out,
      '-q',
      ...imgs,
    ]);
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.equal(r.stdout.trim().split('\n').pop(), out);
    for (const img of imgs) {
      const stem = img
        .split('/')
        .pop()!
        .replace(/\.jpg$/, '');
      const src = await sharp(img).metadata();
      for (const suffix of ['', '_prob', '_overlay']) {
        const m = await sharp(join(out, `${stem}${suffix}.png`)).metadata();
        assert.deepEqual([m.width, m.height], [src.width, src.height], `${stem}${suffix}.png`);
      }
      const mask = await sharp(join(out, `${stem}.png`))
        .raw()
        .toBuffer();
      assert.ok(
        mask.every((v) => v === 0 || v === 255),
        'binary mask',
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('predict errors: no prompt, no model, a missing file', () => {
  assert.match(run(['predict', '--model', 'x', join(kvasir, 'nope.jpg')]).stderr, /--prompt/);
  assert.match(run(['predict', '--prompt', 'polyp', kvasir]).stderr, /--model .* or --tuned/);
  const r = run([
    'predict',
    '--model',
    join(fixturesDir(), 'clipseg-tiny'),
    '--tokenizer',
    join(fixturesDir(), 'tokenizer'),
    '--prompt',
    'polyp',
    join(kvasir, 'missing.jpg'),
    join(kvasir, 'other.jpg'),
  ]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /missing\.jpg does not exist/);
});
