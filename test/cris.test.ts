import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { F, Tensor, cat, dispose, liveTensors, loadSafetensors, noGrad, tidy, zeros, randn } from '../src/torch/index.js';
import {
  CRIS,
  crisConfigFromReference,
  crisTiny,
  crisRn50,
  checkCrisConfig,
  loadCrisWeights,
  extendPadMaskForContext,
  eosIndexForContext,
  insertContextAfterBos,
  inferCrisConfig,
  parseCrisConfig,
  type CrisOutput,
  type CrisTextHooks,
} from '../src/models/cris/index.js';
import { compareTensors, TOL, type Tolerance } from '../src/parity/compare.js';
import { diceCELoss } from '../src/inference/loss.js';
import { crisBaseKind } from '../src/parity/kinds/cris.js';

import { repoRoot } from './helpers.js';
const FIX = join(repoRoot(), '..', 'shared', 'fixtures', 'cris-tiny');
const caseJson = JSON.parse(readFileSync(join(FIX, 'case.json'), 'utf8')) as Record<string, unknown>;

let model: CRIS;
let inputs: Map<string, Tensor>;
let expected: Map<string, Tensor>;

before(() => {
  model = new CRIS(crisConfigFromReference(caseJson.model_config));
  loadCrisWeights(model, join(FIX, 'model.safetensors'));
  inputs = loadSafetensors(join(FIX, 'inputs.safetensors')).tensors;
  expected = loadSafetensors(join(FIX, 'outputs.safetensors')).tensors;
});
after(() => {
  model.dispose();
  dispose([...inputs.values(), ...expected.values()]);
});

const get = (m: Map<string, Tensor>, k: string): Tensor => {
  const t = m.get(k);
  assert.ok(t, `fixture tensor ${k} missing`);
  return t;
};

function assertClose(actual: Tensor, exp: Tensor, tol: Tolerance, what: string): number {
  const r = compareTensors(actual, exp, tol);
  assert.ok(r.pass, `${what}: ${JSON.stringify(r)}`);
  return r.max_abs;
}

const FIELDS: [string, keyof CrisOutput, Tolerance][] = [
  ['logits', 'logits', TOL.logits],
  ['vis_c3', 'visC3', TOL.activations],
  ['vis_c4', 'visC4', TOL.activations],
  ['vis_c5', 'visC5', TOL.activations],
  ['text_features', 'textFeatures', TOL.activations],
  ['text_state', 'textState', TOL.activations],
  ['fpn_out', 'fpnOut', TOL.activations],
  ['decoder_out', 'decoderOut', TOL.activations],
  ['proj_out', 'projOut', TOL.activations],
];

test('tiny config from case.json equals the crisTiny preset', () => {
  assert.deepEqual(crisConfigFromReference(caseJson.model_config), crisTiny());
  assert.equal(model.training, false, 'CRIS is built in eval mode');
  assert.ok(
    model.backbone.parameters().every((p) => !p.requiresGrad),
    'freezeEncoder freezes the backbone',
  );
  assert.ok(model.neck.parameters().every((p) => p.requiresGrad));
});

test('parity with cris-tiny: logits and every intermediate, pad mask exact, DiceCE loss', () => {
  noGrad(() =>
    tidy(() => {
      const out = model.forward({
        pixelValues: get(inputs, 'pixel_values'),
        inputIds: get(inputs, 'input_ids'),
        attentionMask: get(inputs, 'attention_mask'),
      });
      for (const [name, field, tol] of FIELDS) assertClose(out[field] as Tensor, get(expected, name), tol, name);
      assert.equal(out.padMask.dtype, 'bool');
      assertClose(out.padMask.long(), get(expected, 'pad_mask'), TOL.exact, 'pad_mask');
      const l = diceCELoss(out.logits, get(inputs, 'labels'));
      assertClose(l.loss, get(expected, 'dicece_loss'), TOL.loss, 'dicece_loss');
      assert.ok(Math.abs(l.loss.item() - (l.dice.item() + 0.2 * l.bce.item())) < 1e-6);
    }),
  );
});

test('parity with cris-tiny: the pad-77 (truncated) input', () => {
  noGrad(() =>
    tidy(() => {
      const out = model.forward({
        pixelValues: get(inputs, 'pixel_values'),
        inputIds: get(inputs, 'input_ids_pad77'),
        attentionMask: get(inputs, 'attention_mask_pad77'),
      });
      assertClose(out.logits, get(expected, 'logits_pad77'), TOL.logits, 'logits_pad77');
    }),
  );
});

test('a tidy forward leaves liveTensors where it started', () => {
  const start = liveTensors();
  noGrad(() =>
    tidy(() => {
      model.forward({
        pixelValues: get(inputs, 'pixel_values'),
        inputIds: get(inputs, 'input_ids'),
        attentionMask: get(inputs, 'attention_mask'),
      });
    }),
  );
  assert.equal(liveTensors(), start);
  // forward itself returns only its outputs: disposing them restores the count.
  const out = noGrad(() => model.forward({ pixelValues: get(inputs, 'pixel_values'), inputIds: get(inputs, 'input_ids') }));
  dispose(out);
  assert.equal(liveTensors(), start);
  // With grad on and hooks, too.
  tidy(() => {
    const out2 = model.forward(
      { pixelValues: get(inputs, 'pixel_values'), inputIds: get(inputs, 'input_ids'), attentionMask: get(inputs, 'attention_mask') },
      { afterBlock: (_i, h) => h.mul(1) },
    );
    return out2.logits.sum();
  }).dispose();
  assert.equal(liveTensors(), start);
});

test('the parity kind recognises cris-tiny only and passes on it', async () => {
  assert.equal(crisBaseKind.matches(FIX, caseJson), true);
  const learnerCase = JSON.parse(readFileSync(join(FIX, 'learners', 'coop-d1', 'case.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(crisBaseKind.matches(join(FIX, 'learners', 'coop-d1'), learnerCase), false);
  assert.equal(crisBaseKind.matches(FIX, null), false);
  const start = liveTensors();
  const r = await crisBaseKind.run(FIX, caseJson);
  assert.deepEqual(Object.keys(r.tensors).sort(), [...expected.keys()].sort());
  for (const [k, v] of Object.entries(r.tensors)) assert.ok(v.pass, `${k}: ${JSON.stringify(v)}`);
  assert.equal(liveTensors(), start);
});

test('strict loading names missing, unexpected and mis-shaped keys', () => {
  const m = new CRIS(crisTiny());
  const { tensors } = loadSafetensors(join(FIX, 'model.safetensors'));
  try {
    const sd = new Map(tensors);
    sd.delete('decoder.norm.weight');
    sd.set('decoder.extra.weight', zeros([1]));
    sd.set('proj.txt.bias', zeros([7]));
    assert.throws(
      () => m.loadStateDict(sd, { source: 'broken.safetensors' }),
      (e: Error & { missing?: string[]; unexpected?: string[] }) => {
        assert.match(e.message, /broken\.safetensors/);
        assert.match(e.message, /missing keys \(1\): decoder\.norm\.weight/);
        assert.match(e.message, /unexpected keys \(1\): decoder\.extra\.weight/);
        assert.match(e.message, /shape mismatch for proj\.txt\.bias: model has \[289\], checkpoint has \[7\]/);
        assert.deepEqual(e.missing, ['decoder.norm.weight']);
        assert.deepEqual(e.unexpected, ['decoder.extra.weight']);
        return true;
      },
    );
    dispose([sd.get('decoder.extra.weight'), sd.get('proj.txt.bias')]);
    // The full fixture loads strictly and covers every key (BatchNorm buffers included).
    assert.deepEqual([...m.stateDict().keys()].sort(), [...tensors.keys()].sort());
  } finally {
    m.dispose();
    dispose([...tensors.values()]);
  }
});

test('config validation and inference', () => {
  const rn = crisRn50();
  assert.deepEqual(rn.fpnIn, [512, 1024, 1024]);
  assert.deepEqual(rn.fpnOut, [256, 512, 1024]);
  assert.equal(rn.clip.transformerWidth, 512);
  assert.equal(rn.imgSize, 416);
  assert.equal(rn.dropout, 0.2);
  assert.throws(
    () => checkCrisConfig({ ...crisTiny(), visDim: 48, fpnOut: [32, 48, 128] }),
    /visDim 48 must equal clip\.transformerWidth 64/,
  );
  assert.throws(() => checkCrisConfig({ ...crisTiny(), wordDim: 64 }), /wordDim 64 must equal clip\.embedDim 128/);
  assert.throws(() => parseCrisConfig({ model_type: 'cris', ...crisTiny(), numHead: 0 }), /numHead/);
  assert.throws(() => crisConfigFromReference({ clip: {}, cris: {} }), /transformer_width/);
  const shapes = new Map([...model.stateDict()].map(([k, t]) => [k, t.shape]));
  assert.deepEqual(inferCrisConfig(shapes, { numHead: 4, dropout: 0, imgSize: 64 }), crisTiny());
});

test('input validation errors are precise', () => {
  const px = get(inputs, 'pixel_values');
  assert.throws(() => model.forward({ pixelValues: px, inputIds: zeros([2, 78], { dtype: 'int64' }) }), /78 tokens exceed maxLength 77/);
  assert.throws(
    () => model.forward({ pixelValues: px, inputIds: get(inputs, 'input_ids'), attentionMask: get(inputs, 'attention_mask_pad77') }),
    /attentionMask \[2, 77\] must match inputIds \[2, 15\]/,
  );
  assert.throws(
    () =>
      model.forward(
        { pixelValues: px, inputIds: get(inputs, 'input_ids') },
        {
          afterBlock: (_i, h) => h.slice(1, 0, 3),
        },
      ),
    /afterBlock\(0\) must return a \[2, 15, 64\] tensor/,
  );
});

test('hooks: identity hooks reproduce the plain forward; afterBlock fires after every block, 0-based', () => {
  noGrad(() =>
    tidy(() => {
      const inp = {
        pixelValues: get(inputs, 'pixel_values'),
        inputIds: get(inputs, 'input_ids'),
        attentionMask: get(inputs, 'attention_mask'),
      };
      const calls: [number, number[]][] = [];
      const out = model.forward(inp, {
        prepare: (ctx) => {
          assert.deepEqual(ctx.tokenEmbeds.shape, [2, 15, 64]);
          assert.deepEqual(ctx.imageFeatures.shape, [2, 128]);
          assert.deepEqual(ctx.eosIndex.toArray(), get(inputs, 'input_ids').argmax(-1).toArray());
          return { inputEmbeds: ctx.tokenEmbeds, padMask: ctx.padMask, eosIndex: ctx.eosIndex };
        },
        afterBlock: (i, h) => {
          calls.push([i, h.shape]);
          return h;
        },
      });
      assert.deepEqual(calls, [
        [0, [2, 15, 64]],
        [1, [2, 15, 64]],
        [2, [2, 15, 64]],
      ]);
      assertClose(out.logits, get(expected, 'logits'), TOL.logits, 'logits through identity hooks');
      assertClose(out.imageFeatures!, out.visC5.mean([2, 3]), TOL.exact, 'imageFeatures = mean of vis_c5');
    }),
  );
});

test('helpers: pad mask extension, EOS index and context insertion follow COOPCRIS', () => {
  tidy(() => {
    const pm = get(inputs, 'attention_mask').eq(0);
    const ext = extendPadMaskForContext(pm, 4);
    assert.deepEqual(ext.shape, [2, 19]);
    assert.deepEqual(ext.slice(1, 0, 4).any().item(), 0);
    assert.deepEqual(ext.slice(1, 4).toArray(), pm.toArray());
    assert.deepEqual(extendPadMaskForContext(get(inputs, 'attention_mask_pad77').eq(0), 4).shape, [2, 77]);
    const ids77 = get(inputs, 'input_ids_pad77');
    assert.deepEqual(eosIndexForContext(ids77, 4).toArray(), ids77.argmax(-1).add(4).clamp(null, 76).toArray());
    assert.equal(eosIndexForContext(ids77, 4).toArray()[0], 76);
    const emb = randn([2, 77, 8]);
    const ctx = randn([4, 8]);
    const x = insertContextAfterBos(emb, ctx);
    assert.deepEqual(x.shape, [2, 77, 8]);
    assert.ok(x.slice(1, 1, 5).select(0, 1).allclose(ctx));
    assert.ok(x.slice(1, 5, 76).allclose(emb.slice(1, 1, 72)));
    assert.ok(x.select(1, 76).allclose(emb.select(1, 76)));
    const short = insertContextAfterBos(randn([2, 15, 8]), ctx);
    assert.deepEqual(short.shape, [2, 19, 8]);
  });
});

// A minimal COOPCRIS emulation on top of the hooks (the real learners live in src/learners/):
// it checks that the hook points reproduce the reference's prompted text path exactly.
function coopHooks(ctx0: Tensor, n: number, depth: number, bias?: (imageFeatures: Tensor) => Tensor): CrisTextHooks {
  const contextFor = (imageFeatures: Tensor): Tensor =>
    bias ? bias(imageFeatures).unsqueeze(1).add(ctx0) : ctx0.unsqueeze(0).expand(imageFeatures.size(0), n, ctx0.size(1));
  return {
    prepare: (c) => ({
      inputEmbeds: insertContextAfterBos(c.tokenEmbeds, contextFor(c.imageFeatures), 77),
      padMask: extendPadMaskForContext(c.padMask, n, 77),
      eosIndex: eosIndexForContext(c.inputIds, n, 77),
    }),
    // COOPCRIS.text_trasnformer_forward: after block idx (0-based) with idx < prompt_depth,
    // positions 1..n are overwritten with context idx (depth 1: context 0 again, quirk 12).
    afterBlock: (i, h, imageFeatures) => {
      if (i >= depth) return h;
      const [B, L, W] = h.shape as [number, number, number];
      return cat([h.slice(1, 0, 1), contextFor(imageFeatures).expand(B, n, W), h.slice(1, n + 1, L)], 1);
    },
  };
}

function additive(decoderMap: Tensor, p: Map<string, Tensor>, imgSize: number, logits: Tensor): Tensor {
  const a = F.conv2d(decoderMap, get(p, 'additive_decoder_layer.0.weight'));
  const up = F.interpolate(a, { size: [imgSize, imgSize], mode: 'bilinear', alignCorners: false });
  const padded = F.pad(up, [2, 2, 2, 2], 'replicate');
  const b = F.conv2d(padded, get(p, 'additive_decoder_layer.2.weight'), get(p, 'additive_decoder_layer.2.bias'));
  const r = get(p, 'residual_ratio');
  return logits.mul(r.rsub(1)).add(b.mul(r));
}

for (const learner of ['coop-d1', 'cocoop-d1'] as const) {
  test(`hooks reproduce the reference COOPCRIS text path (${learner}; quirks 12-15)`, () => {
    const dir = join(FIX, 'learners', learner);
    const params = loadSafetensors(join(dir, 'params_init.safetensors')).tensors;
    const exp = loadSafetensors(join(dir, 'outputs.safetensors')).tensors;
    try {
      noGrad(() =>
        tidy(() => {
          const ctx0 = get(params, 'context_learner.context_vectors').select(0, 0); // [4, 64]
          let bias: ((f: Tensor) => Tensor) | undefined;
          if (learner === 'cocoop-d1') {
            // Linear(128, 64) -> ReLU -> Linear(64, 64, bias=False) -> LayerNorm(64, bias=False), on mean(vis_c5) (quirk 14).
            bias = (f) =>
              F.layerNorm(
                F.linear(
                  F.relu(
                    F.linear(
                      f,
                      get(params, 'context_learner.projection_layers.0.0.weight'),
                      get(params, 'context_learner.projection_layers.0.0.bias'),
                    ),
                  ),
                  get(params, 'context_learner.projection_layers.0.2.weight'),
                ),
                [64],
                get(params, 'context_learner.projection_layers.0.3.weight'),
                null,
              );
          }
          const hooks = coopHooks(ctx0, 4, 1, bias);
          const run = (ids: string, mask: string): CrisOutput =>
            model.forward(
              { pixelValues: get(inputs, 'pixel_values'), inputIds: get(inputs, ids), attentionMask: get(inputs, mask) },
              hooks,
            );
          const out = run('input_ids', 'attention_mask');
          for (const [name, field, tol] of FIELDS) {
            if (name === 'logits') continue;
            assertClose(out[field] as Tensor, get(exp, name), tol, `${learner} ${name}`);
          }
          assertClose(out.padMask.long(), get(exp, 'pad_mask'), TOL.exact, `${learner} pad_mask`);
          assertClose(additive(out.decoderMap, params, 64, out.logits), get(exp, 'logits'), TOL.logits, `${learner} logits`);
          const o77 = run('input_ids_pad77', 'attention_mask_pad77');
          assert.deepEqual(o77.textFeatures.shape, [2, 77, 64]);
          assertClose(additive(o77.decoderMap, params, 64, o77.logits), get(exp, 'logits_pad77'), TOL.logits, `${learner} logits_pad77`);
        }),
      );
    } finally {
      dispose([...params.values(), ...exp.values()]);
    }
  });
}

test('train() switches BatchNorm to batch statistics (quirk 16) and eval() restores parity', () => {
  noGrad(() =>
    tidy(() => {
      const inp = {
        pixelValues: get(inputs, 'pixel_values'),
        inputIds: get(inputs, 'input_ids'),
        attentionMask: get(inputs, 'attention_mask'),
      };
      const nbt = model.stateDict().get('neck.txt_proj.1.num_batches_tracked')!;
      const before = nbt.item();
      const snapshot = [...model.namedBuffers()].map(([k, t]) => [k, t.clone()] as const);
      model.train();
      const trained = model.forward(inp);
      model.eval();
      // restore running stats updated by the training-mode forward
      for (const [k, t] of snapshot) model.stateDict().get(k)!.copy_(t);
      assert.equal(nbt.item(), before);
      const r = compareTensors(trained.logits, get(expected, 'logits'), TOL.logits);
      assert.equal(r.pass, false, 'training-mode BatchNorm must change the logits');
      assertClose(model.forward(inp).logits, get(expected, 'logits'), TOL.logits, 'eval logits after train/eval');
    }),
  );
});
