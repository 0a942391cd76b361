// The prompted segmenters (src/tuning): the Segmenter contract, trainable counts of the factory's
// configs against the fixtures, weight-decay grouping, learnable-state round trips, tuned
// checkpoints refusing another base model or learner configuration, what `quirks: 'fixed'`
// changes, CRIS, the frozen-feature cache, e2e, and the factory's validation.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { diceCELoss } from '../src/inference/loss.js';
import { CRIS, crisTiny, loadCrisWeights } from '../src/models/cris/index.js';
import { ClipTokenizer } from '../src/models/clip/tokenizer.js';
import { learnerFromReference } from '../src/learners/index.js';
import { buildSegmenter, parseSegmenterConfig, type TunedSegmenter } from '../src/tuning/factory.js';
import { loadTuned, readTunedCheckpoint } from '../src/tuning/checkpoint.js';
import { PromptedClipSeg } from '../src/tuning/clipseg.js';
import { PromptedCris } from '../src/tuning/cris.js';
import { LearnableStateError } from '../src/tuning/common.js';
import { UpsampleConvPlan, type UpsampleSpec } from '../src/tuning/upsampler.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { fixturesDir } from './helpers.js';

const FIX = fixturesDir();
const TINY = join(FIX, 'clipseg-tiny');
const CRIS_TINY = join(FIX, 'cris-tiny');
const TOKENIZER = join(FIX, 'tokenizer');
const inputs = T.loadSafetensors(join(TINY, 'inputs.safetensors')).tensors;
const crisInputs = T.loadSafetensors(join(CRIS_TINY, 'inputs.safetensors')).tensors;
const tmp = mkdtempSync(join(tmpdir(), 'tunevlseg-tuning-'));
after(() => {
  T.dispose([...inputs.values(), ...crisInputs.values()]);
  rmSync(tmp, { recursive: true, force: true });
});

const px = (): T.Tensor => inputs.get('pixel_values')!;
const text = (): { inputIds: T.Tensor; attentionMask: T.Tensor } => ({
  inputIds: inputs.get('input_ids')!,
  attentionMask: inputs.get('attention_mask')!,
});
const tiny = (o: Record<string, unknown> = {}): Promise<TunedSegmenter> => buildSegmenter({ model: TINY, tokenizer: TOKENIZER, ...o });

/** Loss + backward; returns the grads of the trainable tensors by name (null = none). */
function gradsOf(seg: TunedSegmenter, pixels = px(), t = text(), labels = inputs.get('labels')!): Map<string, T.Tensor | null> {
  seg.zeroGrad();
  T.tidy(() => diceCELoss(seg.forward(pixels, t), labels).loss.backward());
  const g = new Map(seg.namedTrainable().map(([k, p]) => [k, p.grad] as const));
  return g;
}

test('factory configs reproduce every fixture learner configuration and its trainable count', async () => {
  const dir = join(TINY, 'learners');
  for (const c of readdirSync(dir)
    .filter((e) => e.includes('-d'))
    .sort()) {
    const cj = JSON.parse(readFileSync(join(dir, c, 'case.json'), 'utf8')) as Record<string, unknown>;
    const { name, options } = learnerFromReference(cj.context_learner as Record<string, unknown>);
    const seg = await tiny({ learner: name, ...options });
    try {
      assert.equal(seg.numParameters(true), cj.num_trainable_parameters, c);
      const want = (cj.trainable_parameters as { name: string; shape: number[] }[]).map((p) => `${p.name} [${p.shape.join(',')}]`).sort();
      assert.deepEqual(
        seg
          .namedTrainable()
          .map(([k, t]) => `${k} [${t.shape.join(',')}]`)
          .sort(),
        want,
        `${c}: names are the reference's`,
      );
    } finally {
      seg.dispose();
    }
  }
});

test('Segmenter contract: tokenize, forward [B, 1, S, S], info, describe; a training step leaves no tensors behind', async () => {
  const seg = await tiny({ learner: 'maple', depth: 2 });
  try {
    const t = seg.tokenize(['a photo of a malignant tumor in the left atrium cavity.', 'polyp']);
    assert.deepEqual(t.inputIds.toArray(), inputs.get('input_ids')!.toArray());
    assert.deepEqual(t.attentionMask.toArray(), inputs.get('attention_mask')!.toArray());
    T.dispose(t);
    assert.equal(seg.info.imageSize, 64);
    assert.deepEqual(seg.info.mean, [0.485, 0.456, 0.406]);
    const d = seg.describe();
    assert.equal(d.family, 'clipseg');
    assert.equal((d.learner as Record<string, unknown>).name, 'maple');
    assert.equal((d.learner as Record<string, unknown>).depth, 2);
    assert.match(String((d.base as Record<string, unknown>).fingerprint), /^sha256-sampled:[0-9a-f]{64}$/);
    assert.equal((d.config as Record<string, unknown>).learner, 'maple');
    T.noGrad(() =>
      T.tidy(() => {
        seg.forward(px(), text());
      }),
    ); // builds the upsampler's cached interpolation matrices
    const before = T.liveTensors();
    const opt = new T.optim.AdamW(seg.parameterGroups(0.01), { lr: 1e-3 });
    for (let i = 0; i < 2; i++) {
      T.tidy(() => {
        const logits = seg.forward(px(), text());
        assert.deepEqual(logits.shape, [2, 1, 96, 96]);
        diceCELoss(logits, inputs.get('labels')!).loss.backward();
      });
      opt.step();
      opt.zeroGrad();
    }
    const optState = opt.stateDict().tensors.size;
    opt.dispose();
    assert.ok(optState > 0);
    assert.equal(T.liveTensors(), before, 'forward/backward/step leave the tensor count flat');
  } finally {
    seg.dispose();
  }
});

test('parameterGroups: decay on Linear/Conv weights (and attention in_proj_weight) only', async () => {
  const maple = await tiny({ learner: 'maple' });
  const attn = await tiny({ learner: 'shared_attn', heads: 16, feedforward: 64, dropout: 0 });
  try {
    assert.deepEqual(maple.decayNames().decayed.sort(), [
      'additive_decoder_layer.1.weight',
      'context_learner.projection_layers.0.0.weight',
      'context_learner.projection_layers.0.2.weight',
    ]);
    assert.deepEqual(maple.decayNames().other.sort(), [
      'additive_decoder_layer.1.bias',
      'context_learner.context_vectors',
      'context_learner.projection_layers.0.0.bias',
      'context_learner.projection_layers.0.3.bias',
      'context_learner.projection_layers.0.3.weight',
      'residual_ratio',
    ]);
    const d = attn.decayNames().decayed.sort();
    assert.deepEqual(d, [
      'additive_decoder_layer.1.weight',
      'context_learner.projection_layers.0.linear1.weight',
      'context_learner.projection_layers.0.linear2.weight',
      'context_learner.projection_layers.0.self_attn.in_proj_weight',
      'context_learner.projection_layers.0.self_attn.out_proj.weight',
    ]);
    assert.ok(attn.decayNames().other.includes('context_learner.projection_layers.0.norm1.weight'));
    const groups = maple.parameterGroups(0.05);
    assert.equal(groups[0]!.weightDecay, 0.05);
    assert.equal(groups[1]!.weightDecay, 0);
    assert.equal(groups[0]!.params.length + groups[1]!.params.length, maple.namedTrainable().length);
  } finally {
    maple.dispose();
    attn.dispose();
  }
});

test('learnableState round trip: same values, same logits; strict loading names the differences', async () => {
  const a = await tiny({ learner: 'cocoop', depth: 2 });
  const b = await tiny({ learner: 'cocoop', depth: 2 });
  const c = await tiny({ learner: 'cocoop', depth: 3 });
  try {
    T.noGrad(() =>
      T.tidy(() => {
        for (const [, t] of a.namedTrainable()) t.add_(T.randn(t.shape).mul(0.01));
      }),
    );
    const state = a.learnableState();
    assert.deepEqual(
      [...state.keys()].sort(),
      a
        .namedTrainable()
        .map(([k]) => k)
        .sort(),
    );
    b.loadLearnableState(state, 'a');
    T.noGrad(() =>
      T.tidy(() => {
        assert.equal(a.forward(px(), text()).sub(b.forward(px(), text())).abs().max().item(), 0);
      }),
    );
    assert.throws(
      () => c.loadLearnableState(state, 'a.safetensors'),
      (e: Error) => {
        assert.ok(e instanceof LearnableStateError);
        assert.match(e.message, /from a\.safetensors/);
        assert.match(e.message, /missing \(4\): context_learner\.projection_layers\.2\./);
        assert.match(e.message, /shape mismatch: context_learner\.context_vectors: expected \[3, 4, 32\], got \[2, 4, 32\]/);
        assert.match(e.message, /cocoop depth 3/);
        return true;
      },
    );
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
});

test("loadTuned: rebuilds the checkpoint's segmenter; refuses another base model or learner configuration", async () => {
  const config = { model: TINY, tokenizer: TOKENIZER, learner: 'vpt', depth: 2 };
  const seg = await buildSegmenter(config);
  const file = join(tmp, 'best.safetensors');
  try {
    T.noGrad(() => seg.context_learner!.namedParameters()[0]![1].mul_(3));
    saveCheckpoint(file, seg, { kind: 'best', model: config, metrics: { valDice: 0.5 }, epoch: 1, globalStep: 10 });
    const info = readTunedCheckpoint(file);
    assert.equal((info.segmenter.learner as Record<string, unknown>).depth, 2);
    const { segmenter: back } = await loadTuned(file);
    try {
      T.noGrad(() => T.tidy(() => assert.equal(back.forward(px(), text()).sub(seg.forward(px(), text())).abs().max().item(), 0)));
    } finally {
      back.dispose();
    }
    // a different base: same architecture, one tensor changed
    const other = join(tmp, 'other-base');
    T.noGrad(() => {
      const { tensors } = T.loadSafetensors(join(TINY, 'model.safetensors'));
      tensors.get('decoder.film_mul.weight')!.mul_(1.5);
      rmSync(other, { recursive: true, force: true });
      mkdirSync(other, { recursive: true });
      T.saveSafetensors(join(other, 'model.safetensors'), tensors, { format: 'pt' });
      T.dispose([...tensors.values()]);
    });
    copyFileSync(join(TINY, 'config.json'), join(other, 'config.json'));
    await assert.rejects(loadTuned(file, other), /tuned on base model .* but .* has different weights \(fingerprint/);
    await assert.rejects(
      loadTuned(file, undefined, { depth: 3 }),
      /learner configuration differs from the checkpoint's: depth 2 \(checkpoint\) vs 3/,
    );
    await assert.rejects(
      loadTuned(file, undefined, { quirks: 'fixed' }),
      /segmenter configuration differs from the checkpoint's: quirks "reference" \(checkpoint\) vs "fixed"/,
    );
    await assert.rejects(loadTuned(file, CRIS_TINY), /config\.json/);
    await assert.rejects(loadTuned(join(tmp, 'missing.safetensors')), /no such checkpoint file/);
  } finally {
    seg.dispose();
  }
});

test("quirks 'fixed': CoOp/CoCoOp use the upsampler (quirk 1), VPT mixes with residual_ratio (quirk 2)", async () => {
  for (const learner of ['coop', 'cocoop', 'vpt']) {
    const ref = await tiny({ learner });
    const fixed = await tiny({ learner, quirks: 'fixed' });
    try {
      fixed.loadLearnableState(ref.learnableState());
      const gr = gradsOf(ref);
      const gf = gradsOf(fixed);
      if (learner === 'vpt') {
        assert.equal(gr.get('residual_ratio'), null, 'reference VPT: residual_ratio unused');
        assert.ok(gr.get('additive_decoder_layer.1.weight'));
      } else {
        assert.equal(gr.get('additive_decoder_layer.1.weight'), null, `reference ${learner}: the upsampler is never used`);
        assert.equal(gr.get('residual_ratio'), null);
      }
      assert.ok(gf.get('residual_ratio'), `fixed ${learner}: residual_ratio trains`);
      assert.ok(gf.get('additive_decoder_layer.1.weight'), `fixed ${learner}: the upsampler trains`);
      T.dispose([...gr.values(), ...gf.values()]);
      T.noGrad(() => T.tidy(() => assert.ok(ref.forward(px(), text()).sub(fixed.forward(px(), text())).abs().max().item() > 1e-3)));
      // quirk 16 switch: reference train() reaches the frozen model, fixed keeps it in eval mode
      ref.train();
      fixed.train();
      assert.equal((ref as PromptedClipSeg).model.training, true);
      assert.equal((fixed as PromptedClipSeg).model.training, false);
      assert.equal(fixed.context_learner!.training, true);
    } finally {
      ref.dispose();
      fixed.dispose();
    }
  }
});

test('CRIS: CoOp/CoCoOp only; quirk 12 depth shift; quirk 16 train mode and BatchNorm statistics in the learnable state', async () => {
  const model = (): CRIS => {
    const m = new CRIS(crisTiny());
    loadCrisWeights(m, join(CRIS_TINY, 'model.safetensors'));
    return m;
  };
  for (const l of ['vpt', 'maple', 'shared_separate', 'shared_attn']) {
    const m = model();
    assert.throws(
      () => new PromptedCris(m, { learner: l as 'vpt' }),
      /CRIS's image encoder is a CNN \(ResNet\): only the text learners coop and cocoop apply/,
    );
    m.dispose();
  }
  const ref = new PromptedCris(model(), { learner: 'coop' });
  const fixed = new PromptedCris(model(), { learner: 'coop', quirks: 'fixed' });
  try {
    fixed.loadLearnableState(new Map(ref.namedTrainable()));
    assert.equal(ref.context_learner!.numContext, 4, '"a photo of a" without a tokenizer');
    const t = { inputIds: crisInputs.get('input_ids')!, attentionMask: crisInputs.get('attention_mask')! };
    const pixels = crisInputs.get('pixel_values')!;
    T.noGrad(() =>
      T.tidy(() => {
        const a = ref.forward(pixels, t),
          b = fixed.forward(pixels, t);
        assert.deepEqual(a.shape, [2, 1, 64, 64]);
        assert.ok(a.sub(b).abs().max().item() > 1e-4, 'depth 1: the reference re-injects ctx[0] after block 0, fixed does not');
      }),
    );
    assert.throws(() => ref.tokenize(['polyp']), /no tokenizer/);
    const withTok = new PromptedCris(model(), { learner: 'cocoop', tokenizer: ClipTokenizer.fromDir(TOKENIZER) });
    const tk = withTok.tokenize(['a photo of a malignant tumor in the left atrium cavity.', 'polyp']);
    assert.deepEqual(tk.inputIds.toArray(), t.inputIds.toArray());
    T.dispose(tk);
    withTok.dispose();
    ref.train();
    fixed.train();
    assert.equal(ref.cris.backbone.visual.bn1.training, true, 'reference: Lightning train() reaches CRIS BatchNorms');
    assert.equal(fixed.cris.backbone.visual.bn1.training, false);
    assert.ok([...ref.learnableState().keys()].includes('backbone.visual.bn1.running_mean'));
    assert.ok(![...fixed.learnableState().keys()].some((k) => k.includes('running_')));
    ref.eval();
  } finally {
    ref.dispose();
    fixed.dispose();
  }
  const viaFactory = await buildSegmenter({ model: 'cris-tiny', randomWeights: true, learner: 'cocoop', depth: 2 });
  assert.ok(viaFactory instanceof PromptedCris);
  // context [2, 4, 64] + 2 x (Linear(128, 64) + Linear(64, 64, no bias) + LayerNorm(64, no bias)) + Conv1x1(64, 64) + Conv5x5(64, 1) + r
  assert.equal(viaFactory.numParameters(true), 2 * 4 * 64 + 2 * (128 * 64 + 64 + 64 * 64 + 64) + 64 * 64 + 64 * 25 + 1 + 1);
  viaFactory.dispose();
  await assert.rejects(
    buildSegmenter({ model: 'cris-tiny', randomWeights: true, learner: 'vpt' }),
    /only the text learners coop and cocoop/,
  );
});

test('issue 24 row 5: prompt tuning builds CRIS with decoder dropout 0 (configs/experiment/coop/cris.yaml), whatever the folder says; e2e keeps it', async () => {
  // A converted CRIS folder that records the model yaml's dropout 0.2 (what `convert` writes by default).
  const dir = join(tmp, 'cris-dropout');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'cris', ...crisTiny(), dropout: 0.2 }));
  copyFileSync(join(CRIS_TINY, 'model.safetensors'), join(dir, 'model.safetensors'));
  const t = { inputIds: crisInputs.get('input_ids')!, attentionMask: crisInputs.get('attention_mask')! };
  const twice = (seg: TunedSegmenter): number => {
    seg.train(); // Lightning's net.train(): reaches the frozen CRIS in reference mode (quirk 16)
    T.manualSeed(1);
    return T.noGrad(() =>
      T.tidy(() =>
        seg
          .forward(crisInputs.get('pixel_values')!, t)
          .sub(seg.forward(crisInputs.get('pixel_values')!, t))
          .abs()
          .max()
          .item(),
      ),
    );
  };
  const ref = (await buildSegmenter({ model: dir, learner: 'coop', tokenizer: TOKENIZER })) as PromptedCris;
  const e2e = (await buildSegmenter({ model: dir, learner: 'coop', tokenizer: TOKENIZER, e2e: true })) as PromptedCris;
  try {
    assert.equal(ref.cris.config.dropout, 0);
    assert.equal(ref.cris.backbone.visual.bn1.training, false, 'built in eval mode');
    assert.equal(twice(ref), 0, 'no active dropout in training mode: the same forward twice gives the same logits');
    assert.equal(e2e.cris.config.dropout, 0.2, 'configs/experiment/e2e_cris.yaml trains end to end with dropout 0.2');
    assert.ok(twice(e2e) > 1e-4, 'e2e: the decoder dropout is active in training mode');
  } finally {
    ref.dispose();
    e2e.dispose();
  }
});

test('the frozen-feature cache: text-only learners reuse prompt-free vision features per image, same logits and grads', async () => {
  const plain = await tiny({ learner: 'cocoop' });
  const cached = await tiny({ learner: 'cocoop', frozenCacheMb: 8 });
  try {
    cached.loadLearnableState(plain.learnableState());
    const s = cached as PromptedClipSeg;
    const g0 = gradsOf(plain);
    const g1 = gradsOf(cached);
    const g2 = gradsOf(cached);
    assert.equal(s.frozenCache.size, 2);
    assert.equal(s.frozenCache.hits, 2);
    for (const [k, g] of g0) {
      if (!g) continue;
      for (const other of [g1, g2]) T.tidy(() => assert.ok(g.sub(other.get(k)!).abs().max().item() < 1e-6, k));
    }
    // a batch mixing a cached and a new image
    const mixed = T.tidy(() => T.cat([px().narrow(0, 0, 1), px().narrow(0, 1, 1).mul(0.5)], 0));
    T.noGrad(() =>
      T.tidy(() => {
        const a = plain.forward(mixed, text()),
          b = cached.forward(mixed, text());
        assert.ok(a.sub(b).abs().max().item() < 1e-5);
      }),
    );
    assert.equal(s.frozenCache.size, 3);
    mixed.dispose();
    T.dispose([...g0.values(), ...g1.values(), ...g2.values()]);
  } finally {
    plain.dispose();
    cached.dispose();
  }
});

test("e2e trains the whole model; noFreezeLastLayer trains the transposed convolution's last layer", async () => {
  const e2e = await tiny({ learner: 'none', e2e: true });
  const last = await tiny({ learner: 'vpt', useNewLastLayer: false, noFreezeLastLayer: true });
  try {
    assert.equal(e2e.numParameters(true), e2e.numParameters(false));
    assert.ok(e2e.decayNames().decayed.includes('model.clip.vision_model.encoder.layers.0.mlp.fc1.weight'));
    assert.ok(e2e.decayNames().other.includes('model.clip.text_model.embeddings.token_embedding.weight'));
    const g = gradsOf(e2e);
    assert.ok(g.get('model.clip.vision_model.embeddings.patch_embedding.weight'));
    T.dispose([...g.values()]);
    assert.deepEqual(
      last
        .namedTrainable()
        .map(([k]) => k)
        .sort(),
      ['context_learner.context_vectors', 'model.decoder.transposed_convolution.4.bias', 'model.decoder.transposed_convolution.4.weight'],
    );
  } finally {
    e2e.dispose();
    last.dispose();
  }
});

test('the factored upsampler equals Upsample -> Conv2d(replicate, same) in values and gradients', () => {
  const cases: { x: number[]; k: number; spec: UpsampleSpec }[] = [
    { x: [2, 16, 6, 6], k: 5, spec: { scaleFactor: 16 } }, // CLIPSeg tiny
    { x: [1, 8, 5, 7], k: 4, spec: { scaleFactor: 3 } }, // even kernel, non-square
    { x: [2, 6, 4, 4], k: 5, spec: { size: 64 } }, // CRIS: Upsample(size)
    { x: [1, 3, 3, 3], k: 3, spec: { size: 10 } }, // non-integer ratio
  ];
  const plan = new UpsampleConvPlan();
  try {
    for (const c of cases) {
      T.tidy(() => {
        const C = c.x[1]!;
        const conv = new T.nn.Conv2d(C, 1, c.k, { padding: 'same', paddingMode: 'replicate' });
        const up = new T.nn.Upsample({
          ...(c.spec.scaleFactor ? { scaleFactor: c.spec.scaleFactor } : { size: c.spec.size! }),
          mode: 'bilinear',
          alignCorners: false,
        });
        const x1 = T.randn(c.x).requiresGrad_(true),
          x2 = x1.detach().requiresGrad_(true);
        const a = conv.forward(up.forward(x1));
        const b = plan.forward(x2, conv.weight, conv.bias, c.spec);
        assert.deepEqual(b.shape, a.shape);
        assert.ok(a.sub(b).abs().max().item() < 1e-5, `${JSON.stringify(c)}: values`);
        const g = T.randn(a.shape);
        const [gw1, gb1, gx1] = (() => {
          a.backward(g);
          return [conv.weight.grad!, conv.bias!.grad!, x1.grad!];
        })();
        conv.zeroGrad();
        b.backward(g);
        // The bias gradient is a sum of every element of g (18,432 in the first case), reduced in
        // a different order by each path: its rounding error scales with sum |g|, not with the
        // sum, which can come out near 0 (a bound on the sum alone failed ~1% of draws; measured
        // over 300 draws the error stays below 0.07 x 1e-6 sum |g|).
        const rounding = { x: 0, weight: 0, bias: 1e-6 * g.abs().sum().item() };
        for (const [name, p, q] of [
          ['x', gx1, x2.grad!],
          ['weight', gw1, conv.weight.grad!],
          ['bias', gb1, conv.bias!.grad!],
        ] as const) {
          const diff = p.sub(q).abs().max().item();
          assert.ok(
            diff < Math.max(1e-4 * Math.max(1, p.abs().max().item()), rounding[name]),
            `${JSON.stringify(c)}: grad ${name} differs by ${diff}`,
          );
        }
        conv.dispose();
      });
    }
  } finally {
    plan.dispose();
  }
});

test('factory validation: unknown keys, options of another learner, CRIS sources, bad values', async () => {
  assert.throws(() => parseSegmenterConfig({ learnr: 'vpt' }), /unknown option "learnr"/);
  assert.throws(() => parseSegmenterConfig({ quirks: 'sometimes' }), /option "quirks"/);
  assert.deepEqual(parseSegmenterConfig({}).learner, 'vpt');
  await assert.rejects(tiny({ learner: 'vpt', sharedDim: 32 }), /learner vpt: unknown option "sharedDim"/);
  await assert.rejects(tiny({ learner: 'maple', depth: 5 }), /depth 5 exceeds the encoders' depth 4/);
  await assert.rejects(buildSegmenter({ model: 'cris' }), /CRIS weights are not on the hub/);
  await assert.rejects(buildSegmenter({ model: 'nonsense' }), /neither an existing folder/);
  await assert.rejects(buildSegmenter({ model: FIX }), /has no config\.json/);
});
