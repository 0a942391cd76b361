/**
 * `--recipe`: the overrides of the original's run scripts (scripts/schedule_*.sh @ 7956bcd) per
 * model x learner x dataset, as src/experiment/recipes.ts reads them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RECIPE_NAMES, recipeFor, scriptDataset, withRecipe } from '../src/experiment/recipes.js';
import type { TrainConfigInput } from '../src/train/index.js';

const cell = (learner: string, family: 'clipseg' | 'cris', dataset: string, model: Record<string, unknown> = {}, cuda = true) => ({
  learner,
  family,
  dataset,
  model,
  cuda,
});

test("the scripts' datasets are told apart by folder name", () => {
  assert.equal(scriptDataset('Kvasir-SEG'), 'kvasir');
  assert.equal(scriptDataset('cvc-clinicdb'), 'clinicdb');
  assert.equal(scriptDataset('cityscapes_binarized'), 'cityscapes');
  assert.equal(scriptDataset('VOC2012_binarized'), 'voc');
  assert.equal(scriptDataset('pascal'), 'voc');
  assert.equal(scriptDataset('my-own-data'), null);
});

test('original-scripts: each cell gets the script that ran it, on CUDA with 16-mixed and TF32', () => {
  // schedule_maple.sh defines accumulate_grad_batches=2 but does not pass it: batches of 16, one per step
  const camus = recipeFor('original-scripts', cell('maple', 'clipseg', 'camus'));
  assert.equal(camus.script, 'scripts/schedule_maple.sh');
  assert.deepEqual(camus.train, { precision: '16-mixed', tf32: 'on', batchSize: 16, effectiveBatchSize: 16 });
  assert.deepEqual(camus.model, { contextInitializer: null });
  // schedule_maple_leftout.sh passes it
  assert.deepEqual(recipeFor('original-scripts', cell('maple', 'clipseg', 'chexlocalize')).train, {
    precision: '16-mixed',
    tf32: 'on',
    batchSize: 16,
    effectiveBatchSize: 32,
  });
  // VPT on the medical sets: batch 32 without the upsampler (Table 5's setup), said in a note
  const vpt = recipeFor('original-scripts', cell('vpt', 'clipseg', 'kvasir'));
  assert.equal(vpt.script, 'scripts/schedule_vpt.sh');
  assert.deepEqual(vpt.model, { useNewLastLayer: false });
  assert.ok(vpt.notes.some((n) => /Table 5/.test(n)));
  // CoOp on CRIS x Cityscapes: two scripts; the cell's upsampler setting picks one
  const withUp = recipeFor('original-scripts', cell('coop', 'cris', 'cityscapes', { quirks: 'fixed' }));
  assert.equal(withUp.script, 'scripts/schedule_coop_cris.sh');
  assert.deepEqual([withUp.train.batchSize, withUp.train.effectiveBatchSize], [16, 32]);
  assert.deepEqual(withUp.model, {});
  // with quirks reference too: 16 x 2, each pass normalised on its own by the frozen BatchNorms, as the original
  // ran it (the trainer notes it); and the Cityscapes scripts' val_check_interval=0.5
  const ref = recipeFor('original-scripts', cell('coop', 'cris', 'cityscapes'));
  assert.deepEqual(ref.train, { precision: '16-mixed', tf32: 'on', batchSize: 16, effectiveBatchSize: 32, valCheckInterval: 0.5 });
  const noUp = recipeFor('original-scripts', cell('coop', 'cris', 'cityscapes', { useNewLastLayer: false }));
  assert.equal(noUp.script, 'scripts/schedule_coop_cris_cityscapes.sh');
  assert.deepEqual([noUp.train.batchSize, noUp.train.effectiveBatchSize, noUp.train.valCheckInterval], [32, 32, 0.5]);
  for (const [learner, family] of [
    ['cocoop', 'cris'],
    ['shared_attn', 'clipseg'],
    ['shared_separate', 'clipseg'],
  ] as const) {
    assert.equal(recipeFor('original-scripts', cell(learner, family, 'cityscapes')).train.valCheckInterval, 0.5, `${family} x ${learner}`);
  }
  // the scripts of other datasets validate once per epoch
  assert.equal(recipeFor('original-scripts', cell('cocoop', 'cris', 'kvasir')).train.valCheckInterval, undefined);
  assert.equal(recipeFor('original-scripts', cell('shared_separate', 'clipseg', 'voc')).train.valCheckInterval, undefined);
});

test("original-scripts: a cell no script ran gets its learner's training setup only; CPU runs stay float32", () => {
  const r = recipeFor('original-scripts', cell('shared_attn', 'clipseg', 'kvasir', {}, false));
  assert.equal(r.script, 'scripts/schedule_shared_atn.sh');
  assert.deepEqual(r.train, { batchSize: 16, effectiveBatchSize: 32 });
  assert.deepEqual(r.model, {}, "not the script's use_new_last_layer=false: it ran Cityscapes");
  assert.ok(
    r.notes.some((n) =>
      /schedule_shared_atn\.sh validates every 0\.5 epoch on cityscapes \(val_check_interval\); not applied to kvasir/.test(n),
    ),
    r.notes.join('\n'),
  );
  assert.ok(r.notes.some((n) => /no run script ran clipseg x shared_attn on kvasir/.test(n)));
  assert.ok(r.notes.some((n) => /on CPU the trials run in float32/.test(n)));
});

test('a script by name applies that script; unknown names are refused with the list', () => {
  assert.ok(RECIPE_NAMES.includes('schedule_busi'));
  const busi = recipeFor('schedule_busi.sh', cell('coop', 'clipseg', 'busi'));
  assert.equal(busi.script, 'scripts/schedule_busi.sh');
  assert.deepEqual(busi.model, {});
  assert.throws(() => recipeFor('paper', cell('coop', 'clipseg', 'busi')), /unknown recipe "paper" \(expected original-scripts, /);
  const base = { data: { dir: '/d' }, batchSize: 4, lr: 1e-3, model: { model: 'clipseg', learner: 'vpt', depth: 2 } } as TrainConfigInput;
  const lines: string[] = [];
  const out = withRecipe(base, 'schedule_vpt', { learner: 'vpt', family: 'clipseg', dataset: 'isic', cuda: true }, (l) => lines.push(l));
  assert.deepEqual(out, {
    data: { dir: '/d' },
    lr: 1e-3,
    batchSize: 32,
    effectiveBatchSize: 32,
    precision: '16-mixed',
    tf32: 'on',
    model: { model: 'clipseg', learner: 'vpt', depth: 2, useNewLastLayer: false },
  });
  assert.match(
    lines[0]!,
    /^recipe schedule_vpt: scripts\/schedule_vpt\.sh: precision="16-mixed", tf32="on", batchSize=32, effectiveBatchSize=32, model\.useNewLastLayer=false$/,
  );
});
