// The six context learners: parity with every reference learner fixture (CLIPSeg at depths 1
// and 3, CRIS CoOp/CoCoOp) through the `learner` parity kind (logits, losses, intermediates,
// gradients, AdamW steps 1 and 2, trainable names and counts), and the learners' own contracts:
// option validation, quirk 6, unified projections, the quirks 9/10 switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import {
  createLearner,
  learnerFromReference,
  learnerFamily,
  LEARNERS,
  LEARNER_NAMES,
  LearnerConfigError,
  CoOpLearner,
  SharedAttnLearner,
  SharedSeparateLearner,
  type LearnerHost,
} from '../src/learners/index.js';
import { learnerKind } from '../src/parity/kinds/learners.js';
import { fixturesDir } from './helpers.js';

const FIX = fixturesDir();
const caseDirs = ['clipseg-tiny', 'cris-tiny'].flatMap((m) => {
  const d = join(FIX, m, 'learners');
  return readdirSync(d)
    .filter((e) => existsSync(join(d, e, 'case.json')))
    .sort()
    .map((e) => join(d, e));
});

test('every learner fixture folder is recognised (six learners x depths 1, 3 on CLIPSeg; CoOp/CoCoOp on CRIS)', () => {
  const names = caseDirs.map((d) => d.slice(FIX.length + 1));
  // the prompt learners have learner fixtures; the adapters have their own kind (clipseg-tiny/adapters)
  for (const l of LEARNER_NAMES.filter((n) => learnerFamily(n) === 'prompt'))
    for (const d of [1, 3]) assert.ok(names.includes(`clipseg-tiny/learners/${l}-d${d}`), `${l}-d${d}`);
  assert.ok(names.includes('cris-tiny/learners/coop-d1') && names.includes('cris-tiny/learners/cocoop-d1'));
  for (const d of caseDirs) {
    const cj = JSON.parse(readFileSync(join(d, 'case.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(learnerKind.matches(d, cj), true, d);
  }
  // the base-model folders are not learner cases
  const base = JSON.parse(readFileSync(join(FIX, 'cris-tiny', 'case.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(learnerKind.matches(join(FIX, 'cris-tiny'), base), false);
});

for (const dir of caseDirs) {
  const name = dir.slice(FIX.length + 1);
  test(`parity ${name}: logits, losses, intermediates, grads, AdamW steps, trainable count`, async () => {
    const cj = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Record<string, unknown>;
    const before = T.liveTensors();
    const r = await learnerKind.run(dir, cj);
    const failed = Object.entries(r.tensors).filter(([, t]) => !t.pass);
    assert.deepEqual(failed, [], `${name}: ${JSON.stringify(failed.slice(0, 5))}`);
    for (const k of ['logits', 'loss', 'dice_loss', 'bce_loss', 'logits_pad77', 'loss_after_step1', 'trainable_names', 'trainable_count']) {
      assert.ok(r.tensors[k], `${name}: ${k} compared`);
    }
    const params = (cj.trainable_parameters as { name: string }[]).map((p) => p.name);
    for (const p of params) {
      assert.ok(r.tensors[`grad.${p}`], `${name}: gradient of ${p} checked`);
      assert.ok(r.tensors[`adamw_step1.${p}`] && r.tensors[`adamw_step2.${p}`], `${name}: AdamW steps of ${p} checked`);
    }
    assert.equal(r.tensors.trainable_count!.max_abs, 0);
    assert.equal(T.liveTensors(), before, `${name}: the case frees every tensor it made`);
  });
}

// ------------------------------------------------------------------------ learner contracts

function host(o: Partial<LearnerHost> = {}): LearnerHost {
  const emb = T.keep(T.noGrad(() => T.randn([49408, 32])));
  return {
    family: 'clipseg',
    textDim: 32,
    visionDim: 64,
    imageFeatureDim: 32,
    maxDepth: 4,
    maxDepthWhy: 'min of the text (4) and vision (4) layers',
    tokenEmbedding: emb,
    tokenize: null,
    quirks: 'reference',
    ...o,
  };
}

test('options: strict, with errors naming the learner and the key; depth validated against the encoders', () => {
  const h = host();
  try {
    assert.throws(() => createLearner('vpt', { sharedDim: 8 }, h), /learner vpt: unknown option "sharedDim"/);
    assert.throws(
      () => createLearner('coop', { depth: 5 }, h),
      /learner coop: depth 5 exceeds the encoders' depth 4 \(min of the text \(4\) and vision \(4\) layers\)/,
    );
    assert.throws(() => createLearner('vpt', { depth: 0 }, h), /learner vpt: option "depth"/);
    assert.throws(
      () => createLearner('cocoop', { useLoraProj: true, intermediateDim: [8, 16] }, h),
      /LoRA projection is only available for a single intermediate layer/,
    );
    assert.throws(() => createLearner('coop', { contextInitializer: 'a polyp' }, h), /needs a tokenizer/);
    assert.throws(
      () => createLearner('nope', {}, h),
      /unknown learner "nope"; expected one of coop, cocoop, vpt, maple, shared_separate, shared_attn, shallow_adapter, dense_adapter, lora, full_finetune/,
    );
    assert.throws(() => createLearner('shared_attn', { heads: 7 }, h), /d_model 96 \(text 32 \+ vision 64\) is not divisible by heads 7/);
    assert.throws(() => createLearner('vpt', {}, { ...h, visionDim: null, family: 'cris' }), /cris's image encoder is a CNN/);
    // quirk 14: random text context on CRIS is broken in the reference; 'fixed' sizes it with the text width
    const cris = { ...h, family: 'cris' as const, visionDim: null, referenceContextDim: 128 };
    assert.throws(() => createLearner('coop', { contextInitializer: null }, cris), /quirk 14/);
    const fixed = createLearner('coop', { contextInitializer: null }, { ...cris, quirks: 'fixed' });
    assert.deepEqual(fixed.namedParameters()[0]![1].shape, [1, 4, 32]);
    fixed.dispose();
  } finally {
    h.tokenEmbedding.dispose();
  }
});

test('quirk 6: a context initializer sets numContext and fills layer 0 with its frozen token embeddings; deeper layers are N(0, std)', () => {
  const h = host({ tokenize: (t) => t.split(' ').map((w) => (w === 'a' ? 320 : w === 'photo' ? 1125 : w === 'of' ? 539 : 7)) });
  try {
    const l = createLearner('coop', { depth: 3, numContext: 9, contextInitializer: 'a photo of a' }, h) as CoOpLearner;
    assert.equal(l.numContext, 4);
    assert.deepEqual(l.initializerIds, [[320, 1125, 539, 320]]);
    T.tidy(() => {
      const want = h.tokenEmbedding.indexSelect(0, T.tensor([320, 1125, 539, 320], { dtype: 'int64' }));
      assert.equal(l.context_vectors.select(0, 0).sub(want).abs().max().item(), 0);
      const rest = l.context_vectors.slice(0, 1);
      assert.ok(rest.std().item() < 0.05 && rest.std().item() > 0.005, 'deeper layers N(0, 0.02)');
    });
    assert.equal(l.context_vectors.requiresGrad, true);
    assert.equal(h.tokenEmbedding.requiresGrad, false, 'the frozen embedding stays frozen');
    // one phrase per layer; unequal token counts are refused
    const two = createLearner(
      'maple',
      {
        depth: 2,
        contextInitializerIds: [
          [320, 1125],
          [539, 320],
        ],
      },
      h,
    );
    assert.deepEqual(two.namedParameters()[0]![1].shape, [2, 2, 32]);
    two.dispose();
    assert.throws(() => createLearner('coop', { depth: 2, contextInitializerIds: [[320], [539, 320]] }, h), /same token count/);
    // the paper's phrase needs no tokenizer
    const noTok = createLearner('coop', {}, { ...h, tokenize: null }) as CoOpLearner;
    assert.deepEqual(noTok.initializerIds, [[320, 1125, 539, 320]]);
    noTok.dispose();
    l.dispose();
  } finally {
    h.tokenEmbedding.dispose();
  }
});

test('projections: yaml shapes and names; unified projection registers one module (names under .0)', () => {
  const h = host();
  try {
    const shapes = (name: string, o: Record<string, unknown>): Record<string, number[]> => {
      const l = createLearner(name, o, h);
      const r = Object.fromEntries(l.namedParameters().map(([k, t]) => [k, t.shape]));
      l.dispose();
      return r;
    };
    assert.deepEqual(shapes('cocoop', { depth: 2 }), {
      context_vectors: [2, 4, 32],
      'projection_layers.0.0.weight': [64, 32],
      'projection_layers.0.0.bias': [64],
      'projection_layers.0.2.weight': [32, 64],
      'projection_layers.0.3.weight': [32],
      'projection_layers.1.0.weight': [64, 32],
      'projection_layers.1.0.bias': [64],
      'projection_layers.1.2.weight': [32, 64],
      'projection_layers.1.3.weight': [32],
    });
    assert.deepEqual(shapes('maple', { depth: 3, useUnifiedProjection: true, contextInitializer: null }), {
      context_vectors: [3, 4, 32],
      'projection_layers.0.0.weight': [64, 32],
      'projection_layers.0.0.bias': [64],
      'projection_layers.0.2.weight': [64, 64],
      'projection_layers.0.3.weight': [64],
      'projection_layers.0.3.bias': [64],
    });
    // LoRA: Linear(in, r, no bias) -> Linear(r, out) (+ norm)
    assert.deepEqual(shapes('maple', { contextInitializer: null, useLoraProj: true, intermediateDim: 8, useProjNorm: false }), {
      context_vectors: [1, 4, 32],
      'projection_layers.0.0.weight': [8, 32],
      'projection_layers.0.1.weight': [64, 8],
      'projection_layers.0.1.bias': [64],
    });
    // two hidden layers; no norm -> biased last Linear
    assert.deepEqual(Object.keys(shapes('cocoop', { contextInitializer: null, intermediateDim: [16, 8], useProjNorm: false })), [
      'context_vectors',
      'projection_layers.0.0.weight',
      'projection_layers.0.0.bias',
      'projection_layers.0.2.weight',
      'projection_layers.0.2.bias',
      'projection_layers.0.4.weight',
    ]);
    assert.deepEqual(shapes('vpt', { depth: 2, numContext: 8 }), { context_vectors: [2, 8, 64] });
    for (const e of Object.values(LEARNERS)) assert.equal(typeof e.summary, 'string');
  } finally {
    h.tokenEmbedding.dispose();
  }
});

test('quirk 9: SharedSeparate per-layer projections start identical (reference) or independent with Linear + LayerNorm (fixed)', () => {
  const h = host();
  try {
    const ref = createLearner('shared_separate', { depth: 2 }, h) as SharedSeparateLearner;
    const p = Object.fromEntries(ref.namedParameters());
    assert.deepEqual(p['textual_projection_layers.0.weight']!.shape, [32, 64], 'plain Linear: useProjNorm ignored');
    assert.ok(p['textual_projection_layers.0.weight']!.allclose(p['textual_projection_layers.1.weight']!, 0, 0));
    ref.dispose();
    const fixed = createLearner('shared_separate', { depth: 2 }, { ...h, quirks: 'fixed' });
    const q = Object.fromEntries(fixed.namedParameters());
    assert.deepEqual(
      Object.keys(q).filter((k) => k.startsWith('textual_projection_layers.0')),
      ['textual_projection_layers.0.0.weight', 'textual_projection_layers.0.1.weight', 'textual_projection_layers.0.1.bias'],
    );
    assert.ok(!q['visual_projection_layers.0.0.weight']!.allclose(q['visual_projection_layers.1.0.weight']!, 0, 0));
    fixed.dispose();
  } finally {
    h.tokenEmbedding.dispose();
  }
});

test('quirk 10: SharedAttn never mixes prompt tokens in reference mode; fixed mode attends across them', () => {
  const h = host();
  try {
    for (const quirks of ['reference', 'fixed'] as const) {
      const l = createLearner('shared_attn', { heads: 4, feedforward: 16, dropout: 0 }, { ...h, quirks }) as SharedAttnLearner;
      T.noGrad(() =>
        T.tidy(() => {
          const a = l.prompts(0);
          assert.deepEqual(a.text!.shape, [4, 32]);
          assert.deepEqual(a.vision!.shape, [4, 64]);
          // Change one feature of token 0 only: adding a constant to all its features would be
          // invisible after the pre-norm LayerNorm and leave token 1 unchanged up to rounding.
          l.context_vectors.select(0, 0).select(0, 0).select(0, 0).add_(1);
          const b = l.prompts(0);
          const token1Changed = b.text!.select(0, 1).sub(a.text!.select(0, 1)).abs().max().item() > 1e-6;
          assert.equal(token1Changed, quirks === 'fixed', `${quirks}: token 1 depends on token 0`);
          assert.ok(b.vision!.select(0, 0).sub(a.vision!.select(0, 0)).abs().max().item() > 1e-6);
        }),
      );
      l.dispose();
    }
  } finally {
    h.tokenEmbedding.dispose();
  }
});

test('CoCoOp: prompts depend on the image features ([B, n, D]), normalised when asked', () => {
  const h = host();
  try {
    for (const norm of [false, true]) {
      const l = createLearner('cocoop', { contextInitializer: null, normImageFeatures: norm }, h);
      T.noGrad(() =>
        T.tidy(() => {
          const f = T.randn([3, 32]);
          const p = l.prompts(0, f).text!;
          assert.deepEqual(p.shape, [3, 4, 32]);
          const scaled = l.prompts(0, f.mul(5)).text!;
          assert.equal(scaled.sub(p).abs().max().item() < 1e-5, norm, `normImageFeatures ${norm}: scale invariance`);
        }),
      );
      assert.throws(() => l.prompts(0), /needs the image features/);
      l.dispose();
    }
  } finally {
    h.tokenEmbedding.dispose();
  }
});

test('reference learner sections map to our options (unknown keys refused)', () => {
  const cj = JSON.parse(readFileSync(join(FIX, 'clipseg-tiny', 'learners', 'shared_attn-d3', 'case.json'), 'utf8')) as {
    context_learner: Record<string, unknown>;
  };
  const r = learnerFromReference(cj.context_learner);
  assert.equal(r.name, 'shared_attn');
  assert.deepEqual(r.options, {
    depth: 3,
    vectorStd: 0.02,
    useUnifiedProjection: false,
    feedforward: 64,
    dropout: 0,
    activation: 'relu',
    layerNormEps: 1e-5,
    normFirst: true,
    numContext: 4,
    heads: 16,
  });
  const c = learnerFromReference(
    { class: 'CoOpContextLearner', prompt_depth: 2, context_initializer: 'a photo of a' },
    [320, 1125, 539, 320],
  );
  assert.deepEqual(c, {
    name: 'coop',
    options: { depth: 2, vectorStd: 0.02, contextInitializer: 'a photo of a', contextInitializerIds: [320, 1125, 539, 320] },
  });
  assert.throws(() => learnerFromReference({ class: 'VPTContextLearner', new_knob: 1 }), /unknown key "new_knob"/);
  assert.throws(() => learnerFromReference({ class: 'FancyLearner' }), /unknown reference learner class "FancyLearner"/);
  assert.ok(LearnerConfigError);
});
