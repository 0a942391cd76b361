// The `training` parity kind (fixtures README, "training") and the step logic it shares with
// `train` (src/train/step.ts): the shared cases pass, a copy in another layout passes, and
// tampered copies fail where the tampering is (a parameter after step 3, hard mask targets, a
// configured weight decay > 0, another lr, another base model).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir } from './helpers.js';
import { parseSafetensors, serializeSafetensors } from '../src/torch/safetensors.js';
import * as T from '../src/torch/index.js';
import { runParity, type CaseLine } from '../src/parity/runner.js';
import { caseKinds } from '../src/parity/kinds/index.js';
import { trainingKind } from '../src/parity/kinds/training.js';
import { accumulationWeighting, closesStep, microBatchWeight, type AccumulationPlan } from '../src/train/step.js';

T.setNumThreads(1);

const trainingDir = (): string => join(fixturesDir(), 'training');

async function run(root: string): Promise<{ lines: Map<string, CaseLine>; summary: { cases: number; failed: number } }> {
  const lines = new Map<string, CaseLine>();
  const summary = await runParity(root, caseKinds, (l) => lines.set(l.case, l));
  return { lines, summary };
}

/** A copy of a shared training case under `root/<name>`, its base model at `root/base/` (case.json rewritten to say so). */
function copyCase(root: string, from: string, name: string, edit?: (cj: Record<string, unknown>) => void): string {
  const dir = join(root, 'runs', name);
  mkdirSync(join(root, 'runs'), { recursive: true });
  cpSync(join(trainingDir(), from), dir, { recursive: true });
  mkdirSync(join(root, 'base'), { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) cpSync(join(fixturesDir(), 'clipseg-tiny', f), join(root, 'base', f));
  cpSync(join(fixturesDir(), 'tokenizer'), join(root, 'tokenizer'), { recursive: true });
  const cj = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Record<string, unknown>;
  (cj.base_model as Record<string, unknown>).dir = '../../base/';
  edit?.(cj);
  writeFileSync(join(dir, 'case.json'), JSON.stringify(cj));
  return dir;
}

/** Rewrites one float32 tensor of a case file. */
function editTensor(file: string, name: string, fn: (v: Float32Array) => void): void {
  const f = parseSafetensors(new Uint8Array(readFileSync(file)), file);
  const t = f.tensors.get(name)!;
  const vals = new Float32Array(t.data.slice().buffer);
  fn(vals);
  f.tensors.set(name, { ...t, data: new Uint8Array(vals.buffer) });
  writeFileSync(file, serializeSafetensors(f.tensors, f.metadata));
}

const failing = (l: CaseLine): string[] =>
  Object.entries(l.tensors)
    .filter(([, t]) => !t.pass)
    .map(([k]) => k)
    .sort();

test('the training kind recognises every shared training case, and they pass', async () => {
  const cases = readdirSync(trainingDir()).filter((d) => !d.startsWith('.'));
  assert.ok(cases.length >= 3);
  const { lines, summary } = await run(trainingDir());
  assert.equal(summary.cases, cases.length);
  for (const c of cases) {
    const l = lines.get(c)!;
    assert.equal(l.kind, 'training', c);
    assert.deepEqual(failing(l), [], `${c}: ${JSON.stringify(l.error ?? l.tensors).slice(0, 400)}`);
    assert.equal(l.pass, true);
    const cj = JSON.parse(readFileSync(join(trainingDir(), c, 'case.json'), 'utf8')) as {
      steps: number;
      trainable_parameters: { name: string }[];
    };
    // every step's every trainable tensor was compared, and the per-micro-batch losses
    for (let k = 1; k <= cj.steps; k++)
      for (const p of cj.trainable_parameters) assert.ok(`params_step${k}.${p.name}` in l.tensors, `${c}: params_step${k}.${p.name}`);
    for (const k of ['loss', 'dice_loss', 'bce_loss', 'lr_per_step', 'logits.mb0', 'optimizer.param_groups', 'steps'])
      assert.ok(k in l.tensors, `${c}: ${k}`);
  }
  assert.equal(trainingKind.matches('x', { kind: 'training' }), true);
  assert.equal(trainingKind.matches('x', { wrapper_class: 'VPTCLIPSeg' }), false);
});

test('a training case in another layout passes; tampered copies fail where they were tampered', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tvs-parity-training-'));
  try {
    copyCase(root, 'vpt-d1', 'vpt-copy');
    // params_step3: one element of the context vectors moved by 10x its tolerance (atol 1e-7 + rtol 2e-6 |p|)
    const shifted = copyCase(root, 'vpt-d1', 'shifted-param');
    editTensor(join(shifted, 'params_step3.safetensors'), 'context_learner.context_vectors', (v) => {
      v[5] = v[5]! + 10 * (1e-7 + 2e-6 * Math.abs(v[5]!));
    });
    // hard targets: the trainer must see the soft gray/255 masks (quirk 18)
    const hard = copyCase(root, 'coop-d1', 'hard-masks');
    editTensor(join(hard, 'batches.safetensors'), 'mb0.mask', (v) => {
      for (let i = 0; i < v.length; i++) v[i] = v[i]! > 0.5 ? 1 : 0;
    });
    // an explicit weight decay > 0 splits the groups (only Linear/Conv weights decay): not what the reference built
    copyCase(root, 'maple-d2', 'explicit-wd', (cj) => {
      (cj.weight_decay as Record<string, unknown>).config = 1e-3;
    });
    // another lr, read from case.json
    copyCase(root, 'vpt-d1', 'other-lr', (cj) => {
      cj.lr = 3e-4;
    });
    // another base model than the case was made with
    copyCase(root, 'vpt-d1', 'other-base', (cj) => {
      ((cj.base_model as Record<string, unknown>).sha256 as Record<string, string>)['model.safetensors'] = '0'.repeat(64);
    });

    const { lines, summary } = await run(root);
    assert.equal(lines.get('runs/vpt-copy')?.pass, true, JSON.stringify(lines.get('runs/vpt-copy')?.error));
    assert.deepEqual(failing(lines.get('runs/shifted-param')!), ['params_step3.context_learner.context_vectors']);

    const h = lines.get('runs/hard-masks')!;
    assert.equal(h.pass, false);
    assert.ok(failing(h).includes('loss'), failing(h).join(', '));
    assert.ok(failing(h).includes('grads_step1.context_learner.context_vectors'));

    const wd = lines.get('runs/explicit-wd')!;
    assert.ok(failing(wd).includes('optimizer.param_groups'), failing(wd).join(', '));
    assert.match(wd.tensors['optimizer.param_groups']!.error!, /2 groups with trainable tensors, the reference 1/);

    const lr = lines.get('runs/other-lr')!;
    assert.ok(failing(lr).includes('lr_per_step') && failing(lr).includes('optimizer.param_groups'), failing(lr).join(', '));
    assert.ok(failing(lr).some((k) => k.startsWith('params_step1.')));

    const base = lines.get('runs/other-base')!;
    assert.equal(base.kind, 'error');
    assert.match(base.error!, /model\.safetensors has sha256 [0-9a-f]{64}, the case expects 0{64}/);
    assert.equal(lines.get('tokenizer')?.pass, true); // the copied tokenizer folder is a case of its own
    assert.deepEqual(summary, { cases: 7, failed: 5 });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a training case with a malformed field names the file and the field', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tvs-parity-training-bad-'));
  try {
    copyCase(root, 'coop-d1', 'no-accumulate', (cj) => {
      delete cj.accumulate;
    });
    const { lines } = await run(root);
    const l = lines.get('runs/no-accumulate')!;
    assert.equal(l.pass, false);
    assert.match(l.error!, /no-accumulate\/case\.json: field "accumulate": expected an integer >= 1/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('accumulation: reference divides every micro-batch by A (Lightning), fixed weighs by samples; steps close windows and the epoch', () => {
  // 7 micro-batches of 2, 2, 2, 2, 2, 2, 1 samples with A = 2: steps after 1, 3, 5 and 6.
  const sizes = [2, 2, 2, 2, 2, 2, 1];
  const plan = (weighting: AccumulationPlan['weighting']): AccumulationPlan => ({
    accumulate: 2,
    microBatches: 7,
    sizeAt: (i) => sizes[i]!,
    weighting,
  });
  assert.deepEqual(
    sizes.map((_, i) => closesStep(plan('per-micro-batch'), i)),
    [false, true, false, true, false, true, true],
  );
  assert.equal(accumulationWeighting('reference'), 'per-micro-batch');
  assert.equal(accumulationWeighting('fixed'), 'per-sample');
  // reference: loss / A whatever the size, the lone last micro-batch included
  assert.deepEqual(
    sizes.map((_, i) => microBatchWeight(plan('per-micro-batch'), i)),
    [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
  );
  // fixed: its share of the step's samples (the last window holds one sample: weight 1)
  assert.deepEqual(
    sizes.map((_, i) => microBatchWeight(plan('per-sample'), i)),
    [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1],
  );
  const uneven: AccumulationPlan = { accumulate: 3, microBatches: 3, sizeAt: (i) => [4, 4, 1][i]!, weighting: 'per-sample' };
  assert.deepEqual(
    [0, 1, 2].map((i) => microBatchWeight(uneven, i)),
    [4 / 9, 4 / 9, 1 / 9],
  );
});
