// Every method past the paper (the adapters, LoRA, full fine-tuning) exports to ONNX and the
// exported model agrees with `predict --tuned` (>= 99.9% of mask pixels), as the prompt learners
// do (test/export-cli.test.ts). LoRA exports its merged weights W + (alpha/r)·B·A.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import * as T from '../src/torch/index.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { repoRoot, fixturesDir, sharedDir } from './helpers.js';

const bin = join(repoRoot(), 'bin', 'tunevlseg.js');
const kvasir = join(sharedDir(), 'datasets', 'kvasir-sample', 'images');
const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, TUNEVLSEG_THREADS: '1' }, timeout: 300_000 });

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tvs-methods-export-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function agreement(a: string, b: string): Promise<number> {
  const [x, y] = await Promise.all([sharp(a).raw().toBuffer(), sharp(b).raw().toBuffer()]);
  assert.equal(x.length, y.length);
  let same = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === y[i]) same++;
  return same / x.length;
}

// scale: how far the "tuned" state moves from its initialisation (every base weight for full fine-tuning: small)
const METHODS = [
  { learner: 'shallow_adapter', options: { adapterDim: 8 }, scale: 0.2 },
  { learner: 'dense_adapter', options: { adapterDim: 8 }, scale: 0.2 },
  { learner: 'lora', options: { rank: 4, targetModules: ['q_proj', 'v_proj', 'fc1'] }, scale: 0.2 },
  { learner: 'full_finetune', options: {}, scale: 0.01 },
];

for (const m of METHODS) {
  test(`${m.learner}: export --tuned verifies against libtorch, and predict --onnx agrees with predict --tuned`, async () => {
    const config = {
      model: join(fixturesDir(), 'clipseg-tiny'),
      tokenizer: join(fixturesDir(), 'tokenizer'),
      learner: m.learner,
      ...m.options,
    };
    T.manualSeed(21);
    const seg = await buildSegmenter(config);
    T.noGrad(() => {
      for (const [, p] of seg.learnableState())
        T.tidy(() => {
          p.add_(T.randn(p.shape).mul(m.scale));
        });
    });
    const ckpt = join(tmp, `${m.learner}.safetensors`);
    saveCheckpoint(ckpt, seg, { kind: 'best', model: config, metrics: { valDice: 0.5 }, epoch: 1, globalStep: 1 });
    seg.dispose();
    const out = join(tmp, `${m.learner}-onnx`);
    const e = run(['export', '--tuned', ckpt, '--prompt', 'polyp', '--out', out]);
    assert.equal(e.status, 0, e.stderr.slice(-2000));
    const d = /max \|logits\(onnxruntime\) - logits\(libtorch\)\| = ([0-9.e+-]+)/.exec(e.stdout);
    assert.ok(d && Number(d[1]) < 1e-4, `${m.learner}: export verification: ${e.stdout}`);
    const imgs = readdirSync(kvasir)
      .sort()
      .slice(0, 3)
      .map((f) => join(kvasir, f));
    const pOnnx = join(tmp, `${m.learner}-pred-onnx`),
      pTuned = join(tmp, `${m.learner}-pred-tuned`);
    const a = run(['predict', '--onnx', out, '--out', pOnnx, '-q', ...imgs]);
    assert.equal(a.status, 0, a.stderr.slice(-2000));
    const b = run(['predict', '--tuned', ckpt, '--prompt', 'polyp', '--out', pTuned, '-q', ...imgs]);
    assert.equal(b.status, 0, b.stderr.slice(-2000));
    let fg = 0,
      all = 0;
    for (const img of imgs) {
      const stem = img
        .split('/')
        .pop()!
        .replace(/\.jpg$/, '');
      const agree = await agreement(join(pOnnx, `${stem}.png`), join(pTuned, `${stem}.png`));
      assert.ok(agree >= 0.999, `${m.learner} ${stem}: masks agree on ${(agree * 100).toFixed(3)}% of pixels`);
      const mask = await sharp(join(pTuned, `${stem}.png`))
        .extractChannel(0)
        .raw()
        .toBuffer();
      fg += mask.filter((v) => v === 255).length;
      all += mask.length;
    }
    // both classes occur, else agreeing masks would say little
    assert.ok(fg > 0 && fg < all, `${m.learner}: ${fg} of ${all} mask pixels are foreground`);
  });
}
