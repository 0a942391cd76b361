// Parity kind for VLSM-Adapter cases (`case.json` "kind": "adapter", e.g. clipseg-tiny/adapters/<case>/):
// the case names the reference wrapper (`wrapper_class` CLIPSegShallowAdapter | CLIPSegDenseAdapter,
// else `variant`) with its kwargs (adapter_dim, adapter_in_v/l/cond). Builds that learner
// (quirks 'reference', no upsampler) on the CLIPSeg two folders up (sha256 checked when the case
// gives it), loads params_init (fixture names are the wrapper's; ours carry `context_learner.`),
// and compares everything the case holds: trainable names, shapes and count; logits and the
// intermediates; the loss and its parts (the loss config of `training_config.loss`); every
// gradient and their total norm; the tensors after clip_grad_norm_ and one AdamW step
// (`optimizer_step`); and the learner's reference training recipe against `training_config`.
// Tolerances are the case's `suggested_tolerance` where it gives them (else the README's).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Tensor, dispose, loadSafetensors, optim, tidy } from '../../torch/index.js';
import { CLIPSegForImageSegmentation } from '../../models/clipseg/model.js';
import { learnerFromReference } from '../../learners/reference.js';
import { learnerEntry, learnerForReferenceClass } from '../../learners/registry.js';
import { diceCELoss, type DiceCEOptions } from '../../inference/loss.js';
import { optimizerGroups } from '../../train/reference-semantics.js';
import { PromptedClipSeg, type PromptedOutput } from '../../tuning/clipseg.js';
import { loadStateStrict } from '../../tuning/common.js';
import {
  TOL,
  compareArrays,
  compareTensors,
  type TensorReport,
  type Tolerance,
  compareTrainable,
  fail,
  ok,
  type ListedParameter,
} from '../compare.js';
import type { CaseKind, CaseResult } from '../runner.js';

const CASE_FILES = ['inputs.safetensors', 'params_init.safetensors', 'outputs.safetensors', 'grads.safetensors', 'adamw_step1.safetensors'];
/** Where our learner's tensors live in the segmenter; the reference wrapper has them at its top level. */
const PREFIX = 'context_learner.';

type Json = Record<string, unknown>;

const NUM = String.raw`(\d+(?:\.\d+)?(?:e[-+]?\d+)?)`;

/**
 * A tolerance written as the fixtures write them: "atol 1e-4 + rtol 1e-4", "atol 5e-6 (...)",
 * "rtol 1e-4", "|a - b| <= 1e-3 * max|b| + 1e-9" (per tensor), "atol 0.1 * lr". null if unreadable.
 */
export function parseTolerance(text: string, lr?: number): Tolerance | null {
  const perTensor = new RegExp(`${NUM}\\s*\\*\\s*max\\s*\\|b\\|(?:\\s*\\+\\s*${NUM})?`, 'i').exec(text);
  if (perTensor) return { atol: Number(perTensor[2] ?? 0), rtol: Number(perTensor[1]), mode: 'tensorMax' };
  const atol = new RegExp(`atol\\s+${NUM}(\\s*\\*\\s*lr\\b)?`, 'i').exec(text);
  const rtol = new RegExp(`rtol\\s+${NUM}`, 'i').exec(text);
  if (!atol && !rtol) return null;
  if (atol?.[2] && lr === undefined) return null;
  return { atol: atol ? Number(atol[1]) * (atol[2] ? lr! : 1) : 0, rtol: rtol ? Number(rtol[1]) : 0 };
}

/** The case's tolerance for `name` (keys like "loss / dice_loss / bce_loss", "vision_activation.*"), else `fallback`. */
function toleranceFor(cj: Json, name: string, fallback: Tolerance, notes: string[], lr?: number): Tolerance {
  const table = (cj.suggested_tolerance ?? {}) as Record<string, unknown>;
  for (const [key, text] of Object.entries(table)) {
    const names = key.split('/').map((k) => k.trim());
    const hit = names.some((k) => (k.endsWith('*') ? name.startsWith(k.slice(0, -1)) : k === name));
    if (!hit || typeof text !== 'string') continue;
    const t = parseTolerance(text, lr);
    if (t) return t;
    notes.push(`suggested_tolerance "${key}": cannot read "${text}"; using the README's`);
  }
  return fallback;
}

/** The learner and its options from the wrapper class and kwargs (reference names -> ours). */
function learnerOfCase(dir: string, cj: Json): { name: string; options: Json } {
  const where = join(dir, 'case.json');
  const kw = { ...((cj.wrapper_kwargs ?? {}) as Json) };
  if (kw.freeze_clipseg === false) throw new Error(`${where}: wrapper_kwargs.freeze_clipseg false (end-to-end) is not an adapter case`);
  for (const k of ['clipseg_hf_api', 'freeze_clipseg']) delete kw[k];
  let cls = typeof cj.wrapper_class === 'string' ? cj.wrapper_class : null;
  if (!cls && typeof cj.variant === 'string') cls = learnerEntry(`${cj.variant}_adapter`).referenceClass;
  if (!cls) throw new Error(`${where}: neither "wrapper_class" nor "variant" names the adapter`);
  // The three flags and adapter_dim may also sit at the top level of case.json.
  for (const k of ['adapter_dim', 'adapter_in_v', 'adapter_in_l', 'adapter_in_cond'])
    if (kw[k] === undefined && cj[k] !== undefined) kw[k] = cj[k];
  learnerForReferenceClass(cls); // names the known classes when it is none of them
  return learnerFromReference({ class: cls, ...kw });
}

/** Loss settings of `training_config.loss` (lambda_dice, lambda_ce, sigmoid / applied_to), else the learner's reference recipe. */
function lossOfCase(cj: Json, learner: string): DiceCEOptions {
  const recipeLoss = (learnerEntry(learner).recipe?.reference?.config.loss ?? {}) as DiceCEOptions;
  const l = ((cj.training_config as Json | undefined)?.loss ?? null) as Json | null;
  if (!l) return recipeLoss;
  const onProbabilities = l.sigmoid === false && /sigmoid\(logits\)/.test(String(l.applied_to ?? ''));
  return {
    lambdaDice: typeof l.lambda_dice === 'number' ? l.lambda_dice : recipeLoss.lambdaDice,
    lambdaCe: typeof l.lambda_ce === 'number' ? l.lambda_ce : recipeLoss.lambdaCe,
    appliedTo: onProbabilities ? 'probabilities' : 'logits',
  };
}

/** Differences between the learner's reference recipe and the case's `training_config` (empty: they agree). */
function recipeDifferences(cj: Json, learner: string, loss: DiceCEOptions): string[] {
  const tc = cj.training_config as Json | undefined;
  const recipe = learnerEntry(learner).recipe?.reference;
  if (!tc) return [];
  if (!recipe) return [`learner ${learner} has no reference recipe`];
  const r = recipe.config as Json;
  const opt = (tc.optimizer ?? {}) as Json,
    sch = (tc.scheduler ?? {}) as Json,
    es = (tc.early_stopping ?? {}) as Json;
  const plateau = (r.plateau ?? {}) as Json,
    early = (r.earlyStopping ?? {}) as Json,
    rl = (r.loss ?? {}) as DiceCEOptions;
  const pairs: [string, unknown, unknown][] = [
    ['lr', opt.lr, r.lr],
    ['weight_decay', opt.weight_decay, r.weightDecay],
    ['gradient_clip_val', tc.gradient_clip_val, r.gradClipNorm],
    ['scheduler.factor', sch.factor, plateau.factor],
    ['scheduler.patience', sch.patience, plateau.patience],
    ['min_epochs', tc.min_epochs, r.minEpochs],
    ['max_epochs', tc.max_epochs, r.maxEpochs],
    ['early_stopping.patience', es.patience, early.patience],
    ['early_stopping.min_delta', es.min_delta, early.minDelta],
    ['early_stopping.monitor', es.monitor === undefined ? undefined : monitorOfCase(es.monitor, es.mode), early.monitor],
    ['loss.lambda_dice', loss.lambdaDice, rl.lambdaDice],
    ['loss.lambda_ce', loss.lambdaCe, rl.lambdaCe],
    ['loss input', loss.appliedTo, rl.appliedTo],
  ];
  return pairs
    .filter(([, c, ours]) => c !== undefined && c !== ours)
    .map(([k, c, ours]) => `${k}: case ${JSON.stringify(c)}, recipe ${JSON.stringify(ours)}`);
}

/** A Lightning monitor key and mode as our `earlyStopping.monitor` (`val/dice_epoch`, max -> val_dice). */
function monitorOfCase(key: unknown, mode: unknown): string {
  const k = String(key);
  if (/dice/.test(k) && mode !== 'min') return 'val_dice';
  if (/loss/.test(k) && mode !== 'max') return 'val_loss';
  return `${k} (mode ${String(mode)})`;
}

/** sha256 of the base files the case names (`base_model_sha256`), as failures. */
function baseMismatches(root: string, cj: Json): string[] {
  const want = (cj.base_model_sha256 ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  for (const [file, hex] of Object.entries(want)) {
    const p = join(root, file);
    if (!existsSync(p)) out.push(`${p} is missing`);
    else if (createHash('sha256').update(readFileSync(p)).digest('hex') !== hex) out.push(`${p}: sha256 differs from base_model_sha256`);
  }
  return out;
}

/** Fixture-named tensors of one forward. */
function outputsOf(seg: PromptedClipSeg, o: PromptedOutput): Map<string, Tensor> {
  const m = new Map<string, Tensor>([
    ['logits', o.logits],
    ['conditional_embeddings', o.conditionalEmbeddings],
    ['text_projection_output', o.textProjectionOutput],
    ['decoder_features', o.decoderFeatures],
  ]);
  o.visionActivations?.forEach((a, i) => m.set(`vision_activation.layer${seg.model.extractLayers[i]}`, a));
  return m;
}

export function runAdapterCase(dir: string, cj: Json): CaseResult {
  for (const f of CASE_FILES) if (!existsSync(join(dir, f))) throw new Error(`${dir}: missing ${f}`);
  const root = resolve(dir, '..', '..');
  const { name, options } = learnerOfCase(dir, cj);
  const tensors: Record<string, TensorReport> = {};
  const notes: string[] = [];
  const base = baseMismatches(root, cj);
  if (cj.base_model_sha256) tensors.base_model = base.length ? fail(base.join('; ')) : ok();
  const model = CLIPSegForImageSegmentation.fromPretrained(root);
  let seg: PromptedClipSeg;
  try {
    seg = new PromptedClipSeg(model, { quirks: 'reference', learner: name, learnerOptions: options, useNewLastLayer: false });
  } catch (e) {
    model.dispose();
    throw e;
  }
  const files = new Map(CASE_FILES.map((f) => [f, loadSafetensors(join(dir, f)).tensors] as const));
  const fixtureName = (ours: string): string => (ours.startsWith(PREFIX) ? ours.slice(PREFIX.length) : ours);
  try {
    const need = (file: string, k: string): Tensor => {
      const t = files.get(file)!.get(k);
      if (!t) throw new Error(`${join(dir, file)}: missing tensor "${k}"`);
      return t;
    };
    const step = (cj.optimizer_step ?? {}) as Json;
    const lr = typeof step.lr === 'number' ? step.lr : 1e-3;
    const tol = (k: string, fallback: Tolerance): Tolerance => toleranceFor(cj, k, fallback, notes, lr);

    // Trainable tensors: names (the wrapper's), shapes, count; initial values.
    const trainable = new Map(seg.namedTrainable().map(([n, t]) => [fixtureName(n), t] as const));
    const listed = (cj.trainable_parameters ?? []) as ListedParameter[];
    const count = seg.numParameters(true);
    Object.assign(tensors, compareTrainable(trainable, listed, count, cj.num_trainable_parameters));
    if (!tensors.trainable_names.pass)
      return {
        tensors,
        notes: [`clipseg + ${name} ${JSON.stringify(options)}: its trainable tensors are not the case's; nothing else compared`],
      };
    loadStateStrict(trainable, files.get('params_init.safetensors')!, 'parity', join(dir, 'params_init.safetensors'));

    const pixels = need('inputs.safetensors', 'pixel_values');
    const text = { inputIds: need('inputs.safetensors', 'input_ids'), attentionMask: need('inputs.safetensors', 'attention_mask') };
    const target = need('inputs.safetensors', 'target');
    const expected = files.get('outputs.safetensors')!;
    const loss = lossOfCase(cj, name);
    const recipe = recipeDifferences(cj, name, loss);
    tensors.recipe = recipe.length ? fail(recipe.join('; ')) : ok();

    // Forward with autograd, the loss, backward.
    const seen = new Set<string>();
    const cmp = (k: string, got: Tensor | undefined, fallback: Tolerance): void => {
      const exp = expected.get(k);
      if (!exp) return;
      seen.add(k);
      tensors[k] = got ? tidy(() => compareTensors(got, exp, tol(k, fallback))) : fail('not computed by this kind');
    };
    tidy(() => {
      const out = seg.forwardDetailed(pixels, text);
      for (const [k, t] of outputsOf(seg, out)) cmp(k, t, k === 'logits' ? TOL.logits : TOL.activations);
      const l = diceCELoss(out.logits, target, loss);
      cmp('loss', l.loss, TOL.loss);
      cmp('dice_loss', l.dice, TOL.loss);
      cmp('bce_loss', l.bce, TOL.loss);
      l.loss.backward();
    });

    // Gradients (every trainable tensor gets one unless the case lists it without), their total norm.
    const grads = files.get('grads.safetensors')!;
    const noGradNames = new Set((cj.trainable_parameters_without_grad ?? []) as string[]);
    const gradTol = tol('grads', { atol: 1e-9, rtol: 1e-3, mode: 'tensorMax' });
    let sq = 0;
    for (const [k, p] of trainable) {
      const g = p.grad;
      try {
        if (g) sq += tidy(() => g.to('float64').square().sum().item());
        const exp = grads.get(k);
        if (noGradNames.has(k) || !exp)
          tensors[`grad.${k}`] =
            g === null
              ? ok()
              : fail(noGradNames.has(k) ? 'the reference gives this tensor no gradient' : 'no reference gradient to compare');
        else tensors[`grad.${k}`] = g ? tidy(() => compareTensors(g, exp, gradTol)) : fail('no gradient');
      } finally {
        g?.dispose();
      }
    }
    for (const k of grads.keys()) if (!trainable.has(k)) tensors[`grad.${k}`] = fail('not a trainable tensor here');
    const norm = expected.get('grad_total_norm');
    if (norm) {
      seen.add('grad_total_norm');
      tensors.grad_total_norm = compareArrays([Math.sqrt(sq)], [tidy(() => norm.item())], tol('grad_total_norm', { atol: 0, rtol: 1e-4 }));
    }

    // clip_grad_norm_ then one AdamW step, on the groups training uses (the recipe decays every tensor).
    const wd = typeof step.weight_decay === 'number' ? step.weight_decay : 1e-3;
    const clip = typeof step.gradient_clip_val === 'number' ? step.gradient_clip_val : null;
    const opt = new optim.AdamW(optimizerGroups(seg, wd), { lr, weightDecay: wd });
    try {
      const params = opt.paramGroups.flatMap((g) => g.params);
      if (clip !== null) optim.clipGradNorm_(params, clip);
      opt.step();
      const stepTol = tol('adamw_step1', { atol: 0.1 * lr, rtol: 0 });
      for (const [k, exp] of files.get('adamw_step1.safetensors')!) {
        const p = trainable.get(k);
        tensors[`adamw_step1.${k}`] = p ? tidy(() => compareTensors(p, exp, stepTol)) : fail('not a trainable tensor here');
      }
    } finally {
      opt.dispose();
    }
    for (const k of expected.keys()) if (!seen.has(k)) tensors[k] = fail('no output of this kind corresponds to this fixture tensor');
    notes.push(`clipseg + ${name} ${JSON.stringify(options)}, quirks reference, ${count} trainable values, loss ${JSON.stringify(loss)}`);
    return { tensors, notes };
  } finally {
    seg.zeroGrad();
    seg.dispose();
    for (const m of files.values()) dispose([...m.values()]);
  }
}

/** Every folder whose case.json says "kind": "adapter". */
export const adapterKind: CaseKind = {
  name: 'adapter',
  matches(_dir, cj) {
    return cj !== null && cj.kind === 'adapter';
  },
  run(dir, cj) {
    return runAdapterCase(dir, cj ?? {});
  },
};
