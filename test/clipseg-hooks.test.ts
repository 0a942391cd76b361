// The encoders' hook points (input embeddings, explicit mask and pooling index, per-layer
// callback, extra vision tokens, early stop, decoder extra-token drop) reproduce the
// reference learners' numbers: a minimal CoOp (text) and VPT (vision) written on the public
// API against the clipseg-tiny learner fixtures (fixtures README quirks 1-5).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import * as T from '../src/torch/index.js';
import { CLIPSegForImageSegmentation } from '../src/models/clipseg/index.js';
import { diceCELoss } from '../src/inference/loss.js';
import type { LayerHook } from '../src/models/clip/index.js';
import { compareTensors, TOL, type Tolerance } from '../src/parity/compare.js';

import { repoRoot } from './helpers.js';
const TINY = join(repoRoot(), '..', 'shared', 'fixtures', 'clipseg-tiny');
const { F } = T;

// One frozen model and one set of inputs for the whole file (loading is the slow part).
const model = CLIPSegForImageSegmentation.fromPretrained(TINY);
model.requiresGrad_(false);
const inputs = T.loadSafetensors(join(TINY, 'inputs.safetensors')).tensors;
after(() => {
  T.dispose([...inputs.values()]);
  model.dispose();
});

function close(name: string, got: T.Tensor, exp: T.Tensor, tol: Tolerance = TOL.activations): void {
  const r = T.tidy(() => compareTensors(got, exp, tol));
  assert.ok(r.pass, `${name}: max abs ${r.max_abs} ${r.error ?? ''}`);
}

function load(p: string): Map<string, T.Tensor> {
  return T.loadSafetensors(p).tensors;
}

/** CoOp text path (quirk 4/5): [BOS, ctx, tokens[1:-1] (cut to fit 77), last], mask prepended, pool argmax + n. */
function coopText(model: CLIPSegForImageSegmentation, ctx: T.Tensor, ids: T.Tensor, mask: T.Tensor) {
  const text = model.clip.text_model;
  const [depth, n] = [ctx.size(0), ctx.size(1)];
  const maxLen = text.config.maxPositionEmbeddings;
  const [B, L] = [ids.size(0), ids.size(1)];
  const emb = text.embedTokens(ids);
  const middleEnd = L + n > maxLen ? maxLen - n - 1 : L - 1;
  const prompt = (i: number): T.Tensor => ctx.select(0, i).unsqueeze(0).expand(B, n, -1);
  const embeds = T.cat([emb.narrow(1, 0, 1), prompt(0), emb.slice(1, 1, middleEnd), emb.narrow(1, L - 1, 1)], 1);
  const fullMask = T.cat([T.ones([B, n], { dtype: mask.dtype }), mask], 1).slice(1, 0, maxLen);
  const pool = text
    .eosPoolIndex(ids)
    .add(n)
    .clamp(null, maxLen - 1);
  const afterLayer: LayerHook = (l, h) => (l + 1 < depth ? T.cat([h.narrow(1, 0, 1), prompt(l + 1), h.slice(1, 1 + n)], 1) : h);
  const out = text.forwardEmbeds(embeds, { attentionMask: fullMask, poolIndex: pool, afterLayer });
  return { ...out, conditional: model.clip.text_projection.forward(out.pooledOutput!) };
}

/** VPT vision path (quirk 3): prompts after the patches before pre_layrnorm, last n overwritten after layer i < depth. */
function vptVision(model: CLIPSegForImageSegmentation, ctx: T.Tensor, pixels: T.Tensor) {
  const [depth, n] = [ctx.size(0), ctx.size(1)];
  const afterLayer: LayerHook = (l, h) =>
    l + 1 < depth
      ? T.cat(
          [
            h.narrow(1, 0, h.size(1) - n),
            ctx
              .select(0, l + 1)
              .unsqueeze(0)
              .expand(h.size(0), n, -1),
          ],
          1,
        )
      : h;
  return model.visionActivations(pixels, { extraTokens: ctx.select(0, 0).unsqueeze(0), afterLayer });
}

for (const caseName of ['coop-d1', 'coop-d3']) {
  test(`text hooks reproduce the reference CoOp (${caseName}), including the truncation path`, () => {
    const params = load(join(TINY, 'learners', caseName, 'params_init.safetensors'));
    const expected = load(join(TINY, 'learners', caseName, 'outputs.safetensors'));
    try {
      const before = T.liveTensors();
      T.noGrad(() =>
        T.tidy(() => {
          const ctx = params.get('context_learner.context_vectors')!;
          const px = inputs.get('pixel_values')!;
          const t = coopText(model, ctx, inputs.get('input_ids')!, inputs.get('attention_mask')!);
          assert.deepEqual(t.lastHiddenState.shape, [2, 19, 32]);
          close('text_last_hidden_state', t.lastHiddenState, expected.get('text_last_hidden_state')!);
          close('text_pooled_output', t.pooledOutput!, expected.get('text_pooled_output')!);
          close('conditional_embeddings', t.conditional, expected.get('conditional_embeddings')!);
          // quirk 1: CoOp's logits are the plain HF decoder's
          const vis = model.visionActivations(px);
          for (const [i, l] of model.extractLayers.entries())
            close(`vision_activation.layer${l}`, vis.activations[i]!, expected.get(`vision_activation.layer${l}`)!);
          const dec = model.decode(vis.activations, t.conditional);
          close('decoder_features', dec.features, expected.get('decoder_features')!);
          close('logits', dec.logits.unsqueeze(1), expected.get('logits')!, TOL.logits);
          // pad-77 input: row 0 is 77 long, so the words are cut to keep 77 positions (EOS-slot kept)
          const t77 = coopText(model, ctx, inputs.get('input_ids_pad77')!, inputs.get('attention_mask_pad77')!);
          assert.deepEqual(t77.lastHiddenState.shape, [2, 77, 32]);
          close(
            'logits_pad77',
            model.decode(vis.activations, t77.conditional).logits.unsqueeze(1),
            expected.get('logits_pad77')!,
            TOL.logits,
          );
        }),
      );
      assert.equal(T.liveTensors(), before);
    } finally {
      T.dispose([...params.values(), ...expected.values()]);
    }
  });
}

for (const caseName of ['vpt-d1', 'vpt-d3']) {
  test(`vision hooks reproduce the reference VPT (${caseName}): extra tokens, per-layer overwrite, early stop, decoder drop`, () => {
    const params = load(join(TINY, 'learners', caseName, 'params_init.safetensors'));
    const expected = load(join(TINY, 'learners', caseName, 'outputs.safetensors'));
    try {
      const before = T.liveTensors();
      T.noGrad(() =>
        T.tidy(() => {
          const ctx = params.get('context_learner.context_vectors')!;
          const n = ctx.size(1);
          const px = inputs.get('pixel_values')!;
          const seen: number[] = [];
          const vis = vptVision(model, ctx, px);
          model.visionActivations(px, { extraTokens: ctx.select(0, 0).unsqueeze(0), afterLayer: (l, h) => (seen.push(l), h) });
          assert.deepEqual(seen, [0, 1, 2, 3], 'the hook runs after each layer the decoder needs, 0-based');
          assert.deepEqual(vis.hiddenStates[0]!.shape, [2, 37 + n, 64]);
          for (const [i, l] of model.extractLayers.entries())
            close(`vision_activation.layer${l}`, vis.activations[i]!, expected.get(`vision_activation.layer${l}`)!);
          const cond = model.textConditional(inputs.get('input_ids')!, inputs.get('attention_mask')!).conditionalEmbeddings;
          close('conditional_embeddings', cond, expected.get('conditional_embeddings')!);
          const dec = model.decode(vis.activations, cond, n);
          close('decoder_features', dec.features, expected.get('decoder_features')!);
          // quirk 2: VPT adds the new last layer with weight 1: Upsample(x16, bilinear) -> Conv5x5 replicate
          const up = F.interpolate(dec.features, { scaleFactor: 16, mode: 'bilinear', alignCorners: false });
          const add = F.conv2d(
            F.pad(up, [2, 2, 2, 2], 'replicate'),
            params.get('additive_decoder_layer.1.weight')!,
            params.get('additive_decoder_layer.1.bias')!,
          );
          close('logits', dec.logits.unsqueeze(1).add(add), expected.get('logits')!, TOL.logits);
        }),
      );
      assert.equal(T.liveTensors(), before);
    } finally {
      T.dispose([...params.values(), ...expected.values()]);
    }
  });
}

test('hook contract: hiddenStates record what the hook returns; numLayers stops early; bad shapes fail clearly', () => {
  T.noGrad(() =>
    T.tidy(() => {
      const px = inputs.get('pixel_values_native')!;
      const vm = model.clip.vision_model;
      const plain = vm.forward(px);
      assert.equal(plain.hiddenStates.length, 5);
      assert.ok(plain.pooledOutput);
      const two = vm.forward(px, { numLayers: 2, afterLayer: (l, h) => (l === 0 ? h.mul(0) : h) });
      assert.equal(two.hiddenStates.length, 3);
      assert.equal(two.pooledOutput, null);
      assert.equal(two.hiddenStates[1]!.abs().max().item(), 0, 'the hook output is recorded and fed on');
      assert.equal(plain.hiddenStates[0]!.sub(two.hiddenStates[0]!).abs().max().item(), 0);
      // with no hooks, visionActivations equals the plain tower's hidden states
      const acts = model.visionActivations(px).activations;
      model.extractLayers.forEach((l, i) =>
        assert.equal(
          acts[i]!.sub(plain.hiddenStates[l + 1]!)
            .abs()
            .max()
            .item(),
          0,
        ),
      );
      // forwardEmbeds on token embeddings with HF's mask and index is the HF forward
      const text = model.clip.text_model;
      const ids = inputs.get('input_ids')!,
        mask = inputs.get('attention_mask')!;
      const a = text.forward(ids, mask);
      const b = text.forwardEmbeds(text.embedTokens(ids), { attentionMask: mask, poolIndex: text.eosPoolIndex(ids) });
      assert.equal(a.lastHiddenState.sub(b.lastHiddenState).abs().max().item(), 0);
      assert.equal(a.pooledOutput!.sub(b.pooledOutput!).abs().max().item(), 0);
      assert.deepEqual(text.eosPoolIndex(ids).toArray(), [14, 3]);
      assert.throws(() => vm.forward(px, { extraTokens: T.zeros([3, 4, 64]) }), /extraTokens must be \[2 or 1, n, 64\]/);
      assert.throws(() => model.visionActivations(px, { numLayers: 3 }), /needs 4 vision layers/);
      assert.throws(() => text.forwardEmbeds(T.zeros([2, 5, 32]), { attentionMask: T.ones([2, 6]) }), /does not match/);
      assert.throws(() => model.decode(acts, T.zeros([2, 32]), 2), /square grid/);
    }),
  );
});

test('gradients flow through the hooks to the prompts: VPT-d3 and CoOp-d3 grads match the fixture', () => {
  {
    for (const caseName of ['vpt-d3', 'coop-d3']) {
      const params = load(join(TINY, 'learners', caseName, 'params_init.safetensors'));
      const grads = load(join(TINY, 'learners', caseName, 'grads.safetensors'));
      const expected = load(join(TINY, 'learners', caseName, 'outputs.safetensors'));
      try {
        const ctx = params.get('context_learner.context_vectors')!.requiresGrad_(true);
        const w = params.get('additive_decoder_layer.1.weight')!.requiresGrad_(true);
        const b = params.get('additive_decoder_layer.1.bias')!.requiresGrad_(true);
        const before = T.liveTensors();
        T.tidy(() => {
          const px = inputs.get('pixel_values')!,
            labels = inputs.get('labels')!;
          let logits: T.Tensor;
          if (caseName.startsWith('vpt')) {
            const vis = vptVision(model, ctx, px);
            const cond = T.noGrad(
              () => model.textConditional(inputs.get('input_ids')!, inputs.get('attention_mask')!).conditionalEmbeddings,
            );
            const dec = model.decode(vis.activations, cond, ctx.size(1));
            const up = F.interpolate(dec.features, { scaleFactor: 16, mode: 'bilinear', alignCorners: false });
            logits = dec.logits.unsqueeze(1).add(F.conv2d(F.pad(up, [2, 2, 2, 2], 'replicate'), w, b));
          } else {
            const t = coopText(model, ctx, inputs.get('input_ids')!, inputs.get('attention_mask')!);
            const vis = T.noGrad(() => model.visionActivations(px));
            logits = model.decode(vis.activations, t.conditional).logits.unsqueeze(1);
          }
          const { loss, dice, bce } = diceCELoss(logits, labels);
          close('loss', loss, expected.get('loss')!, TOL.loss);
          close('dice', dice, expected.get('dice_loss')!, TOL.loss);
          close('bce', bce, expected.get('bce_loss')!, TOL.loss);
          loss.backward();
        });
        assert.equal(T.liveTensors(), before, `${caseName}: the step frees its graph's handles`);
        for (const [name, g] of grads) {
          const p = name === 'context_learner.context_vectors' ? ctx : name.endsWith('weight') ? w : b;
          const got = p.grad;
          assert.ok(got, `${caseName}: ${name} has a gradient`);
          close(`${caseName} grad ${name}`, got, g, TOL.grads);
          got.dispose();
        }
        if (caseName.startsWith('coop')) assert.equal(w.grad, null, 'quirk 1: CoOp never uses the additive layer');
      } finally {
        T.dispose([...params.values(), ...grads.values(), ...expected.values()]);
      }
    }
  }
});
