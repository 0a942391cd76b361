// Every learner the demo tunes exports, and the export predicts what the checkpoint predicts:
// a short `demo --learners all` run (CoOp and CoCoOp with the frozen-feature cache, as the demo
// trains them; the adapters, LoRA and full fine-tuning too),
// then per learner `export --tuned <run folder>` and the test split's masks through
// onnxruntime-node against libtorch (>= 99.9% of pixels).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { demoAllLearners, runDemo, learnerRunDir, type DemoSummary } from '../src/demo/run.js';
import { exportModel } from '../src/export/bundle.js';
import { OnnxSegmenter } from '../src/export/onnx-runtime.js';
import { loadTuned } from '../src/tuning/checkpoint.js';
import { checkpointOf } from '../src/train/run-folder.js';
import { predictFolder } from '../src/inference/index.js';

let tmp = '';
let demo: DemoSummary;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-export-demo-'));
  demo = await runDemo({
    runDir: path.join(tmp, 'run'),
    learners: demoAllLearners(),
    steps: 2,
    targetCounts: { train: 16, val: 4, test: 6 },
    sourceTestImages: 4,
    log: () => {},
  });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('every demo learner exports from its run folder; predict --onnx agrees with predict --tuned', async () => {
  const learners = Object.keys(demo.learners);
  assert.deepEqual(learners, demoAllLearners());
  assert.ok(learners.length >= 6);
  const data = path.join(demo.run_dir, 'data', 'ultrasound');
  for (const learner of learners) {
    const run = learnerRunDir(demo.run_dir, learner);
    const out = path.join(tmp, `${learner}-export`);
    const r = await exportModel({ tuned: run, prompt: 'tumor', outDir: out });
    assert.ok(r.verifiedMaxAbs !== null && r.verifiedMaxAbs < 1e-4, `${learner}: max |logits difference| ${r.verifiedMaxAbs}`);
    const onnx = await OnnxSegmenter.open(out);
    const pOnnx = path.join(tmp, `${learner}-onnx`),
      pTuned = path.join(tmp, `${learner}-tuned`);
    let files: string[];
    try {
      files = (
        await predictFolder(onnx, { input: data, split: 'test', promptKey: 'p1', outDir: pOnnx, overlays: false, threshold: 0.5 })
      ).files.map((f) => f.mask);
    } finally {
      await onnx.dispose();
    }
    const { segmenter } = await loadTuned(checkpointOf(run));
    try {
      segmenter.eval();
      await predictFolder(segmenter, { input: data, split: 'test', promptKey: 'p1', outDir: pTuned, overlays: false, threshold: 0.5 });
    } finally {
      segmenter.dispose();
    }
    for (const f of files) {
      const name = path.basename(f);
      const [a, b] = await Promise.all([sharp(path.join(pOnnx, name)).raw().toBuffer(), sharp(path.join(pTuned, name)).raw().toBuffer()]);
      let same = 0;
      for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
      assert.ok(same / a.length >= 0.999, `${learner} ${name}: masks agree on ${((100 * same) / a.length).toFixed(2)}% of pixels`);
    }
  }
});
