// Parity kind for the learner fixtures (`<model>/learners/<learner>-d<depth>/`): case.json names
// the reference wrapper (`wrapper_class`: COOPCLIPSeg, VPTCLIPSeg, MapleCLIPSeg,
// SharedSeparateCLIPSeg, SharedAttnCLIPSeg, COOPCRIS) with its kwargs and the learner section.
// Builds the same segmenter (quirks 'reference') on the base model two folders up, loads
// params_init.safetensors, and compares: the trainable names, shapes and count; every tensor of
// outputs.safetensors (logits, losses, intermediates, logits_pad77, loss_after_step1); the
// gradient of every trainable tensor (and that trainable_parameters_without_grad get none); the
// parameters after AdamW steps 1 and 2 (lr 1e-3, weight decay 1e-2 on every trainable tensor, as
// torch.optim.AdamW(trainable) in the fixture generator).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Tensor, dispose, loadSafetensors, noGrad, optim, tidy } from '../../torch/index.js';
import { CLIPSegForImageSegmentation } from '../../models/clipseg/model.js';
import { diceCELoss } from '../../inference/loss.js';
import { ClipTokenizer } from '../../models/clip/tokenizer.js';
import { CRIS, crisConfigFromReference, loadCrisWeights } from '../../models/cris/index.js';
import { learnerFromReference } from '../../learners/reference.js';
import { familyForReferenceWrapper, referenceWrapperNames } from '../../learners/registry.js';
import { PromptedClipSeg, type PromptedOutput } from '../../tuning/clipseg.js';
import { PromptedCris, type PromptedCrisOutput } from '../../tuning/cris.js';
import { loadStateStrict } from '../../tuning/common.js';
import { TOL, compareTensors, type TensorReport, type Tolerance, compareTrainable, fail, ok, type ListedParameter } from '../compare.js';
import type { CaseKind, CaseResult } from '../runner.js';

const CASE_FILES = [
  'params_init.safetensors',
  'grads.safetensors',
  'adamw_step1.safetensors',
  'adamw_step2.safetensors',
  'outputs.safetensors',
];

type Segmenter = PromptedClipSeg | PromptedCris;

function toleranceOf(name: string): Tolerance {
  if (name === 'pad_mask') return TOL.exact;
  if (name.endsWith('loss') || name.startsWith('loss')) return TOL.loss;
  if (name.startsWith('logits')) return TOL.logits;
  return TOL.activations;
}

/** A folder with vocab.json + merges.txt near the fixtures (for initializers given as text only). */
function findTokenizerDir(from: string): string | null {
  let d = from;
  for (let i = 0; i < 5; i++) {
    for (const c of [d, join(d, 'tokenizer')]) if (existsSync(join(c, 'vocab.json')) && existsSync(join(c, 'merges.txt'))) return c;
    d = dirname(d);
  }
  return null;
}

/** Builds the segmenter a learner case describes (reference quirks, base model from two folders up). */
export function buildCaseSegmenter(
  dir: string,
  cj: Record<string, unknown>,
): { segmenter: Segmenter; root: string; family: 'clipseg' | 'cris' } {
  const section = cj.context_learner as Record<string, unknown> | undefined;
  if (!section || typeof section !== 'object') throw new Error(`${join(dir, 'case.json')}: no "context_learner" section`);
  return buildReferenceSegmenter({
    caseFile: join(dir, 'case.json'),
    root: resolve(dir, '..', '..'),
    wrapper: String(cj.wrapper_class),
    section,
    initializerIds: (cj.context_initializer_token_ids ?? null) as number[] | number[][] | null,
    wrapperKwargs: (cj.wrapper_kwargs ?? {}) as Record<string, unknown>,
  });
}

/** What a reference wrapper is built from: the base-model folder, the wrapper class and its kwargs, the learner section. */
export interface ReferenceWrapperSpec {
  /** the case.json that describes it (named in errors) */
  caseFile: string;
  /** the base model's folder (clipseg-tiny/, cris-tiny/) */
  root: string;
  wrapper: string;
  /** the reference learner kwargs: `{class: "CoOpContextLearner", prompt_depth: 1, ...}` */
  section: Record<string, unknown>;
  initializerIds: number[] | number[][] | null;
  wrapperKwargs: Record<string, unknown>;
}

/** The segmenter (quirks reference) of a reference wrapper class on a fixture base model. */
export function buildReferenceSegmenter(spec: ReferenceWrapperSpec): { segmenter: Segmenter; root: string; family: 'clipseg' | 'cris' } {
  const { wrapper, root, caseFile } = spec;
  const dir = dirname(caseFile);
  const { name, options } = learnerFromReference(spec.section, spec.initializerIds);
  const kw = spec.wrapperKwargs;
  if (kw.freeze_all === false)
    throw new Error(`${caseFile}: wrapper_kwargs.freeze_all false is not supported (the reference trains with freeze_all true)`);
  const wrapperOptions = {
    quirks: 'reference' as const,
    useNewLastLayer: (kw.use_new_last_layer as boolean | undefined) ?? false,
    newLastLayerKernelSize: (kw.new_last_layer_kernel_size as number | undefined) ?? 5,
    residualRatio: (kw.residual_ratio as number | undefined) ?? 0.5,
    noFreezeLastLayer: (kw.no_freeze_last_layer as boolean | undefined) ?? false,
  };
  const needsTokenizer =
    options.contextInitializer !== null && options.contextInitializer !== undefined && options.contextInitializerIds === undefined;
  // The wrapper class names the base-model family (the registry lists each learner's wrappers).
  const family = familyForReferenceWrapper(wrapper);
  if (family === 'clipseg') {
    const model = CLIPSegForImageSegmentation.fromPretrained(root);
    let tokenizer = model.tokenizer;
    if (!tokenizer && needsTokenizer) {
      const t = findTokenizerDir(root);
      if (!t)
        throw new Error(
          `${dir}: the context initializer needs a tokenizer (no context_initializer_token_ids in case.json, no vocab.json near the fixtures)`,
        );
      tokenizer = ClipTokenizer.fromDir(t);
    }
    try {
      return {
        segmenter: new PromptedClipSeg(model, { ...wrapperOptions, learner: name, learnerOptions: options, tokenizer }),
        root,
        family: 'clipseg',
      };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  if (family === 'cris') {
    const baseCase = JSON.parse(readFileSync(join(root, 'case.json'), 'utf8')) as Record<string, unknown>;
    const model = new CRIS(crisConfigFromReference(baseCase.model_config, `${join(root, 'case.json')} model_config`));
    let tokenizer: ClipTokenizer | null = null;
    try {
      loadCrisWeights(model, join(root, 'model.safetensors'));
      if (needsTokenizer) {
        const t = findTokenizerDir(root);
        if (!t)
          throw new Error(
            `${dir}: the context initializer needs a tokenizer (no context_initializer_token_ids, no vocab.json near the fixtures)`,
          );
        tokenizer = ClipTokenizer.fromDir(t);
      }
      return {
        segmenter: new PromptedCris(model, { ...wrapperOptions, learner: name, learnerOptions: options, tokenizer }),
        root,
        family: 'cris',
      };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  throw new Error(`${caseFile}: unknown wrapper_class "${wrapper}" (expected one of ${referenceWrapperNames().join(', ')})`);
}

/** The fixture-named intermediates of one forward. */
function intermediates(family: 'clipseg' | 'cris', seg: Segmenter, out: PromptedOutput | PromptedCrisOutput): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  if (family === 'clipseg') {
    const o = out as PromptedOutput;
    m.set('logits', o.logits);
    m.set('conditional_embeddings', o.conditionalEmbeddings);
    m.set('decoder_features', o.decoderFeatures);
    if (o.textLastHiddenState) m.set('text_last_hidden_state', o.textLastHiddenState);
    if (o.textPooledOutput) m.set('text_pooled_output', o.textPooledOutput);
    const layers = (seg as PromptedClipSeg).model.extractLayers;
    o.visionActivations?.forEach((a, i) => m.set(`vision_activation.layer${layers[i]}`, a));
  } else {
    const o = out as PromptedCrisOutput;
    m.set('logits', o.output);
    for (const [k, v] of [
      ['vis_c3', o.visC3],
      ['vis_c4', o.visC4],
      ['vis_c5', o.visC5],
      ['text_features', o.textFeatures],
      ['text_state', o.textState],
      ['fpn_out', o.fpnOut],
      ['decoder_out', o.decoderOut],
      ['proj_out', o.projOut],
    ] as const)
      m.set(k, v);
    m.set('pad_mask', o.padMask.long());
  }
  return m;
}

export function runLearnerCase(dir: string, cj: Record<string, unknown>): CaseResult {
  for (const f of CASE_FILES) if (!existsSync(join(dir, f))) throw new Error(`${dir}: missing ${f}`);
  const { segmenter: seg, root, family } = buildCaseSegmenter(dir, cj);
  const files = new Map(CASE_FILES.map((f) => [f, loadSafetensors(join(dir, f)).tensors] as const));
  const inputs = loadSafetensors(join(root, 'inputs.safetensors')).tensors;
  const tensors: Record<string, TensorReport> = {};
  const notes: string[] = [];
  try {
    const need = (m: Map<string, Tensor>, k: string, where: string): Tensor => {
      const t = m.get(k);
      if (!t) throw new Error(`${where}: missing tensor "${k}"`);
      return t;
    };
    const expected = files.get('outputs.safetensors')!;
    const grads = files.get('grads.safetensors')!;
    const seen = new Set<string>();
    const cmp = (name: string, got: Tensor | undefined, exp: Tensor | undefined, tol: Tolerance = toleranceOf(name)): void => {
      if (!exp) return;
      seen.add(name);
      tensors[name] = got ? tidy(() => compareTensors(got, exp, tol)) : fail('not computed by this kind');
    };

    // Trainable parameters: names, shapes, count; initial values from params_init.
    const trainable = new Map(seg.namedTrainable());
    const listed = (cj.trainable_parameters ?? []) as ListedParameter[];
    const count = seg.numParameters(true);
    Object.assign(tensors, compareTrainable(trainable, listed, count, cj.num_trainable_parameters));
    loadStateStrict(trainable, files.get('params_init.safetensors')!, 'parity', join(dir, 'params_init.safetensors'));

    const text = { inputIds: need(inputs, 'input_ids', 'inputs'), attentionMask: need(inputs, 'attention_mask', 'inputs') };
    const pixels = need(inputs, 'pixel_values', 'inputs');
    const labels = need(inputs, 'labels', 'inputs');

    // Forward with autograd, loss, backward.
    tidy(() => {
      const out = seg.forwardDetailed(pixels, text);
      const got = intermediates(family, seg, out);
      for (const [name, exp] of expected) if (got.has(name)) cmp(name, got.get(name), exp);
      const logits = got.get('logits')!;
      const l = diceCELoss(logits, labels);
      cmp('loss', l.loss, expected.get('loss'));
      cmp('dice_loss', l.dice, expected.get('dice_loss'));
      cmp('bce_loss', l.bce, expected.get('bce_loss'));
      l.loss.backward();
    });

    // Gradients.
    const noGradNames = new Set((cj.trainable_parameters_without_grad ?? []) as string[]);
    for (const [name, p] of trainable) {
      const g = p.grad;
      try {
        const exp = grads.get(name);
        if (noGradNames.has(name) || !exp) {
          tensors[`grad.${name}`] =
            g === null
              ? ok()
              : fail(noGradNames.has(name) ? 'the reference gives this parameter no gradient' : 'no reference gradient to compare');
        } else {
          tensors[`grad.${name}`] = g ? tidy(() => compareTensors(g, exp, TOL.grads)) : fail('no gradient');
        }
      } finally {
        g?.dispose();
      }
    }
    for (const name of grads.keys()) if (!trainable.has(name)) tensors[`grad.${name}`] = fail('not a trainable parameter here');

    // The pad-77 input (truncation path), no grad, initial parameters.
    if (expected.has('logits_pad77')) {
      noGrad(() =>
        tidy(() => {
          const o = seg.forwardDetailed(pixels, {
            inputIds: need(inputs, 'input_ids_pad77', 'inputs'),
            attentionMask: need(inputs, 'attention_mask_pad77', 'inputs'),
          });
          cmp('logits_pad77', intermediates(family, seg, o).get('logits'), expected.get('logits_pad77'));
        }),
      );
    }

    // AdamW over the trainable tensors (torch.optim.AdamW(trainable, lr=1e-3, weight_decay=1e-2)).
    const opt = new optim.AdamW([...trainable.values()], { lr: 1e-3, weightDecay: 1e-2 });
    try {
      const compareParams = (file: string): void => {
        for (const [name, exp] of files.get(file)!) {
          const p = trainable.get(name);
          tensors[`${file.replace('.safetensors', '')}.${name}`] = p
            ? tidy(() => compareTensors(p, exp, TOL.adamw))
            : fail('not a trainable parameter here');
        }
      };
      opt.step();
      compareParams('adamw_step1.safetensors');
      opt.zeroGrad();
      tidy(() => {
        const out = seg.forwardDetailed(pixels, text);
        const l = diceCELoss(intermediates(family, seg, out).get('logits')!, labels);
        cmp('loss_after_step1', l.loss, expected.get('loss_after_step1'));
        l.loss.backward();
      });
      opt.step();
      opt.zeroGrad();
      compareParams('adamw_step2.safetensors');
    } finally {
      opt.dispose();
    }
    for (const name of expected.keys())
      if (!seen.has(name)) tensors[name] = fail('no output of this kind corresponds to this fixture tensor');
    notes.push(
      `${family} + ${seg.context_learner?.name ?? 'none'} depth ${seg.context_learner?.depth ?? 0}, quirks reference, ${count} trainable values`,
    );
    return { tensors, notes };
  } finally {
    seg.zeroGrad();
    seg.dispose();
    for (const m of files.values()) dispose([...m.values()]);
    dispose([...inputs.values()]);
  }
}

/** Every `<model>/learners/<learner>-d<depth>/` folder: case.json with wrapper_class and context_learner. */
export const learnerKind: CaseKind = {
  name: 'learner',
  matches(dir, cj) {
    return (
      cj !== null &&
      typeof cj.wrapper_class === 'string' &&
      typeof cj.context_learner === 'object' &&
      cj.context_learner !== null &&
      existsSync(join(dir, 'params_init.safetensors'))
    );
  },
  run(dir, cj) {
    return runLearnerCase(dir, cj ?? {});
  },
};
