// CLIPSeg / CLIP: parity with the clipseg-tiny fixture, strict loading, HF default filling,
// and a full-size rd64-refined forward with random weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

import * as T from '../src/torch/index.js';
import {
  CLIPSegForImageSegmentation,
  clipsegConfig,
  clipsegConfigFromJson,
  clipsegConfigToJson,
  clipsegRd64Config,
  clipsegRd64RefinedConfig,
  readClipsegConfig,
  CLIPSEG_PRESETS,
} from '../src/models/clipseg/index.js';
import { diceCELoss } from '../src/inference/loss.js';
import { CLIPTextTransformer, clipTextConfig } from '../src/models/clip/index.js';
import { computeClipsegBaseOutputs, clipsegBaseKind, clipsegTolerance } from '../src/parity/kinds/clipseg.js';
import { compareTensors, TOL } from '../src/parity/compare.js';

import { repoRoot } from './helpers.js';
const TINY = join(repoRoot(), '..', 'shared', 'fixtures', 'clipseg-tiny');

function withTmp<R>(fn: (dir: string) => R): R {
  const d = mkdtempSync(join(tmpdir(), 'clipseg-test-'));
  try {
    return fn(d);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

test('clipseg-tiny: every base-model output matches the fixture within the README tolerances', () => {
  const model = CLIPSegForImageSegmentation.fromPretrained(TINY);
  const inputs = T.loadSafetensors(join(TINY, 'inputs.safetensors')).tensors;
  const expected = T.loadSafetensors(join(TINY, 'outputs.safetensors')).tensors;
  const before = T.liveTensors();
  const actual = computeClipsegBaseOutputs(model, inputs);
  try {
    assert.equal(T.liveTensors(), before + new Set(actual.values()).size, 'only the returned outputs stay alive');
    for (const name of [
      'logits',
      'conditional_embeddings',
      'vision_activation.layer1',
      'vision_activation.layer2',
      'vision_activation.layer3',
      'decoder_features',
      'text_last_hidden_state',
      'text_pooled_output',
      'logits_native',
      'logits_pad77',
      'dicece_loss',
    ]) {
      assert.ok(actual.has(name), `computed ${name}`);
    }
    for (const [name, exp] of expected) {
      const got = actual.get(name);
      assert.ok(got, `the kind computes ${name}`);
      const r = T.tidy(() => compareTensors(got, exp, clipsegTolerance(name)));
      assert.ok(r.pass, `${name}: max abs ${r.max_abs} ${r.error ?? ''}`);
    }
    // The stricter bound the README quotes for logits: a few times the fp32-vs-fp64 noise.
    const r = T.tidy(() => compareTensors(actual.get('logits')!, expected.get('logits')!, { atol: 3e-5, rtol: 0 }));
    assert.ok(r.pass, `logits max abs ${r.max_abs}`);
  } finally {
    T.dispose([...actual.values(), ...inputs.values(), ...expected.values()]);
    model.dispose();
  }
});

test('clipseg-tiny: the parity kind recognises the folder and passes', async () => {
  const cj = JSON.parse(readFileSync(join(TINY, 'case.json'), 'utf8')) as Record<string, unknown>;
  assert.ok(clipsegBaseKind.matches(TINY, cj));
  assert.ok(!clipsegBaseKind.matches(join(TINY, 'learners', 'coop-d1'), null));
  const before = T.liveTensors();
  const r = await clipsegBaseKind.run(TINY, cj);
  assert.equal(T.liveTensors(), before, 'the kind frees everything it loads');
  assert.equal(Object.keys(r.tensors).length, 21);
  for (const [k, v] of Object.entries(r.tensors)) assert.ok(v.pass, `${k}: ${JSON.stringify(v)}`);
});

test('forward inside tidy leaks nothing; conditioning on embeddings equals conditioning on text', () => {
  const model = CLIPSegForImageSegmentation.fromPretrained(TINY);
  const inputs = T.loadSafetensors(join(TINY, 'inputs.safetensors')).tensors;
  try {
    const before = T.liveTensors();
    T.noGrad(() =>
      T.tidy(() => {
        const px = inputs.get('pixel_values')!;
        const a = model.forward(px, { inputIds: inputs.get('input_ids')!, attentionMask: inputs.get('attention_mask')! });
        const b = model.forward(px, { conditionalEmbeddings: a.conditionalEmbeddings });
        assert.deepEqual(a.logits.shape, [2, 96, 96]);
        assert.deepEqual(a.decoderFeatures.shape, [2, 16, 6, 6]);
        assert.equal(a.visionHiddenStates.length, 5); // input + 4 layers: extract [1,2,3] needs 4
        assert.equal(a.visionPooledOutput, null);
        assert.equal(b.textLastHiddenState, null);
        assert.equal(a.logits.sub(b.logits).abs().max().item(), 0);
        assert.throws(() => model.forward(px, { conditionalEmbeddings: T.zeros([2, 31]) }), /\[2, 32\]/);
      }),
    );
    assert.equal(T.liveTensors(), before);
  } finally {
    T.dispose([...inputs.values()]);
    model.dispose();
  }
});

test('DiceCE loss: MONAI semantics on a hand-computed case', () => {
  T.tidy(() => {
    const logits = T.tensor([0, 2, -1, 1], [1, 1, 2, 2]);
    const target = T.tensor([1, 1, 0, 0], [1, 1, 2, 2]);
    const sig = (x: number): number => 1 / (1 + Math.exp(-x));
    const p = [0, 2, -1, 1].map(sig),
      t = [1, 1, 0, 0];
    const inter = p.reduce((s, v, i) => s + v * t[i]!, 0);
    const dice = 1 - (2 * inter + 1e-5) / (p.reduce((s, v) => s + v, 0) + 2 + 1e-5);
    const bce = [0, 2, -1, 1].reduce((s, x, i) => s + (Math.max(x, 0) - x * t[i]! + Math.log1p(Math.exp(-Math.abs(x)))), 0) / 4;
    const r = diceCELoss(logits, target);
    assert.ok(Math.abs(r.dice.item() - dice) < 1e-6);
    assert.ok(Math.abs(r.bce.item() - bce) < 1e-6);
    assert.ok(Math.abs(r.loss.item() - (dice + 0.2 * bce)) < 1e-6);
    assert.throws(() => diceCELoss(T.zeros([1, 2, 2, 2]), T.zeros([1, 2, 2, 2])), /one-channel/);
    assert.throws(() => diceCELoss(T.zeros([1, 1, 2, 2]), T.zeros([1, 1, 2, 3])), /same/);
  });
});

test('config: HF defaults filled from the minimal config.json equal case.json config_resolved', () => {
  const cj = JSON.parse(readFileSync(join(TINY, 'case.json'), 'utf8')) as { config_resolved: Record<string, unknown> };
  const resolved = cj.config_resolved;
  const ours = clipsegConfigToJson(readClipsegConfig(join(TINY, 'config.json')));
  let compared = 0;
  for (const [k, v] of Object.entries(ours)) {
    if (k === 'text_config' || k === 'vision_config') {
      const sub = resolved[k] as Record<string, unknown>;
      for (const [kk, vv] of Object.entries(v as Record<string, unknown>)) {
        assert.deepEqual(vv, sub[kk], `${k}.${kk}`);
        compared++;
      }
    } else {
      assert.deepEqual(v, resolved[k], k);
      compared++;
    }
  }
  assert.ok(compared >= 35, `compared ${compared} fields`);
  // A config with nothing but model_type is HF's CLIPSegConfig() (clipseg-rd64 architecture, patch 32).
  const bare = clipsegConfigFromJson({ model_type: 'clipseg' });
  assert.deepEqual(bare, clipsegConfig());
  assert.equal(bare.visionConfig.patchSize, 32);
  assert.equal(bare.textConfig.eosTokenId, 49407);
  assert.equal(bare.useComplexTransposedConvolution, false);
  // legacy *_config_dict wins over *_config, as in HF
  const legacy = clipsegConfigFromJson({
    model_type: 'clipseg',
    vision_config: { patch_size: 32 },
    vision_config_dict: { patch_size: 16 },
  });
  assert.equal(legacy.visionConfig.patchSize, 16);
  // presets
  const r = clipsegRd64RefinedConfig();
  assert.equal(r.visionConfig.patchSize, 16);
  assert.equal(r.visionConfig.imageSize, 224);
  assert.equal(r.textConfig.eosTokenId, 2);
  assert.deepEqual(r.extractLayers, [3, 6, 9]);
  assert.equal(r.useComplexTransposedConvolution, true);
  assert.equal(clipsegRd64Config().useComplexTransposedConvolution, false);
  assert.equal(CLIPSEG_PRESETS['CIDAS/clipseg-rd64-refined']!.inputSize, 352);
});

test('config: errors name the file and the field', () => {
  assert.throws(() => clipsegConfigFromJson({ model_type: 'clip' }, 'x/config.json'), /x\/config\.json.*model_type/);
  assert.throws(
    () => clipsegConfigFromJson({ model_type: 'clipseg', reduce_dim: '64' }, 'x/config.json'),
    /x\/config\.json: field "reduce_dim" must be a positive integer/,
  );
  assert.throws(
    () => clipsegConfigFromJson({ model_type: 'clipseg', text_config: { hidden_act: 'swish' } }, 'c.json'),
    /c\.json text_config: field "hidden_act"/,
  );
  assert.throws(() => clipsegConfigFromJson({ model_type: 'clipseg', extract_layers: [3, 12] }), /extract_layers/);
  withTmp((d) => {
    assert.throws(() => CLIPSegForImageSegmentation.fromPretrained(d), /config\.json does not exist/);
    writeFileSync(join(d, 'config.json'), '{not json');
    assert.throws(() => readClipsegConfig(join(d, 'config.json')), /not valid JSON/);
    copyFileSync(join(TINY, 'config.json'), join(d, 'config.json'));
    writeFileSync(join(d, 'pytorch_model.bin'), '');
    assert.throws(() => CLIPSegForImageSegmentation.fromPretrained(d), /model\.safetensors does not exist \(found pytorch_model\.bin/);
  });
});

test('strict loading: a missing, an extra and a mis-shaped key each fail naming the file and the key', () => {
  const sd = T.loadSafetensors(join(TINY, 'model.safetensors')).tensors;
  try {
    const variants: [string, (m: Map<string, T.Tensor>) => void, RegExp][] = [
      ['missing', (m) => m.delete('decoder.film_mul.bias'), /missing keys \(1\): decoder\.film_mul\.bias/],
      ['extra', (m) => m.set('decoder.extra.weight', T.zeros([2])), /unexpected keys \(1\): decoder\.extra\.weight/],
      [
        'shape',
        (m) => m.set('clip.visual_projection.weight', T.zeros([32, 63])),
        /shape mismatch for clip\.visual_projection\.weight: model has \[32, 64\], checkpoint has \[32, 63\]/,
      ],
    ];
    for (const [what, edit, re] of variants) {
      withTmp((d) => {
        const m = new Map(sd);
        edit(m);
        copyFileSync(join(TINY, 'config.json'), join(d, 'config.json'));
        T.saveSafetensors(join(d, 'model.safetensors'), m);
        const before = T.liveTensors();
        assert.throws(
          () => CLIPSegForImageSegmentation.fromPretrained(d),
          (e: Error) => {
            assert.match(e.message, re, what);
            assert.ok(e.message.includes(join(d, 'model.safetensors')), `${what}: names the file`);
            return true;
          },
        );
        assert.equal(T.liveTensors(), before, `${what}: a failed load frees the model and the file's tensors`);
      });
    }
    // HF's old persistent position_ids buffers are accepted when they are 0..n-1, refused otherwise.
    withTmp((d) => {
      const m = new Map(sd);
      m.set('clip.text_model.embeddings.position_ids', T.arange(77).view(1, 77));
      m.set('clip.vision_model.embeddings.position_ids', T.arange(17).view(1, 17));
      copyFileSync(join(TINY, 'config.json'), join(d, 'config.json'));
      T.saveSafetensors(join(d, 'model.safetensors'), m);
      CLIPSegForImageSegmentation.fromPretrained(d).dispose();
      m.set('clip.vision_model.embeddings.position_ids', T.arange(17).flip(0).view(1, 17));
      T.saveSafetensors(join(d, 'model.safetensors'), m);
      assert.throws(() => CLIPSegForImageSegmentation.fromPretrained(d), /position_ids is not 0\.\.n-1/);
    });
    // tokenizer files next to the weights are picked up
    withTmp((d) => {
      for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(TINY, f), join(d, f));
      const tokDir = join(TINY, '..', 'tokenizer');
      for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
        if (existsSync(join(tokDir, f))) copyFileSync(join(tokDir, f), join(d, f));
      }
      const m = CLIPSegForImageSegmentation.fromPretrained(d);
      assert.ok(m.tokenizer);
      assert.deepEqual(m.tokenizer.encode('polyp').inputIds.length, 4);
      m.dispose();
    });
  } finally {
    T.dispose([...sd.values()]);
  }
});

test('text pooling: legacy eos 2 uses argmax(ids), otherwise the first eos_token_id', () => {
  const legacy = new CLIPTextTransformer(
    clipTextConfig({
      vocabSize: 50,
      hiddenSize: 8,
      intermediateSize: 16,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
      maxPositionEmbeddings: 8,
      eosTokenId: 2,
    }),
  );
  const modern = new CLIPTextTransformer(
    clipTextConfig({
      vocabSize: 50,
      hiddenSize: 8,
      intermediateSize: 16,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
      maxPositionEmbeddings: 8,
      eosTokenId: 7,
    }),
  );
  try {
    T.tidy(() => {
      const ids = T.tensor(
        [
          [1, 40, 7, 7, 7],
          [1, 7, 45, 7, 3],
        ],
        { dtype: 'int64' },
      );
      assert.deepEqual(legacy.eosPoolIndex(ids).toArray(), [1, 2]);
      assert.deepEqual(modern.eosPoolIndex(ids).toArray(), [2, 1]);
      assert.throws(() => legacy.forward(T.zeros([1, 9], { dtype: 'int64' })), /max_position_embeddings 8/);
    });
  } finally {
    legacy.dispose();
    modern.dispose();
  }
});

test('full-size CIDAS/clipseg-rd64-refined config, random weights: 352x352 batch 2 -> logits [2, 352, 352]', () => {
  const model = T.noGrad(() => new CLIPSegForImageSegmentation(clipsegRd64RefinedConfig()));
  try {
    model.eval();
    // text 63,165,952 + vision 85,799,424 + projections and logit_scale 655,361 + decoder 1,127,009
    assert.equal(model.numParameters(), 150_747_746);
    const before = T.liveTensors();
    T.noGrad(() =>
      T.tidy(() => {
        const px = T.randn([2, 3, 352, 352]);
        const ids = T.tensor(
          [
            [0, 320, 1125, 539, 320, 13, 2, 1],
            [0, 4715, 2, 1, 1, 1, 1, 1],
          ],
          { dtype: 'int64' },
        );
        const mask = T.tensor(
          [
            [1, 1, 1, 1, 1, 1, 1, 0],
            [1, 1, 1, 0, 0, 0, 0, 0],
          ],
          { dtype: 'int64' },
        );
        const out = model.forward(px, { inputIds: ids, attentionMask: mask });
        assert.deepEqual(out.logits.shape, [2, 352, 352]);
        assert.deepEqual(out.decoderFeatures.shape, [2, 64, 22, 22]);
        assert.deepEqual(
          out.visionActivations.map((a) => a.shape),
          [
            [2, 485, 768],
            [2, 485, 768],
            [2, 485, 768],
          ],
        );
        assert.equal(out.visionHiddenStates.length, 11, 'layers 1..10 only: extract [3, 6, 9] reads hidden_states[4, 7, 10]');
        assert.ok(out.logits.isfinite().all().item() === 1);
      }),
    );
    assert.equal(T.liveTensors(), before);
  } finally {
    model.dispose();
  }
});

test('tolerance classes follow the README', () => {
  assert.equal(clipsegTolerance('dicece_loss'), TOL.loss);
  assert.equal(clipsegTolerance('logits_pad77'), TOL.logits);
  assert.equal(clipsegTolerance('vision_hidden_states.3'), TOL.activations);
});
