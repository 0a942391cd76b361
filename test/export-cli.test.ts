// `tunevlseg export` and `tunevlseg predict --onnx`: the export folder's files, and predictions
// from the exported model against `predict --tuned` on the same images (>= 99.9% of mask pixels).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as T from '../src/torch/index.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { readPreprocess } from '../src/export/preprocess.js';
import { ORT_WEB_FILES, WEB_ASSETS } from '../src/export/web.js';
import { repoRoot, fixturesDir, sharedDir } from './helpers.js';

const bin = join(repoRoot(), 'bin', 'tunevlseg.js');
const kvasir = join(sharedDir(), 'datasets', 'kvasir-sample', 'images');
const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TUNEVLSEG_THREADS: '1' }, timeout: 300_000 });

let tmp = '';
let ckpt = '';
before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tvs-export-'));
  const config = { model: join(fixturesDir(), 'clipseg-tiny'), tokenizer: join(fixturesDir(), 'tokenizer'), learner: 'vpt', depth: 2 };
  T.manualSeed(14); // learner initialisation and the "tuning" below are reproducible
  const seg = await buildSegmenter(config);
  // a "tuned" state: prompts and upsampler moved away from their initialisation
  T.noGrad(() => {
    for (const [, p] of seg.learnableState())
      T.tidy(() => {
        p.add_(T.randn(p.shape).mul(0.2));
      });
  });
  ckpt = join(tmp, 'vpt.safetensors');
  saveCheckpoint(ckpt, seg, { kind: 'best', model: config, metrics: { valDice: 0.5 }, epoch: 1, globalStep: 1 });
  seg.dispose();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Fraction of equal pixels of two binary mask PNGs of the same size. */
async function agreement(a: string, b: string): Promise<number> {
  const [x, y] = await Promise.all([sharp(a).raw().toBuffer(), sharp(b).raw().toBuffer()]);
  assert.equal(x.length, y.length, `${a} vs ${b}: sizes differ`);
  let same = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === y[i]) same++;
  return same / x.length;
}

test('export --tuned writes model.onnx, preprocess.json, README.md and web/; predict --onnx agrees with predict --tuned', async () => {
  const out = join(tmp, 'export');
  const e = run(['export', '--tuned', ckpt, '--prompt', 'polyp', '--out', out, '--threshold', '0.6']);
  assert.equal(e.status, 0, e.stderr.slice(-2000));
  const m = /max \|logits\(onnxruntime\) - logits\(libtorch\)\| = ([0-9.e+-]+)/.exec(e.stdout);
  assert.ok(m && Number(m[1]) < 1e-4, `export verification: ${e.stdout}`);
  const pre = readPreprocess(join(out, 'preprocess.json'));
  assert.equal(pre.prompt, 'polyp');
  assert.equal(pre.size, 64);
  assert.equal(pre.threshold, 0.6);
  const readme = readFileSync(join(out, 'README.md'), 'utf8');
  for (const s of ['clipseg-tiny', '"name":"vpt"', '"polyp"', 'sha256:', 'sha256-sampled:'])
    assert.ok(readme.includes(s), `README names ${s}`);
  for (const f of [...ORT_WEB_FILES, ...WEB_ASSETS, 'model.onnx', 'preprocess.json'])
    assert.ok(existsSync(join(out, 'web', f)), `web/${f}`);
  assert.equal(statSync(join(out, 'web', 'model.onnx')).size, statSync(join(out, 'model.onnx')).size);

  const imgs = readdirSync(kvasir)
    .sort()
    .slice(0, 4)
    .map((f) => join(kvasir, f));
  const pOnnx = join(tmp, 'pred-onnx'),
    pTuned = join(tmp, 'pred-tuned');
  const a = run(['predict', '--onnx', out, '--out', pOnnx, '-q', ...imgs]);
  assert.equal(a.status, 0, a.stderr.slice(-2000));
  const b = run(['predict', '--tuned', ckpt, '--prompt', 'polyp', '--threshold', '0.6', '--out', pTuned, '-q', ...imgs]);
  assert.equal(b.status, 0, b.stderr.slice(-2000));
  let fg = 0,
    between = 0;
  for (const img of imgs) {
    const stem = img
      .split('/')
      .pop()!
      .replace(/\.jpg$/, '');
    for (const suffix of ['', '_prob', '_overlay']) assert.ok(existsSync(join(pOnnx, `${stem}${suffix}.png`)), `${stem}${suffix}.png`);
    const agree = await agreement(join(pOnnx, `${stem}.png`), join(pTuned, `${stem}.png`));
    assert.ok(agree >= 0.999, `${stem}: masks agree on ${(agree * 100).toFixed(3)}% of pixels`);
    // predict --onnx thresholds at the export's 0.6: foreground exactly where the 8-bit probability > 0.6·255
    const [mask, prob] = await Promise.all(
      [`${stem}.png`, `${stem}_prob.png`].map((f) => sharp(join(pOnnx, f)).extractChannel(0).raw().toBuffer()),
    );
    assert.ok(
      mask!.every((v, i) => (v === 255) === prob![i]! > 0.6 * 255),
      `${stem}: mask = prob8 > 0.6·255`,
    );
    between += prob!.filter((v) => v > 0.5 * 255 && v <= 0.6 * 255).length;
    fg += mask!.filter((v) => v === 255).length;
  }
  assert.ok(fg > 0, 'the tuned model predicts some foreground (else the agreement says little)');
  assert.ok(between > 0, "some probabilities lie between 0.5 and 0.6 (else the export's threshold is not tested)");
  const listed = (d: string): { name: string; prompt: string }[] =>
    (JSON.parse(readFileSync(join(d, 'predictions.json'), 'utf8')) as { files: { name: string; prompt: string }[] }).files.map(
      ({ name, prompt }) => ({ name, prompt }),
    );
  assert.deepEqual(listed(pOnnx), listed(pTuned));
  assert.equal(
    readPreprocess(join(out, 'preprocess.json')).modelPrompt,
    listed(pTuned)[0]!.prompt,
    'the export baked the text predict --tuned feeds the model',
  );
});

test('export a CRIS model with float16 weights, a zero-shot CLIPSeg at --image-size 96; predict --onnx refuses a prompt', () => {
  const out = join(tmp, 'cris');
  const e = run([
    'export',
    '--model',
    'cris-tiny',
    '--random-weights',
    '--tokenizer',
    join(fixturesDir(), 'tokenizer'),
    '--prompt',
    'a polyp',
    '--out',
    out,
    '--fp16',
  ]);
  assert.equal(e.status, 0, e.stderr.slice(-2000));
  const m = /max \|logits\(onnxruntime\) - logits\(libtorch\)\| = ([0-9.e+-]+)/.exec(e.stdout);
  assert.ok(m && Number(m[1]) < 2e-2, `float16 verification: ${e.stdout}`);
  assert.equal(readPreprocess(join(out, 'preprocess.json')).weights, 'float16');
  const r = run(['predict', '--onnx', out, '--prompt', 'x', '--out', join(tmp, 'p'), kvasir]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--onnx takes no --prompt/);
  const z = run([
    'export',
    '--model',
    join(fixturesDir(), 'clipseg-tiny'),
    '--tokenizer',
    join(fixturesDir(), 'tokenizer'),
    '--image-size',
    '96',
    '--prompt',
    'a polyp',
    '--out',
    join(tmp, 'zs96'),
    '--no-verify',
  ]);
  assert.equal(z.status, 0, z.stderr.slice(-2000));
  assert.equal(readPreprocess(join(tmp, 'zs96', 'preprocess.json')).size, 96);
  const n = run(['export', '--prompt', 'x', '--out', join(tmp, 'none')]);
  assert.match(n.stderr, /give --tuned <checkpoint\.safetensors \| run folder> or --model/);
});
