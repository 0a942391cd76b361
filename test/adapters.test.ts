// VLSM-Adapter's shallow and dense adapters (src/learners/{shallow,dense}_adapter): the parity kind on
// the shared cases and on edited copies (flags and tolerances are read from case.json); the
// segmenter's hook-driven forward against a line-by-line transcription of the reference forward
// (clipseg_adapter.py) for flag sets and widths the fixtures do not have; the double-sigmoid loss;
// the recipe as training defaults; weight decay on every tensor; what quirks: fixed changes; errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { textAttentionBias } from '../src/models/clip/layers.js';
import type { CLIPSegForImageSegmentation } from '../src/models/clipseg/model.js';
import { learnerSupports } from '../src/learners/registry.js';
import { Adapter } from '../src/learners/vlsm-adapter/adapter.js';
import { adapterKind, parseTolerance } from '../src/parity/kinds/adapter.js';
import { diceCELoss } from '../src/inference/loss.js';
import { parseTrainConfig } from '../src/train/config.js';
import { optimizerGroups } from '../src/train/reference-semantics.js';
import type { TrainSummary } from '../src/train/records.js';
import { autoObjective, epochObjectiveValue, objectiveDirection, objectiveValue } from '../src/experiment/trial.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import type { PromptedClipSeg } from '../src/tuning/clipseg.js';
import { fixturesDir } from './helpers.js';

const FIX = fixturesDir();
const TINY = join(FIX, 'clipseg-tiny');
const CASES = join(TINY, 'adapters');
const inputs = T.loadSafetensors(join(TINY, 'inputs.safetensors')).tensors;
const tmp = mkdtempSync(join(tmpdir(), 'tunevlseg-adapters-'));
after(() => {
  T.dispose([...inputs.values()]);
  rmSync(tmp, { recursive: true, force: true });
});
const px = (): T.Tensor => inputs.get('pixel_values')!;
const ids = (): T.Tensor => inputs.get('input_ids')!;
const mask = (): T.Tensor => inputs.get('attention_mask')!;
const tiny = async (o: Record<string, unknown>): Promise<PromptedClipSeg> =>
  (await buildSegmenter({ model: TINY, ...o })) as PromptedClipSeg;

function maxDiff(a: T.Tensor, b: T.Tensor): number {
  return T.tidy(() => a.sub(b).abs().max().item());
}

/** Fills every trainable tensor with N(0, std) (the fc2 ReLU of the default init leaves many units dead). */
function randomise(seg: PromptedClipSeg, seed: number, std = 0.2): void {
  T.manualSeed(seed);
  T.noGrad(() => {
    for (const [, p] of seg.namedTrainable()) p.normal_(0, std);
  });
}

type Adapters = Record<string, T.nn.ModuleList<Adapter> | Adapter | null>;
const at = (l: T.nn.ModuleList<Adapter> | Adapter | null | undefined, i: number): Adapter => (l as T.nn.ModuleList<Adapter>).at(i);

/** CLIPSegDenseAdapter.forward as the reference writes it (vision_forward, text_forward), on the frozen layers. */
function referenceDense(model: CLIPSegForImageSegmentation, a: Adapters, o: { v: boolean; l: boolean; c: boolean }): T.Tensor {
  return T.tidy(() => {
    const vm = model.clip.vision_model;
    let h = vm.pre_layrnorm.forward(vm.embeddings.forward(px()));
    const states: T.Tensor[] = [];
    const nv = o.v ? (a.v_attn_adapters as T.nn.ModuleList<Adapter>).length : 0;
    vm.encoder.layers.items.forEach((layer, idx) => {
      states.push(h);
      let res = h;
      h = layer.self_attn.forward(layer.layer_norm1.forward(h));
      if (o.v && idx < nv) h = at(a.v_attn_adapters, idx).forward(h);
      h = res.add(h);
      res = h;
      h = layer.mlp.forward(layer.layer_norm2.forward(h));
      if (o.v && idx < nv) h = at(a.v_out_adapters, idx).forward(h);
      h = res.add(h);
    });
    states.push(h);
    const acts = model.extractLayers.map((i) => states[i + 1]!);
    const tm = model.clip.text_model;
    let t = tm.embeddings.forward(tm.embedTokens(ids()));
    const bias = textAttentionBias(mask(), ids().size(1));
    const nl = o.l ? (a.l_attn_adapters as T.nn.ModuleList<Adapter>).length : 0;
    tm.encoder.layers.items.forEach((layer, idx) => {
      let res = t;
      t = layer.self_attn.forward(layer.layer_norm1.forward(t), bias);
      if (o.l && idx < nl) t = at(a.l_attn_adapters, idx).forward(t);
      t = res.add(t);
      res = t;
      t = layer.mlp.forward(layer.layer_norm2.forward(t));
      if (o.l && idx < nl) t = at(a.l_out_adapters, idx).forward(t);
      t = res.add(t);
    });
    const last = tm.final_layer_norm.forward(t);
    const pooled = last.index([T.arange(ids().size(0)), ids().argmax(-1)]);
    let cond = model.clip.text_projection.forward(pooled);
    if (o.c) cond = (a.cond_adapter as Adapter).forward(cond);
    return model.decoder.forward(acts, cond).logits.unsqueeze(1);
  });
}

/** CLIPSegShallowAdapter.forward as the reference writes it. */
function referenceShallow(model: CLIPSegForImageSegmentation, a: Adapters, o: { v: boolean; l: boolean; c: boolean }): T.Tensor {
  return T.tidy(() => {
    const vis = model.clip.vision_model.forward(px());
    const acts = model.extractLayers.map((l, j) =>
      o.v ? at(a.vision_extract_adapters, j).forward(vis.hiddenStates[l + 1]!) : vis.hiddenStates[l + 1]!,
    );
    const text = model.clip.text_model.forward(ids(), mask(), { outputHiddenStates: true });
    let cond = model.clip.text_projection.forward(text.pooledOutput!);
    if (o.c) cond = (a.cond_adapter as Adapter).forward(cond);
    if (o.l) {
      model.extractLayers.forEach((l, j) => {
        const hstate = text.hiddenStates![l + 1]!.index([T.arange(ids().size(0)), ids().argmax(-1)]);
        cond = cond.add(at(a.text_extract_adapters, j).forward(hstate));
      });
    }
    return model.decoder.forward(acts, cond).logits.unsqueeze(1);
  });
}

test('the adapter parity kind passes the shared cases (names, count, logits, intermediates, loss parts, grads, clipped AdamW step, recipe)', async () => {
  for (const c of ['shallow_vlc', 'dense_vlc']) {
    const dir = join(CASES, c);
    const cj = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(adapterKind.matches(dir, cj), true);
    const before = T.liveTensors();
    const r = await adapterKind.run(dir, cj);
    const failed = Object.entries(r.tensors).filter(([, t]) => !t.pass);
    assert.deepEqual(failed, [], c);
    for (const k of [
      'trainable_names',
      'trainable_count',
      'recipe',
      'logits',
      'conditional_embeddings',
      'text_projection_output',
      'decoder_features',
      'vision_activation.layer3',
      'loss',
      'dice_loss',
      'bce_loss',
      'grad_total_norm',
      'grad.cond_adapter.fc1.weight',
      'adamw_step1.cond_adapter.fc2.bias',
    ]) {
      assert.ok(r.tensors[k], `${c}: ${k} not compared`);
    }
    assert.equal(T.liveTensors(), before, `${c} leaks tensors`);
  }
});

test('the kind reads the flags, the widths and the tolerances from case.json (an edited copy fails where it should)', async () => {
  const run = async (
    name: string,
    edit: (cj: Record<string, unknown>) => void,
  ): Promise<Record<string, { pass: boolean; error?: string }>> => {
    const root = join(tmp, name);
    cpSync(TINY, root, { recursive: true, filter: (p) => !p.includes('/learners') });
    const dir = join(root, 'adapters', name.split('-')[0]!);
    const cj = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Record<string, unknown>;
    edit(cj);
    writeFileSync(join(dir, 'case.json'), JSON.stringify(cj));
    return (await adapterKind.run(dir, cj)).tensors;
  };
  // Without the conditional adapter the kind builds no cond_adapter: the listed cond tensors are missing.
  let t = await run('dense_vlc-nocond', (cj) => {
    (cj.wrapper_kwargs as Record<string, unknown>).adapter_in_cond = false;
  });
  assert.equal(t.trainable_names!.pass, false);
  assert.match(t.trainable_names!.error!, /missing cond_adapter\.fc1\.weight/);
  // Another adapter_dim: every shape differs and names the tensor.
  t = await run('shallow_vlc-dim', (cj) => {
    (cj.wrapper_kwargs as Record<string, unknown>).adapter_dim = 4;
  }).catch((e: Error) => ({ error: { pass: false, error: e.message } }));
  assert.match(JSON.stringify(t), /vision_extract_adapters\.0\.fc1\.weight/);
  // A tolerance tighter than float32 noise makes the logits fail: the case's own tolerance is used.
  t = await run('shallow_vlc-tol', (cj) => {
    (cj.suggested_tolerance as Record<string, unknown>).logits = 'atol 1e-9 + rtol 0';
  });
  assert.equal(t.logits!.pass, false);
  assert.equal(t.decoder_features!.pass, true);
  // A recipe the learner does not follow is reported.
  t = await run('dense_vlc-recipe', (cj) => {
    ((cj.training_config as Record<string, unknown>).scheduler as Record<string, unknown>).factor = 0.5;
  });
  assert.equal(t.recipe!.pass, false);
  assert.match(t.recipe!.error!, /scheduler\.factor: case 0\.5, recipe 0\.3/);
  // ...and so is an early-stopping monitor it does not watch (the shared cases say val/dice_epoch, max)
  t = await run('dense_vlc-monitor', (cj) => {
    (cj.training_config as Record<string, unknown>).early_stopping = { monitor: 'val/loss', mode: 'min', patience: 20, min_delta: 0.0001 };
  });
  assert.equal(t.recipe!.pass, false);
  assert.match(t.recipe!.error!, /early_stopping\.monitor: case "val_loss", recipe "val_dice"/);
});

test('tolerance strings as the fixtures write them', () => {
  assert.deepEqual(parseTolerance('atol 1e-4 + rtol 1e-4'), { atol: 1e-4, rtol: 1e-4 });
  assert.deepEqual(parseTolerance('atol 5e-6 (values ~1-2: one float32 ulp of 2 is 2.4e-7)'), { atol: 5e-6, rtol: 0 });
  assert.deepEqual(parseTolerance('per tensor: |a - b| <= 1e-3 * max|b| + 1e-9 (gradients are ~1e-4)'), {
    atol: 1e-9,
    rtol: 1e-3,
    mode: 'tensorMax',
  });
  assert.deepEqual(parseTolerance('rtol 1e-4'), { atol: 0, rtol: 1e-4 });
  assert.deepEqual(parseTolerance('atol 0.1 * lr', 3e-4), { atol: 0.1 * 3e-4, rtol: 0 });
  assert.equal(parseTolerance('atol 0.1 * lr'), null);
  assert.equal(parseTolerance('close enough'), null);
});

const FLAG_SETS = [
  { v: true, l: false, c: false },
  { v: false, l: true, c: false },
  { v: false, l: false, c: true },
  { v: true, l: true, c: false },
  { v: true, l: true, c: true },
];

for (const variant of ['dense', 'shallow'] as const) {
  test(`${variant}: the hook-driven forward equals the reference's own loop for every flag set (v, l, c, vl, vlc) and another adapterDim`, async () => {
    for (const [k, f] of FLAG_SETS.entries()) {
      const seg = await tiny({ learner: `${variant}_adapter`, adapterDim: 5, adapterInV: f.v, adapterInL: f.l, adapterInCond: f.c });
      try {
        randomise(seg, 10 + k);
        const a = seg.context_learner as unknown as Adapters;
        const got = T.noGrad(() => seg.forward(px(), { inputIds: ids(), attentionMask: mask() }));
        const want = T.noGrad(() => (variant === 'dense' ? referenceDense : referenceShallow)(seg.model, a, f));
        const d = maxDiff(got, want);
        const moved = T.noGrad(() =>
          maxDiff(
            got,
            T.tidy(() => seg.model.forward(px(), { inputIds: ids(), attentionMask: mask() }).logits.unsqueeze(1)),
          ),
        );
        got.dispose();
        want.dispose();
        assert.ok(d < 1e-5, `${variant} ${JSON.stringify(f)}: |ours - reference| ${d}`);
        assert.ok(moved > 1e-2, `${variant} ${JSON.stringify(f)}: the adapters do not change the logits (${moved})`);
        // trainable: exactly the adapters of the flags, every one with a fc1/fc2 of width 5 (256 for the conditional one)
        const names = seg.namedTrainable().map(([n]) => n);
        assert.ok(
          names.every((n) => n.startsWith('context_learner.')),
          names.join(','),
        );
        assert.equal(
          names.some((n) => n.includes('cond_adapter')),
          f.c,
        );
        assert.equal(
          names.some((n) => /\.(v_|vision_)/.test(n)),
          f.v,
        );
        assert.equal(
          names.some((n) => /\.(l_|text_)/.test(n)),
          f.l,
        );
        for (const [n, t] of seg.namedTrainable())
          if (n.endsWith('fc1.weight')) assert.equal(t.size(0), n.includes('cond_adapter') ? 256 : 5, n);
      } finally {
        seg.dispose();
      }
    }
  });
}

test('dense: layers from max(extract_layers) on have no adapter (reference); quirks fixed adapts every layer that runs', async () => {
  const ref = await tiny({ learner: 'dense_adapter', adapterDim: 4 });
  const fixed = await tiny({ learner: 'dense_adapter', adapterDim: 4, quirks: 'fixed' });
  try {
    const count = (s: PromptedClipSeg, list: string): number =>
      new Set(
        s
          .namedTrainable()
          .filter(([n]) => n.includes(`.${list}.`))
          .map(([n]) => n.split('.')[2]),
      ).size;
    // clipseg-tiny: extract layers [1, 2, 3], 4 vision and 4 text layers
    assert.equal(count(ref, 'v_attn_adapters'), 3);
    assert.equal(count(ref, 'l_out_adapters'), 3);
    assert.equal(count(fixed, 'v_attn_adapters'), 4);
    assert.equal(count(fixed, 'l_out_adapters'), 4);
    assert.equal(
      fixed
        .namedTrainable()
        .find(([n]) => n === 'context_learner.cond_adapter.fc1.weight')![1]
        .size(0),
      4,
    );
    assert.equal(ref.useNewLastLayer, false);
    assert.equal(ref.residual_ratio, null);
  } finally {
    ref.dispose();
    fixed.dispose();
  }
});

test('Adapter: x + relu(fc2(relu(fc1 x))) (reference) or x + fc2(relu(fc1 x)) (fixed)', () => {
  T.manualSeed(3);
  for (const relu of [true, false]) {
    const a = new Adapter(6, 3, relu);
    const x = T.randn([4, 6]);
    const y = T.noGrad(() => a.forward(x));
    const want = T.tidy(() => {
      const h = x
        .matmul(a.fc1.weight.transpose(0, 1))
        .add(a.fc1.bias!)
        .clamp(0, null)
        .matmul(a.fc2.weight.transpose(0, 1))
        .add(a.fc2.bias!);
      return x.add(relu ? h.clamp(0, null) : h);
    });
    assert.ok(maxDiff(y, want) < 1e-6);
    if (relu) assert.ok(T.tidy(() => y.sub(x).min().item()) >= 0, 'the reference increment is never negative');
    else assert.ok(T.tidy(() => y.sub(x).min().item()) < 0);
    T.dispose([x, y, want]);
    a.dispose();
  }
});

test('the reference loss: DiceCE(1.5, 1.0) on sigmoid(logits), i.e. Dice on p and BCE-with-logits on p (a second sigmoid)', () => {
  const logits = T.tidy(() => T.randn([2, 1, 8, 8]).mul(2));
  const t = T.tidy(() => T.rand([2, 1, 8, 8]));
  const got = diceCELoss(logits, t, { lambdaDice: 1.5, lambdaCe: 1, appliedTo: 'probabilities' });
  const want = T.tidy(() => {
    const p = logits.sigmoid();
    const dice = p
      .mul(t)
      .sum([2, 3])
      .mul(2)
      .add(1e-5)
      .div(
        p
          .sum([2, 3])
          .add(t.sum([2, 3]))
          .add(1e-5),
      )
      .rsub(1)
      .mean();
    const bce = T.F.softplus(p).sub(p.mul(t)).mean();
    return { dice, bce, loss: dice.mul(1.5).add(bce) };
  });
  for (const k of ['loss', 'dice', 'bce'] as const) assert.ok(Math.abs(got[k].item() - want[k].item()) < 1e-6, k);
  const single = diceCELoss(logits, t, { lambdaDice: 1.5, lambdaCe: 1 });
  assert.ok(Math.abs(single.dice.item() - got.dice.item()) < 1e-7, 'Dice is the same either way');
  assert.ok(Math.abs(single.bce.item() - got.bce.item()) > 1e-3, 'the CE differs');
  T.dispose([logits, t, ...Object.values(got), ...Object.values(want), ...Object.values(single)]);
});

test("the recipe: the adapters train with their original's defaults, under any key the config sets", () => {
  const data = { dir: 'd' };
  const dense = parseTrainConfig({ data, model: { learner: 'dense_adapter' } });
  assert.equal(dense.lr, 1e-3);
  assert.equal(dense.weightDecay, 1e-3);
  assert.equal(dense.gradClipNorm, 0.5);
  assert.deepEqual([dense.plateau.factor, dense.plateau.patience], [0.3, 5]);
  assert.deepEqual(dense.loss, { lambdaDice: 1.5, lambdaCe: 1, appliedTo: 'probabilities' });
  assert.deepEqual([dense.minEpochs, dense.maxEpochs, dense.earlyStopping.patience, dense.augment.p], [10, 200, 20, 0]);
  const shallow = parseTrainConfig({ data, model: { learner: 'shallow_adapter' }, lr: 5e-4, plateau: { patience: 2 } });
  assert.equal(shallow.lr, 5e-4);
  assert.deepEqual([shallow.plateau.factor, shallow.plateau.patience], [0.3, 2]);
  assert.equal(parseTrainConfig({ data, model: { learner: 'shallow_adapter' } }).lr, 3e-4);
  assert.equal(parseTrainConfig({ data, model: { learner: 'dense_adapter', quirks: 'fixed' } }).loss.appliedTo, 'logits');
  const vpt = parseTrainConfig({ data, model: { learner: 'vpt' } });
  assert.deepEqual([vpt.lr, vpt.gradClipNorm, vpt.loss.lambdaCe, vpt.loss.appliedTo], [2e-4, null, 0.2, 'logits']);
  // configs/callbacks/default.yaml: early_stopping {monitor: val/dice_epoch, mode: max, patience: 20, min_delta: 0.0001};
  // TuneVLSeg's (vpt): {monitor: val_loss, mode: min, patience: 12, min_delta: 0.0001}
  for (const learner of ['shallow_adapter', 'dense_adapter', 'full_finetune']) {
    for (const quirks of ['reference', 'fixed']) {
      assert.deepEqual(
        parseTrainConfig({ data, model: { learner, quirks } }).earlyStopping,
        { enabled: true, monitor: 'val_dice', patience: 20, minDelta: 1e-4 },
        `${learner} ${quirks}`,
      );
    }
  }
  assert.deepEqual(vpt.earlyStopping, { enabled: true, monitor: 'val_loss', patience: 12, minDelta: 1e-4 });
  assert.equal(
    parseTrainConfig({ data, model: { learner: 'dense_adapter' }, earlyStopping: { monitor: 'val_loss' } }).earlyStopping.monitor,
    'val_loss',
  );
});

test("sweep --objective auto: what each original optimised (VLSM-Adapter: the last validation's Dice, maximised)", () => {
  // clipseg_optuna.yaml: optimized_metric "val_dice_epoch", direction maximize; train.py returns the fit's last callback_metrics
  for (const learner of ['shallow_adapter', 'dense_adapter', 'full_finetune']) {
    assert.equal(autoObjective({ learner }), 'last_val_dice');
    assert.equal(autoObjective({ learner, quirks: 'fixed' }), 'val_dice', "fixed: the best checkpoint's Dice");
  }
  assert.equal(autoObjective({ learner: 'vpt' }), 'val_loss');
  assert.equal(autoObjective({ learner: 'lora' }), 'val_loss', "no original sweep: TuneVLSeg's rule");
  assert.equal(objectiveDirection('last_val_dice'), 'maximize');
  assert.equal(objectiveDirection('val_loss'), 'minimize');
  const s = {
    val: { samples: 4, loss: 0.3, dice: 0.8, iou: 0.7 },
    lastEpoch: { valLoss: 0.4, valDice: 0.75, valSelectDice: 0.74 },
  } as unknown as TrainSummary;
  assert.equal(objectiveValue('last_val_dice', s), 0.74, 'the checkpoint-selection Dice the monitor watches');
  assert.equal(epochObjectiveValue('last_val_dice', s.lastEpoch), 0.74);
});

test('weight decay reaches every adapter tensor (biases too), as AdamW(net.parameters(), weight_decay) in the original', async () => {
  const seg = await tiny({ learner: 'shallow_adapter', adapterDim: 4 });
  try {
    const groups = optimizerGroups(seg, 1e-3);
    assert.equal(groups.length, 1);
    assert.equal(groups[0]!.weightDecay, 1e-3);
    assert.equal(groups[0]!.params.length, seg.namedTrainable().length);
    assert.deepEqual(seg.decayNames().other, []);
    // 0 is no decay here: TuneVLSeg's quirk 19 (0 means torch's 0.01) belongs to the prompt learners' original
    assert.deepEqual(
      optimizerGroups(seg, 0).map((g) => g.weightDecay),
      [0],
    );
  } finally {
    seg.dispose();
  }
});

test('clear errors: nothing to train, CRIS, a text width that cannot be added to the conditional embedding', async () => {
  await assert.rejects(
    tiny({ learner: 'dense_adapter', adapterInV: false, adapterInL: false, adapterInCond: false }),
    /all false: no adapter to train/,
  );
  await assert.rejects(tiny({ learner: 'shallow_adapter', depth: 2 }), /learner shallow_adapter: unknown option "depth"/);
  assert.equal(learnerSupports('dense_adapter', 'cris'), false);
  await assert.rejects(buildSegmenter({ model: 'cris-tiny', randomWeights: true, learner: 'shallow_adapter' }), /does not apply to cris/);
  // A CLIPSeg whose text width (48) differs from its projection (32): l adds the raw text state to the conditional embedding.
  const cfg = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  cfg.text_config = { ...cfg.text_config, hidden_size: 48, num_attention_heads: 4 };
  const dir = join(tmp, 'wide-text');
  cpSync(TINY, dir, {
    recursive: true,
    filter: (p) => !p.includes('/learners') && !p.includes('/adapters') && !p.endsWith('model.safetensors'),
  });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  await assert.rejects(
    buildSegmenter({ model: dir, randomWeights: true, learner: 'shallow_adapter' }),
    /raw text state \(width 48\).*width 32/,
  );
  const ok = await buildSegmenter({ model: dir, randomWeights: true, learner: 'shallow_adapter', adapterInL: false });
  ok.dispose();
});
