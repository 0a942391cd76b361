// Parity kind for the training fixtures (`training/<case>/`, case.json `"kind": "training"`):
// several AdamW steps with gradient accumulation through the original's Lightning module. It
// runs the trainer's own step logic (src/train/step.ts: the optimizer `train` builds, the
// micro-batch weighting, forward/loss/backward, which micro-batches close a step, the step)
// on the case's base model and learner, from params_init over the micro-batches of
// batches.safetensors, and compares:
//   - the trainable names/shapes/count, and the optimizer groups with `optimizer.param_groups`;
//   - loss, dice_loss, bce_loss of every micro-batch (trajectory.safetensors) and `logits.mb<i>`;
//   - the lr of every step (`lr_per_step`), exactly;
//   - the gradients just before step 1 (grads_step1), and that tensors listed without a
//     gradient get none;
//   - every trainable tensor after each step (params_step<K>): element-wise
//     atol + rtol·|p_ref|, or atol + c·lr·K where 0 < |grads_step1| < threshold (AdamW's first
//     update is ill-conditioned there), and tensors without a gradient bit for bit at params_init.
// Learner, depth, options, wrapper kwargs, lr, weight decay, accumulation, steps and tolerances
// all come from case.json; the number of micro-batches from the files.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Tensor, dispose, loadSafetensors, tidy } from '../../torch/index.js';
import { lossTargets, softTargetsOf } from '../../inference/batch-scores.js';
import { mixedPrecision } from '../../train/precision.js';
import {
  accumulationWeighting,
  backwardMicroBatch,
  buildOptimizer,
  closesStep,
  microBatchWeight,
  optimizerStep,
  type AccumulationPlan,
} from '../../train/step.js';
import { loadStateStrict } from '../../tuning/common.js';
import { TOL, compareArrays, compareTensors, type TensorReport, fail, ok } from '../compare.js';
import type { CaseKind, CaseResult } from '../runner.js';
import { buildReferenceSegmenter } from './learners.js';
import { readTrainingCase, type TrainingCase } from './training-case.js';

const FILES = ['params_init', 'batches', 'trajectory', 'grads_step1'] as const;
/** trajectory tensors that are diagnostics of other ports, not outputs of a trainer */
const DIAGNOSTICS = new Set(['loss_long_targets']);

const toF64 = (t: Tensor): Float64Array => tidy(() => t.to('float64').contiguous().toTypedArray() as Float64Array);

/** The micro-batches of batches.safetensors, `mb0..mb<M-1>`, each with its four tensors. */
function microBatches(
  batches: Map<string, Tensor>,
  file: string,
): { pixels: Tensor; inputIds: Tensor; attentionMask: Tensor; mask: Tensor }[] {
  const idx = new Set<number>();
  for (const k of batches.keys()) {
    const m = /^mb(\d+)\.(pixel_values|input_ids|attention_mask|mask)$/.exec(k);
    if (!m) throw new Error(`${file}: unexpected tensor "${k}" (expected mb<i>.pixel_values / input_ids / attention_mask / mask)`);
    idx.add(Number(m[1]));
  }
  const M = idx.size;
  const out = [];
  for (let i = 0; i < M; i++) {
    const get = (n: string): Tensor => {
      const t = batches.get(`mb${i}.${n}`);
      if (!t) throw new Error(`${file}: missing mb${i}.${n} (micro-batches must be numbered 0..${M - 1})`);
      return t;
    };
    out.push({ pixels: get('pixel_values'), inputIds: get('input_ids'), attentionMask: get('attention_mask'), mask: get('mask') });
  }
  if (M === 0) throw new Error(`${file}: no micro-batches`);
  return out;
}

/**
 * The params rule of the case: element-wise |p - ref| <= atol + rtol·|ref|, except where
 * 0 < |g1| < threshold: atol + c·(Σ lr of steps 1..K). Returns the report and the number of
 * elements under the loose rule.
 */
function compareParams(
  p: Float64Array,
  ref: Float64Array,
  g1: Float64Array | null,
  tol: TrainingCase['tol']['params'],
  lrSum: number,
  shape: number[],
): TensorReport & { loose: number } {
  if (p.length !== ref.length) return { ...fail(`length ${p.length} != ${ref.length}`), loose: 0 };
  let maxAbs = 0,
    maxRel = 0,
    pass = true,
    loose = 0;
  const looseBound = tol.atol + (tol.epsSensitiveLrFactor ?? 0) * lrSum;
  for (let i = 0; i < p.length; i++) {
    const d = Math.abs(p[i]! - ref[i]!);
    if (!(d <= Number.MAX_VALUE)) pass = false; // NaN or inf
    const g = g1 ? Math.abs(g1[i]!) : 0;
    const illConditioned = tol.epsSensitiveThreshold !== null && g > 0 && g < tol.epsSensitiveThreshold;
    if (illConditioned) loose++;
    const bound = illConditioned ? looseBound : tol.atol + tol.rtol * Math.abs(ref[i]!);
    if (d > bound) pass = false;
    maxAbs = Math.max(maxAbs, d);
    if (d > 0) maxRel = Math.max(maxRel, d / Math.max(Math.abs(ref[i]!), 1e-12));
  }
  return { pass, max_abs: maxAbs, max_rel: maxRel, shape, loose };
}

export function runTrainingCase(dir: string, cj: Record<string, unknown>): CaseResult {
  const c = readTrainingCase(dir, cj);
  for (const f of FILES) if (!existsSync(join(dir, `${f}.safetensors`))) throw new Error(`${dir}: missing ${f}.safetensors`);
  for (let k = 1; k <= c.steps; k++)
    if (!existsSync(join(dir, `params_step${k}.safetensors`)))
      throw new Error(`${dir}: missing params_step${k}.safetensors (case.json steps = ${c.steps})`);
  const { segmenter: seg, family } = buildReferenceSegmenter({
    caseFile: c.caseFile,
    root: c.baseDir,
    wrapper: c.wrapper,
    section: c.section,
    initializerIds: c.initializerIds,
    wrapperKwargs: c.wrapperKwargs,
  });
  const files = new Map<string, Map<string, Tensor>>();
  const load = (name: string): Map<string, Tensor> => {
    const m = loadSafetensors(join(dir, `${name}.safetensors`)).tensors;
    files.set(name, m);
    return m;
  };
  const tensors: Record<string, TensorReport> = {};
  const notes: string[] = [];
  let opt: ReturnType<typeof buildOptimizer> | null = null;
  try {
    const contextLearner = seg.context_learner;
    tensors.learner =
      contextLearner?.name === c.learner && contextLearner.depth === c.depth
        ? ok()
        : fail(
            `case.json says ${c.learner} depth ${c.depth}; its options built ${contextLearner?.name ?? 'no learner'} depth ${contextLearner?.depth ?? 0}`,
          );

    // Trainable tensors: names, shapes, count; initial values.
    const trainable = new Map(seg.namedTrainable());
    const refNames = c.trainable.map((p) => p.name);
    const missing = refNames.filter((k) => !trainable.has(k));
    const extra = [...trainable.keys()].filter((k) => !refNames.includes(k));
    const badShape = c.trainable.filter((p) => trainable.has(p.name) && trainable.get(p.name)!.shape.join(',') !== p.shape.join(','));
    tensors.trainable_names =
      missing.length || extra.length || badShape.length
        ? fail(
            `missing ${missing.join(', ') || '-'}; unexpected ${extra.join(', ') || '-'}; shapes ${badShape.map((p) => `${p.name} [${trainable.get(p.name)!.shape.join(', ')}] != [${p.shape.join(', ')}]`).join(', ') || '-'}`,
          )
        : ok();
    if (c.numTrainable !== null) tensors.trainable_count = compareArrays([seg.numParameters(true)], [c.numTrainable], TOL.exact);
    const init = load('params_init');
    loadStateStrict(trainable, init, 'parity', join(dir, 'params_init.safetensors'));

    // The optimizer `train` builds, its groups against the reference's (those holding trainable tensors).
    opt = buildOptimizer(seg, { lr: c.lr, weightDecay: c.weightDecay, betas: c.betas, eps: c.eps });
    const nameOf = new Map([...trainable].map(([n, t]) => [t, n] as const));
    const ours = opt.paramGroups.filter((g) => g.params.length > 0);
    const refGroups = c.paramGroups.filter((g) => g.trainableNames.length > 0);
    const refGroupIndex = c.paramGroups.map((g, k) => (g.trainableNames.length > 0 ? k : -1)).filter((k) => k >= 0);
    const groupProblems: string[] = [];
    if (ours.length !== refGroups.length)
      groupProblems.push(`${ours.length} groups with trainable tensors, the reference ${refGroups.length}`);
    ours.forEach((g, k) => {
      const r = refGroups[k];
      if (!r) return;
      const names = g.params.map((t) => nameOf.get(t) ?? '?').sort();
      const refNamesK = [...r.trainableNames].sort();
      if (names.join(',') !== refNamesK.join(',')) groupProblems.push(`group ${k}: [${names.join(', ')}] != [${refNamesK.join(', ')}]`);
      if (g.weightDecay !== r.weightDecay) groupProblems.push(`group ${k}: weight_decay ${g.weightDecay} != ${r.weightDecay}`);
      if (g.lr !== r.lr) groupProblems.push(`group ${k}: lr ${g.lr} != ${r.lr}`);
      const betas = g.betas as number[];
      if (betas[0] !== r.betas[0] || betas[1] !== r.betas[1])
        groupProblems.push(`group ${k}: betas [${betas.join(', ')}] != [${r.betas.join(', ')}]`);
      if (g.eps !== r.eps) groupProblems.push(`group ${k}: eps ${String(g.eps)} != ${r.eps}`);
      if (Boolean(g.amsgrad) !== r.amsgrad) groupProblems.push(`group ${k}: amsgrad ${String(g.amsgrad)} != ${r.amsgrad}`);
    });
    tensors['optimizer.param_groups'] = groupProblems.length ? fail(groupProblems.join('; ')) : ok();
    const params = opt.paramGroups.flatMap((g) => g.params);
    const groupOf = new Map(ours.flatMap((g, k) => g.params.map((t) => [nameOf.get(t)!, k] as const)));

    // The micro-batches, fed through the trainer's step logic.
    const batches = load('batches');
    const mbs = microBatches(batches, join(dir, 'batches.safetensors'));
    const plan: AccumulationPlan = {
      accumulate: c.accumulate,
      microBatches: mbs.length,
      weighting: accumulationWeighting(seg.quirks ?? 'reference'),
      sizeAt: (i) => mbs[i]!.pixels.shape[0]!,
    };
    if (c.microBatchSizes) {
      const sizes = mbs.map((m) => m.pixels.shape[0]!);
      tensors.micro_batch_sizes =
        sizes.join(',') === c.microBatchSizes.join(',')
          ? ok()
          : fail(
              `batches.safetensors holds micro-batches of [${sizes.join(', ')}], case.json trainer.micro_batch_sizes says [${c.microBatchSizes.join(', ')}]`,
            );
    }
    const trajectory = load('trajectory');
    const grads1 = load('grads_step1');
    const amp = mixedPrecision('32', 'cpu');
    const soft = softTargetsOf(seg);
    const got = { loss: [] as number[], dice_loss: [] as number[], bce_loss: [] as number[] };
    const lrs: number[][] = [];
    let step = 0;
    seg.train();
    for (let i = 0; i < mbs.length; i++) {
      const mb = mbs[i]!;
      tidy(() => {
        const r = backwardMicroBatch(
          seg,
          {
            pixels: mb.pixels,
            text: { inputIds: mb.inputIds, attentionMask: mb.attentionMask },
            targets: lossTargets(mb.mask, soft),
          },
          { weight: microBatchWeight(plan, i), amp, loss: c.loss },
        );
        got.loss.push(r.value);
        got.dice_loss.push(r.dice.item());
        got.bce_loss.push(r.bce.item());
        const ref = trajectory.get(`logits.mb${i}`);
        if (ref) tensors[`logits.mb${i}`] = compareTensors(r.logits, ref, c.tol.logits(`logits.mb${i}`));
      });
      if (!closesStep(plan, i)) continue;
      step++;
      if (step === 1) {
        for (const [name, p] of trainable) {
          const g = p.grad;
          try {
            const ref = grads1.get(name);
            if (c.withoutGrad.has(name))
              tensors[`grads_step1.${name}`] = g === null ? ok() : fail('the reference gives this tensor no gradient');
            else if (!ref)
              tensors[`grads_step1.${name}`] = fail(
                g === null ? 'no gradient here and none in grads_step1' : 'not in grads_step1 and not listed without a gradient',
              );
            else tensors[`grads_step1.${name}`] = g ? compareTensors(g, ref, c.tol.grads) : fail('no gradient');
          } finally {
            g?.dispose();
          }
        }
        for (const name of grads1.keys()) if (!trainable.has(name)) tensors[`grads_step1.${name}`] = fail('not a trainable tensor here');
      }
      lrs.push(ours.map((g) => g.lr));
      optimizerStep(opt, params, {
        scaler: null,
        gradClipNorm: null,
        onNonFinite: (n) => new Error(`non-finite gradient norm ${n} before step ${step}`),
      });
      if (step > c.steps) continue;
      const refParams = load(`params_step${step}`);
      for (const [name, ref] of refParams) {
        const p = trainable.get(name);
        const key = `params_step${step}.${name}`;
        if (!p) {
          tensors[key] = fail('not a trainable tensor here');
        } else if (c.withoutGrad.has(name)) {
          // Never moved: equal to params_init (and to the reference) bit for bit.
          const vsInit = compareTensors(p, init.get(name)!, c.tol.paramsWithoutGrad);
          const vsRef = compareTensors(p, ref, c.tol.paramsWithoutGrad);
          tensors[key] = vsInit.pass ? vsRef : { ...vsInit, pass: false, error: 'moved away from params_init' };
        } else {
          const k = groupOf.get(name);
          const lrSum = lrs.reduce((s, row) => s + (k !== undefined ? (row[k] ?? 0) : 0), 0);
          const g1 = grads1.get(name);
          const { loose, ...rep } = compareParams(toF64(p), toF64(ref), g1 ? toF64(g1) : null, c.tol.params, lrSum, p.shape);
          tensors[key] =
            p.shape.join(',') === ref.shape.join(',') ? rep : fail(`shape [${p.shape.join(', ')}] != [${ref.shape.join(', ')}]`);
          if (loose > 0 && step === 1)
            notes.push(`${name}: ${loose} element(s) with 0 < |grads_step1| < ${c.tol.params.epsSensitiveThreshold} under the loose bound`);
        }
      }
      for (const name of trainable.keys())
        if (!refParams.has(name)) tensors[`params_step${step}.${name}`] = fail(`missing from params_step${step}.safetensors`);
    }
    tensors.steps = compareArrays([step], [c.steps], TOL.exact);

    // Per-micro-batch losses and per-step learning rates.
    for (const [name, values] of Object.entries(got)) {
      const ref = trajectory.get(name);
      tensors[name] = ref
        ? compareArrays(values, toF64(ref), c.tol.loss, [values.length])
        : fail(`trajectory.safetensors has no "${name}"`);
    }
    tensors.lr_per_step =
      lrs.length === c.lrPerStep.length && lrs.every((r) => r.length === refGroupIndex.length)
        ? compareArrays(
            lrs.flat(),
            c.lrPerStep.flatMap((row) => refGroupIndex.map((k) => row[k] ?? NaN)),
            c.tol.lr,
            [lrs.length, refGroupIndex.length],
          )
        : fail(`${lrs.length} steps x ${ours.length} groups here, lr_per_step has ${c.lrPerStep.length} x ${c.lrPerStep[0]?.length ?? 0}`);
    for (const name of trajectory.keys()) {
      if (!(name in got) && !(name in tensors) && !DIAGNOSTICS.has(name))
        tensors[name] = fail('no output of this kind corresponds to this fixture tensor');
    }
    notes.push(
      `${family} + ${contextLearner?.name ?? 'none'} depth ${contextLearner?.depth ?? 0}, quirks reference; ${mbs.length} micro-batches, accumulate ${c.accumulate} ` +
        `(${plan.weighting}), ${step} AdamW steps; groups: ${ours.map((g) => `${g.params.length} tensors wd ${g.weightDecay}`).join(' | ')}`,
    );
    return { tensors, notes };
  } finally {
    opt?.dispose();
    seg.zeroGrad();
    seg.dispose();
    for (const m of files.values()) dispose([...m.values()]);
  }
}

/** Every folder whose case.json says `"kind": "training"`. */
export const trainingKind: CaseKind = {
  name: 'training',
  matches(_dir, cj) {
    return cj !== null && cj.kind === 'training';
  },
  run(dir, cj) {
    return runTrainingCase(dir, cj ?? {});
  },
};
