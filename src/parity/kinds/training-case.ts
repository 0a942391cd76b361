// Reading a `training` case (fixtures README, "training"): its fields, tolerances and files,
// each checked with an error that names the case file and the field. The kind itself
// (training.ts) runs the trainer's step logic over what this returns.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Tolerance } from '../compare.js';

type Json = Record<string, unknown>;

export interface TrainingCase {
  caseFile: string;
  learner: string;
  depth: number;
  wrapper: string;
  wrapperKwargs: Json;
  /** the reference learner kwargs (`options`, with `class`) */
  section: Json;
  initializerIds: number[] | number[][] | null;
  /** the base model's folder, resolved against the case folder */
  baseDir: string;
  lr: number;
  /** the configured weight decay (the yaml's; 0 means torch's default on every tensor, quirk 19) */
  weightDecay: number;
  betas: [number, number];
  eps: number;
  accumulate: number;
  steps: number;
  /** DiceCE weights of the module's loss_fn */
  loss: { lambdaDice: number; lambdaCe: number };
  /** `trainer.micro_batch_sizes` when the case lists them (checked against batches.safetensors) */
  microBatchSizes: number[] | null;
  /** reference optimizer groups, as listed */
  paramGroups: { trainableNames: string[]; lr: number; weightDecay: number; betas: [number, number]; eps: number; amsgrad: boolean }[];
  lrPerStep: number[][];
  trainable: { name: string; shape: number[] }[];
  numTrainable: number | null;
  withoutGrad: Set<string>;
  tol: {
    loss: Tolerance;
    lr: Tolerance;
    grads: Tolerance;
    params: { atol: number; rtol: number; epsSensitiveThreshold: number | null; epsSensitiveLrFactor: number | null };
    /** tensors without a gradient against params_init (the README: bit for bit) */
    paramsWithoutGrad: Tolerance;
    logits: (key: string) => Tolerance;
  };
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a training case.json; every missing or malformed field is an error naming it. */
export function readTrainingCase(dir: string, cj: Json): TrainingCase {
  const caseFile = join(dir, 'case.json');
  const field = (path: string): unknown => path.split('.').reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), cj);
  const bad = (path: string, expected: string): Error =>
    new Error(`${caseFile}: field "${path}": expected ${expected}, got ${JSON.stringify(field(path)) ?? 'nothing'}`);
  const num = (path: string): number => {
    const v = field(path);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(path, 'a number');
    return v;
  };
  const int = (path: string, min: number): number => {
    const v = field(path);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw bad(path, `an integer >= ${min}`);
    return v;
  };
  const str = (path: string): string => {
    const v = field(path);
    if (typeof v !== 'string' || v === '') throw bad(path, 'a non-empty string');
    return v;
  };
  const obj = (path: string): Json => {
    const v = field(path);
    if (!isObj(v)) throw bad(path, 'an object');
    return v;
  };
  const pair = (v: unknown, path: string): [number, number] => {
    if (!Array.isArray(v) || v.length !== 2 || v.some((x) => typeof x !== 'number')) throw bad(path, 'two numbers');
    return [v[0] as number, v[1] as number];
  };
  const names = (v: unknown, path: string): string[] => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(path, 'a list of parameter names');
    return v as string[];
  };
  // Tolerance keys may hold dots (`logits.mb0`): looked up in `tolerances` as they are.
  const tolerances = obj('tolerances');
  const tolerance = (key: string, rtolKey = 'rtol', mode?: Tolerance['mode']): Tolerance => {
    const t = tolerances[key];
    const atol = isObj(t) ? (t.atol ?? 0) : undefined,
      rtol = isObj(t) ? (t[rtolKey] ?? 0) : undefined;
    if (typeof atol !== 'number' || typeof rtol !== 'number') {
      throw new Error(
        `${caseFile}: field "tolerances" key "${key}": expected {atol, ${rtolKey}} numbers, got ${JSON.stringify(t) ?? 'nothing'}`,
      );
    }
    return { atol, rtol, ...(mode ? { mode } : {}) };
  };

  // The base model: a folder relative to the case, its files' hashes checked when given.
  const baseDir = resolve(dir, str('base_model.dir'));
  if (!existsSync(baseDir) || !statSync(baseDir).isDirectory())
    throw new Error(`${caseFile}: field "base_model.dir": ${baseDir} is not a folder`);
  const hashes = field('base_model.sha256');
  if (hashes !== undefined) {
    if (!isObj(hashes)) throw bad('base_model.sha256', 'an object mapping file names to sha256 hex digests');
    for (const [f, want] of Object.entries(hashes)) {
      const file = join(baseDir, f);
      if (!existsSync(file)) throw new Error(`${caseFile}: field "base_model.sha256": ${file} not found`);
      const got = createHash('sha256').update(readFileSync(file)).digest('hex');
      if (got !== want)
        throw new Error(
          `${caseFile}: base model file ${file} has sha256 ${got}, the case expects ${String(want)} (another base model than the one the case was made with)`,
        );
    }
  }

  const wd = field('weight_decay');
  const weightDecay = typeof wd === 'number' ? wd : num('weight_decay.config');
  const defaults = isObj(field('optimizer.defaults')) ? 'optimizer.defaults' : 'optimizer.param_groups.0';
  const groupsRaw = field('optimizer.param_groups');
  if (!Array.isArray(groupsRaw) || groupsRaw.length === 0) throw bad('optimizer.param_groups', 'a non-empty list of groups');
  const paramGroups = groupsRaw.map((g, k) => {
    const p = `optimizer.param_groups.${k}`;
    if (!isObj(g)) throw bad(p, 'an object');
    const num1 = (key: string): number => {
      if (typeof g[key] !== 'number') throw bad(`${p}.${key}`, 'a number');
      return g[key];
    };
    return {
      trainableNames: names(g.trainable_names, `${p}.trainable_names`),
      lr: num1('lr'),
      weightDecay: num1('weight_decay'),
      betas: pair(g.betas, `${p}.betas`),
      eps: num1('eps'),
      amsgrad: g.amsgrad === true,
    };
  });
  const lrRaw = field('lr_per_step');
  if (!Array.isArray(lrRaw) || lrRaw.some((r) => !Array.isArray(r) || r.some((x) => typeof x !== 'number')))
    throw bad('lr_per_step', 'a list (per step) of lists (per group) of numbers');
  const trainableRaw = field('trainable_parameters');
  if (!Array.isArray(trainableRaw) || trainableRaw.some((p) => !isObj(p) || typeof p.name !== 'string' || !Array.isArray(p.shape))) {
    throw bad('trainable_parameters', 'a list of {name, shape}');
  }

  // The params rule: |p - p_ref| <= atol + rtol·|p_ref|, or atol + c·lr·K where 0 < |g1| < threshold.
  const ptol = obj('tolerances.params');
  let epsSensitiveLrFactor: number | null = null;
  if (ptol.eps_sensitive_bound !== undefined) {
    const m = /^\s*atol\s*\+\s*([0-9.]+(?:e[-+]?\d+)?)\s*\*\s*lr\s*\*\s*K\s*$/i.exec(String(ptol.eps_sensitive_bound));
    if (!m) throw bad('tolerances.params.eps_sensitive_bound', 'a bound of the form "atol + c*lr*K"');
    epsSensitiveLrFactor = Number(m[1]);
  }
  const thr = ptol.eps_sensitive_grad_threshold;
  if (thr !== undefined && typeof thr !== 'number') throw bad('tolerances.params.eps_sensitive_grad_threshold', 'a number');
  if ((thr === undefined) !== (epsSensitiveLrFactor === null)) {
    throw new Error(`${caseFile}: field "tolerances.params": eps_sensitive_grad_threshold and eps_sensitive_bound go together`);
  }
  const initIds = field('context_initializer_token_ids');
  return {
    caseFile,
    learner: str('learner'),
    depth: int('depth', 1),
    wrapper: str('wrapper_class'),
    wrapperKwargs: obj('wrapper_kwargs'),
    section: obj('options'),
    initializerIds: Array.isArray(initIds) ? (initIds as number[] | number[][]) : null,
    baseDir,
    lr: num('lr'),
    weightDecay,
    betas: pair(field(`${defaults}.betas`), `${defaults}.betas`),
    eps: num(`${defaults}.eps`),
    accumulate: int('accumulate', 1),
    steps: int('steps', 1),
    loss: {
      lambdaDice: typeof field('module.loss_fn.lambda_dice') === 'number' ? num('module.loss_fn.lambda_dice') : 1,
      lambdaCe: typeof field('module.loss_fn.lambda_ce') === 'number' ? num('module.loss_fn.lambda_ce') : 0.2,
    },
    paramGroups,
    microBatchSizes: (() => {
      const v = field('trainer.micro_batch_sizes');
      if (v === undefined) return null;
      if (!Array.isArray(v) || v.some((x) => !Number.isInteger(x))) throw bad('trainer.micro_batch_sizes', 'a list of integers');
      return v as number[];
    })(),
    lrPerStep: lrRaw as number[][],
    trainable: trainableRaw as { name: string; shape: number[] }[],
    numTrainable: typeof cj.num_trainable_parameters === 'number' ? cj.num_trainable_parameters : null,
    withoutGrad: new Set(names(field('trainable_parameters_without_grad') ?? [], 'trainable_parameters_without_grad')),
    tol: {
      loss: tolerance('loss'),
      lr: tolerance('lr'),
      grads: tolerance('grads_step1', 'rtol_of_tensor_max', 'tensorMax'),
      params: {
        atol: num('tolerances.params.atol'),
        rtol: num('tolerances.params.rtol'),
        epsSensitiveThreshold: (thr as number | undefined) ?? null,
        epsSensitiveLrFactor,
      },
      paramsWithoutGrad: 'params_without_grad' in tolerances ? tolerance('params_without_grad') : { atol: 0, rtol: 0 },
      logits: (key) => {
        const k = key in tolerances ? key : 'logits' in tolerances ? 'logits' : null;
        if (k === null) throw new Error(`${caseFile}: field "tolerances": no tolerance for "${key}" (nor "logits")`);
        return tolerance(k);
      },
    },
  };
}
