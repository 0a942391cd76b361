// LoRA (src/learners/lora) with HF peft's semantics, and full fine-tuning as a learner: the
// update W x + b + (alpha/r)·B(A(dropout x)) checked against the formula on the frozen layer, A's
// kaiming-uniform(√5) and B's zero init (training starts from the base model), merged weights
// W + (alpha/r)·B·A in eval mode giving the same logits as the unmerged training forward, target
// modules and towers, gradients only to A and B; full_finetune trains every base weight.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { diceCELoss } from '../src/inference/loss.js';
import { parseTrainConfig } from '../src/train/config.js';
import { optimizerGroups } from '../src/train/reference-semantics.js';
import { LoraLearner, LoraPair } from '../src/learners/lora/learner.js';
import { loraSites } from '../src/learners/lora/options.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import type { PromptedClipSeg } from '../src/tuning/clipseg.js';
import { fixturesDir } from './helpers.js';

const TINY = join(fixturesDir(), 'clipseg-tiny');
const inputs = T.loadSafetensors(join(TINY, 'inputs.safetensors')).tensors;
after(() => T.dispose([...inputs.values()]));
const px = (): T.Tensor => inputs.get('pixel_values')!;
const text = (): { inputIds: T.Tensor; attentionMask: T.Tensor } => ({
  inputIds: inputs.get('input_ids')!,
  attentionMask: inputs.get('attention_mask')!,
});
const tiny = async (o: Record<string, unknown> = {}): Promise<PromptedClipSeg> =>
  (await buildSegmenter({ model: TINY, learner: 'lora', ...o })) as PromptedClipSeg;
const maxDiff = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => a.sub(b).abs().max().item());

/** Gives every B a non-zero value (B starts at zero, so the update is invisible until trained). */
function randomiseB(seg: PromptedClipSeg, seed: number): void {
  T.manualSeed(seed);
  T.noGrad(() => {
    for (const [n, p] of seg.namedTrainable()) if (n.endsWith('lora_B.weight')) p.normal_(0, 0.3);
  });
}

function logits(seg: PromptedClipSeg, mode: 'train' | 'eval'): T.Tensor {
  if (mode === 'train') seg.train();
  else seg.eval();
  return T.noGrad(() => seg.forward(px(), text()));
}

test('init: A kaiming_uniform(a=√5) (|a| <= 1/√in), B zeros, so the LoRA model starts as the base model', async () => {
  const seg = await tiny();
  try {
    for (const [n, p] of seg.namedTrainable()) {
      if (n.endsWith('lora_B.weight'))
        assert.equal(
          T.tidy(() => p.abs().max().item()),
          0,
          n,
        );
      if (n.endsWith('lora_A.weight')) {
        const bound = 1 / Math.sqrt(p.size(1));
        const m = T.tidy(() => p.abs().max().item());
        assert.ok(m <= bound && m > 0.8 * bound, `${n}: max |a| ${m}, bound ${bound}`);
      }
    }
    const base = T.noGrad(() =>
      T.tidy(() => seg.model.forward(px(), { inputIds: text().inputIds, attentionMask: text().attentionMask }).logits.unsqueeze(1)),
    );
    for (const mode of ['train', 'eval'] as const) {
      const l = logits(seg, mode);
      assert.ok(maxDiff(l, base) < 1e-6, mode);
      l.dispose();
    }
    base.dispose();
  } finally {
    seg.dispose();
  }
});

test('the update is (alpha/r)·B(A x) on the targeted Linear, and the merged weight is W + (alpha/r)·B·A (peft)', async () => {
  const seg = await tiny({ rank: 4, alpha: 12, targetModules: ['q_proj', 'fc2'] });
  try {
    randomiseB(seg, 1);
    const L = seg.context_learner as LoraLearner;
    assert.equal(L.scaling, 3);
    const layer = seg.model.clip.vision_model.encoder.layers.at(2);
    const hook = L.hooks.vision!.linear!;
    for (const [site, base] of [
      ['q_proj', layer.self_attn.q_proj],
      ['fc2', layer.mlp.fc2],
    ] as const) {
      const p = L.pair('vision', 2, site)!;
      const x = T.randn([2, 5, base.inFeatures]);
      const want = T.tidy(() =>
        x
          .matmul(base.weight.transpose(0, 1))
          .add(base.bias!)
          .add(x.matmul(p.lora_A.weight.transpose(0, 1)).matmul(p.lora_B.weight.transpose(0, 1)).mul(3)),
      );
      L.train();
      const unmerged = T.noGrad(() => hook(2, site, x, base));
      L.eval();
      const merged = T.noGrad(() => hook(2, site, x, base));
      const w = T.noGrad(() => L.mergedWeight(base, p));
      const wWant = T.tidy(() => base.weight.add(p.lora_B.weight.matmul(p.lora_A.weight).mul(3)));
      assert.ok(maxDiff(unmerged, want) < 1e-5, `${site} unmerged`);
      assert.ok(maxDiff(merged, want) < 1e-5, `${site} merged`);
      assert.ok(maxDiff(w, wWant) < 1e-6, `${site} merged weight`);
      T.dispose([x, want, unmerged, merged, w, wWant]);
    }
    // untargeted sites pass through the base Linear
    assert.equal(L.pair('vision', 2, 'k_proj'), undefined);
    const x = T.randn([1, 3, 64]);
    const k = T.noGrad(() => hook(2, 'k_proj', x, layer.self_attn.k_proj));
    const kWant = T.noGrad(() => layer.self_attn.k_proj.forward(x));
    assert.equal(maxDiff(k, kWant), 0);
    T.dispose([x, k, kWant]);
  } finally {
    seg.dispose();
  }
});

test('merged (eval) logits equal the unmerged training forward; the LoRA logits differ from the base model', async () => {
  for (const o of [
    {},
    { targetModules: ['attention', 'mlp'], rank: 2, alpha: 16 },
    { towers: ['text'] },
    { towers: ['vision'], targetModules: ['out_proj', 'fc1'] },
  ]) {
    const seg = await tiny(o);
    try {
      randomiseB(seg, 2);
      const unmerged = logits(seg, 'train');
      const merged = logits(seg, 'eval');
      const base = T.noGrad(() =>
        T.tidy(() => seg.model.forward(px(), { inputIds: text().inputIds, attentionMask: text().attentionMask }).logits.unsqueeze(1)),
      );
      assert.ok(maxDiff(merged, unmerged) < 1e-5, `${JSON.stringify(o)}: merged vs unmerged ${maxDiff(merged, unmerged)}`);
      assert.ok(maxDiff(merged, base) > 1e-2, `${JSON.stringify(o)}: LoRA changes nothing`);
      T.dispose([unmerged, merged, base]);
    } finally {
      seg.dispose();
    }
  }
});

test('trainable tensors: A [r, in] and B [out, r] per targeted Linear of the vision layers that run and every text layer; names mirror the base', async () => {
  const seg = await tiny({ rank: 8 });
  try {
    const t = seg.namedTrainable();
    // clipseg-tiny: 4 vision layers run (max(extract_layers) + 1), 4 text layers; q and v; widths 64 / 32
    assert.equal(t.length, (4 + 4) * 2 * 2);
    assert.equal(seg.numParameters(true), 4 * 2 * (8 * 64 * 2) + 4 * 2 * (8 * 32 * 2));
    const a = t.find(([n]) => n === 'context_learner.vision_model.encoder.layers.3.self_attn.v_proj.lora_A.weight');
    assert.deepEqual(a?.[1].shape, [8, 64]);
    assert.deepEqual(
      t.find(([n]) => n === 'context_learner.text_model.encoder.layers.0.self_attn.q_proj.lora_B.weight')?.[1].shape,
      [32, 8],
    );
    assert.ok(seg.model.clip.vision_model.encoder.layers.at(3).self_attn.v_proj !== undefined);
    assert.equal(seg.useNewLastLayer, false);
    assert.deepEqual(loraSites(['mlp', 'q_proj']), ['q_proj', 'fc1', 'fc2']);
  } finally {
    seg.dispose();
  }
  const mlp = await tiny({ targetModules: ['mlp'], towers: ['vision'], rank: 2 });
  try {
    const shapes = Object.fromEntries(
      mlp
        .namedTrainable()
        .filter(([n]) => n.includes('layers.0.'))
        .map(([n, p]) => [n.split('.').slice(-3).join('.'), p.shape]),
    );
    assert.deepEqual(shapes, {
      'fc1.lora_A.weight': [2, 64],
      'fc1.lora_B.weight': [128, 2],
      'fc2.lora_A.weight': [2, 128],
      'fc2.lora_B.weight': [64, 2],
    });
  } finally {
    mlp.dispose();
  }
});

test('gradients reach A and B only (the base stays frozen); dropout acts in training only', async () => {
  const seg = await tiny({ dropout: 0.5 });
  try {
    randomiseB(seg, 3);
    seg.train();
    T.tidy(() => diceCELoss(seg.forward(px(), text()), inputs.get('labels')!).loss.backward());
    for (const [n, p] of seg.namedTrainable()) {
      assert.ok(p.grad !== null, `${n} got no gradient`);
      p.grad?.dispose();
    }
    seg.zeroGrad();
    for (const [n, p] of seg.model.namedParameters()) assert.equal(p.requiresGrad, false, n);
    T.manualSeed(1);
    const a = logits(seg, 'train');
    T.manualSeed(2);
    const b = logits(seg, 'train');
    assert.ok(maxDiff(a, b) > 1e-4, 'dropout in training');
    const c = logits(seg, 'eval');
    const d = logits(seg, 'eval');
    assert.equal(maxDiff(c, d), 0);
    T.dispose([a, b, c, d]);
  } finally {
    seg.dispose();
  }
});

test('LoRA pair alone: kaiming-uniform A, zero B, delta = B·A', () => {
  T.manualSeed(0);
  const p = new LoraPair(10, 6, 3);
  assert.deepEqual(
    [p.lora_A.weight.shape, p.lora_B.weight.shape],
    [
      [3, 10],
      [6, 3],
    ],
  );
  const d = T.noGrad(() => p.delta());
  assert.deepEqual(d.shape, [6, 10]);
  assert.equal(
    T.tidy(() => d.abs().max().item()),
    0,
  );
  d.dispose();
  p.dispose();
});

test("full_finetune: every base weight trains, no upsampler, e2e in describe(); its recipe is VLSM-Adapter's CLIPSeg baseline", async () => {
  const seg = (await buildSegmenter({ model: TINY, learner: 'full_finetune' })) as PromptedClipSeg;
  try {
    assert.equal(seg.e2e, true);
    assert.equal(seg.useNewLastLayer, false);
    assert.equal(seg.numParameters(true), seg.model.numParameters());
    assert.equal((seg.describe() as { e2e: boolean }).e2e, true);
    assert.equal(optimizerGroups(seg, 1e-3).length, 1, 'decay on every tensor, as AdamW(net.parameters(), weight_decay)');
    seg.train();
    const before = T.noGrad(() => seg.model.decoder.film_mul.weight.clone());
    const opt = new T.optim.AdamW(optimizerGroups(seg, 1e-3), { lr: 1e-3, weightDecay: 1e-3 });
    T.tidy(() => diceCELoss(seg.forward(px(), text()), inputs.get('labels')!).loss.backward());
    opt.step();
    assert.ok(maxDiff(before, seg.model.decoder.film_mul.weight) > 1e-5);
    assert.ok(seg.model.clip.vision_model.encoder.layers.at(0).self_attn.q_proj.weight.grad !== null);
    opt.dispose();
    before.dispose();
  } finally {
    seg.dispose();
  }
  const c = parseTrainConfig({ data: { dir: 'd' }, model: { learner: 'full_finetune' } });
  assert.deepEqual([c.lr, c.weightDecay, c.gradClipNorm, c.loss.lambdaDice, c.loss.appliedTo], [1e-3, 1e-3, 0.5, 1.5, 'probabilities']);
  await assert.rejects(buildSegmenter({ model: TINY, learner: 'full_finetune', rank: 4 }), /learner full_finetune: unknown option "rank"/);
});
