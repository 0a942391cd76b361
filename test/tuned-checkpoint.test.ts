// One module reads, validates and loads tuned checkpoints (src/tuning/checkpoint.ts): every load
// path (the trainer's and eval's `loadCheckpointInto`, `loadTuned` for predict and bench) refuses a
// checkpoint of another learner, learner configuration, quirks mode, base model or segmenter kind,
// naming the checkpoint file and the field, before any tensor is copied.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import { checkTunedFits, loadTuned, loadTunedInto, TunedCheckpointError } from '../src/tuning/checkpoint.js';
import { saveCheckpoint, loadCheckpointInto, TinySegmenter } from '../src/index.js';
import { fixturesDir } from './helpers.js';

const TINY = join(fixturesDir(), 'clipseg-tiny');
const TOKENIZER = join(fixturesDir(), 'tokenizer');
const tmp = mkdtempSync(join(tmpdir(), 'tvs-tuned-ckpt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const config = { model: TINY, tokenizer: TOKENIZER, learner: 'vpt', depth: 2 };

test('loadTunedInto (train, eval) and loadTuned (predict, bench) refuse a checkpoint that does not fit, naming the file and the field', async () => {
  const seg = await buildSegmenter(config);
  const file = join(tmp, 'best.safetensors');
  saveCheckpoint(file, seg, { kind: 'best', model: config, metrics: { valDice: 0.5 }, epoch: 1, globalStep: 3 });
  const refuses = async (cfg: Record<string, unknown>, field: RegExp): Promise<void> => {
    const other = await buildSegmenter(cfg);
    try {
      const before = other.learnableState().get('residual_ratio')!.item();
      for (const load of [() => loadTunedInto(other, file), () => loadCheckpointInto(other, file)]) {
        assert.throws(load, (e: unknown) => {
          assert.ok(e instanceof TunedCheckpointError, String(e));
          assert.ok(e.message.startsWith(`${file}: `), e.message);
          assert.match(e.message, field);
          return true;
        });
      }
      assert.equal(other.learnableState().get('residual_ratio')!.item(), before, 'nothing loaded');
    } finally {
      other.dispose();
    }
  };
  try {
    // the same configuration loads (and the values arrive)
    const same = await buildSegmenter(config);
    T.noGrad(() => seg.learnableState().get('context_learner.context_vectors')!.mul_(2));
    saveCheckpoint(file, seg, { kind: 'best', model: config, metrics: { valDice: 0.5 }, epoch: 1, globalStep: 3 });
    loadTunedInto(same, file);
    T.noGrad(() =>
      assert.equal(
        same
          .learnableState()
          .get('context_learner.context_vectors')!
          .sub(seg.learnableState().get('context_learner.context_vectors')!)
          .abs()
          .max()
          .item(),
        0,
      ),
    );
    same.dispose();

    await refuses(
      { ...config, learner: 'coop', depth: 2 },
      /learner configuration differs from the checkpoint's: .*name "vpt" \(checkpoint\) vs "coop"/,
    );
    await refuses({ ...config, depth: 3 }, /learner configuration differs from the checkpoint's: depth 2 \(checkpoint\) vs 3/);
    await refuses({ ...config, numContext: 6 }, /numContext 4 \(checkpoint\) vs 6/);
    await refuses(
      { ...config, quirks: 'fixed' },
      /segmenter configuration differs from the checkpoint's: quirks "reference" \(checkpoint\) vs "fixed"/,
    );
    // another base model: same architecture and config, other weights
    const otherBase = join(tmp, 'other-base');
    cpSync(TINY, otherBase, { recursive: true });
    T.noGrad(() => {
      const { tensors } = T.loadSafetensors(join(TINY, 'model.safetensors'));
      tensors.get('decoder.film_add.bias')!.add_(1);
      T.saveSafetensors(join(otherBase, 'model.safetensors'), tensors, { format: 'pt' });
      T.dispose([...tensors.values()]);
    });
    await refuses({ ...config, model: otherBase }, /tuned on base model .* has different weights \(fingerprint sha256-sampled:/);
    await assert.rejects(loadTuned(file, otherBase), /different weights/);

    // a checkpoint of another kind of segmenter
    const tinySeg = new TinySegmenter({ imageSize: 32 });
    try {
      assert.throws(() => loadCheckpointInto(tinySeg, file), /it holds a prompted segmenter, this one is tiny/);
    } finally {
      tinySeg.dispose();
    }
    // the validation alone
    assert.doesNotThrow(() => checkTunedFits(file, seg.describe(), seg.describe()));
  } finally {
    seg.dispose();
  }
});
