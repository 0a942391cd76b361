// A checkpoint trained with the frozen-feature cache (as the demo trains CoOp and CoCoOp) exports
// and predicts as any other: the cache is a training-time speed-up (src/tuning/config.ts
// RUNTIME_ONLY_KEYS), never recorded in a checkpoint, dropped from checkpoints that recorded it,
// and ignored when given to export. `--tuned` takes the run folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadSafetensors, saveSafetensors, dispose } from '../src/torch/index.js';
import { readCheckpointMeta } from '../src/tuning/checkpoint.js';
import { exportModel } from '../src/export/bundle.js';
import { makeDataset, quickTrainFlags, tinyModel, tinyTokenizer, tvs } from './hostile/cli-harness.js';

let tmp: string;
let ds: string;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-export-cached-'));
  ds = await makeDataset(path.join(tmp, 'ds'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function agreement(a: string, b: string): Promise<number> {
  const [x, y] = await Promise.all([sharp(a).raw().toBuffer(), sharp(b).raw().toBuffer()]);
  assert.equal(x.length, y.length);
  let same = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === y[i]) same++;
  return same / x.length;
}

for (const learner of ['coop', 'cocoop']) {
  test(`${learner} trained with frozenCacheMb=64: the checkpoint records no cache; export --tuned <run folder> works; predict --onnx = predict --tuned`, async () => {
    const runs = path.join(tmp, 'runs');
    const t = tvs([
      'train',
      '--dataset',
      ds,
      '--name',
      learner,
      '--runs-dir',
      runs,
      ...quickTrainFlags,
      '--model',
      tinyModel,
      '--model',
      `tokenizer=${tinyTokenizer}`,
      '--model',
      `learner=${learner}`,
      '--model',
      'quirks=fixed',
      '--model',
      'frozenCacheMb=64',
    ]);
    assert.equal(t.status, 0, t.all);
    const run = path.join(runs, learner);
    const meta = readCheckpointMeta(path.join(run, 'checkpoints', 'best.safetensors'));
    assert.equal((meta.segmenter.config as Record<string, unknown>).frozenCacheMb, undefined, 'the recorded factory config has no cache');

    const out = path.join(tmp, `${learner}-export`);
    // `--model key=value` as every command takes it; the cache key is accepted and ignored
    const e = tvs(['export', '--tuned', run, '--model', 'frozenCacheMb=64', '--prompt', 'tumor', '--out', out]);
    assert.equal(e.status, 0, e.all);
    const m = /max \|logits\(onnxruntime\) - logits\(libtorch\)\| = ([0-9.e+-]+)/.exec(e.stdout);
    assert.ok(m && Number(m[1]) < 1e-4, e.stdout);
    assert.match(e.stdout, new RegExp(`web page: tunevlseg serve ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));

    const images = path.join(ds, 'images');
    const pOnnx = path.join(tmp, `${learner}-onnx`),
      pTuned = path.join(tmp, `${learner}-tuned`);
    const a = tvs(['predict', '--onnx', out, '--out', pOnnx, '-q', images]);
    assert.equal(a.status, 0, a.all);
    const b = tvs(['predict', '--tuned', run, '--prompt', 'tumor', '--out', pTuned, '-q', images]);
    assert.equal(b.status, 0, b.all);
    const masks = readdirSync(pTuned).filter((f) => f.endsWith('.png') && !f.includes('_'));
    assert.ok(masks.length >= 4);
    for (const f of masks) assert.ok((await agreement(path.join(pOnnx, f), path.join(pTuned, f))) >= 0.999, f);

    const ev = tvs(['eval', run, '--loader-threads', '0', '--json']);
    assert.equal(ev.status, 0, ev.all);
  });
}

test('a checkpoint written before the cache was dropped (frozenCacheMb recorded) still exports', async () => {
  const ckpt = path.join(tmp, 'runs', 'coop', 'checkpoints', 'best.safetensors');
  const { tensors, metadata } = loadSafetensors(ckpt);
  const seg = JSON.parse(metadata.segmenter!) as { config: Record<string, unknown> };
  seg.config.frozenCacheMb = 64;
  const model = JSON.parse(metadata.model!) as Record<string, unknown>;
  model.frozenCacheMb = 64;
  const legacy = path.join(tmp, 'legacy.safetensors');
  saveSafetensors(legacy, tensors, { ...metadata, segmenter: JSON.stringify(seg), model: JSON.stringify(model) });
  dispose([...tensors.values()]);
  const r = await exportModel({ tuned: legacy, prompt: 'tumor', outDir: path.join(tmp, 'legacy-export') });
  assert.ok(r.verifiedMaxAbs !== null && r.verifiedMaxAbs < 1e-4, String(r.verifiedMaxAbs));
});

test('--tuned with a folder that is not a run folder: refused, naming it', () => {
  const r = tvs(['export', '--tuned', ds, '--prompt', 'tumor', '--out', path.join(tmp, 'nope')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${ds.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: a folder, but not a run folder`));
  const p = tvs(['predict', '--tuned', ds, '--prompt', 'tumor', '--out', path.join(tmp, 'nope2'), path.join(ds, 'images')]);
  assert.equal(p.status, 1);
  assert.match(p.stderr, /a folder, but not a run folder/);
});
