/**
 * The training configuration: one zod schema with every default, loaded from a YAML/JSON file
 * and overridden by command-line flags. Errors name the key (`config key "lr": ...`) and where
 * the bad value came from (the file or the flag).
 *
 * Every leaf key has a flag: the key path in kebab case, dots as dashes (`lr` -> `--lr`,
 * `data.dir` -> `--data-dir`, `earlyStopping.minDelta` -> `--early-stopping-min-delta`).
 * `model` is free-form (the segmenter factory validates it): `--model key=value` sets
 * `model.key`, and `--set a.b=value` sets any key. Flag values are parsed as YAML scalars/flow
 * collections (`--betas "[0.9, 0.99]"`, `--override-prompt null`); string keys keep the text.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { SPLITS } from '../data/format.js';
import { defaultSeed, defaultWeightDecay, quirksOfModel } from './reference-defaults.js';
import { isLearnerName, learnerEntry } from '../learners/registry.js';
import type { LossInput } from '../inference/loss.js';

import { PRECISIONS, TF32_MODES } from '../inference/precision-modes.js';
/** What DiceCELoss receives (src/inference/loss.ts `LossInput`). */
export const LOSS_INPUTS = ['logits', 'probabilities'] as const satisfies readonly LossInput[];
/**
 * What early stopping watches: the validation loss (minimised: TuneVLSeg's `val_loss`) or the
 * checkpoint-selection Dice (maximised: VLSM-Adapter's `val/dice_epoch`).
 */
export const EARLY_STOPPING_MONITORS = ['val_loss', 'val_dice'] as const;
export type EarlyStoppingMonitor = (typeof EARLY_STOPPING_MONITORS)[number];

const positive = () => z.number().positive().refine(Number.isFinite, 'expected a finite number');
const prob = () => z.number().min(0).max(1);

export const augmentSchema = z
  .object({
    /** Probability of each transform (affine; brightness/contrast) per sample; 0 disables augmentation. */
    p: prob().default(0.2),
    scale: z.tuple([positive(), positive()]).default([0.98, 1.02]),
    translate: z.number().min(0).max(0.5).default(0.02),
    rotate: z.number().min(0).max(180).default(5),
    brightness: z.number().min(0).max(1).default(0.1),
    contrast: z.number().min(0).max(1).default(0.1),
    /** Brightness shift by the maximum (true) or by α·mean (false); null: by the quirks mode (reference: true, quirk 20). */
    brightnessByMax: z.boolean().nullable().default(null),
    /** One scale factor (true) or independent x/y scales (false); null: by the quirks mode (reference: false, quirk 20). */
    keepRatio: z.boolean().nullable().default(null),
    imageInterpolation: z.enum(['bicubic', 'bilinear']).default('bicubic'),
    maskInterpolation: z.enum(['nearest', 'bilinear']).default('nearest'),
  })
  .strict();

export const trainConfigSchema = z
  .object({
    /** Run name: the run folder is `<runsDir>/<name>`. Default: `<dataset folder name>-<timestamp>`. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, 'expected letters, digits, ".", "_" or "-" (it names a folder)')
      .refine((s) => s !== '.' && s !== '..', 'expected a folder name')
      .optional(),
    runsDir: z.string().min(1).default('runs'),
    /** null: by the quirks mode (`reference`: 12345, the original's experiment configs; `fixed`: 0). */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .nullable()
      .default(null),
    /** "auto" (where the segmenter's parameters are), "cpu", "cuda", "cuda:1"... */
    device: z
      .string()
      .regex(/^(auto|cpu|cuda(:\d+)?)$/, 'expected auto, cpu, cuda or cuda:<n>')
      .default('auto'),
    /** 32, 16-mixed (CUDA: float16 autocast + loss scaling) or bf16-mixed (CUDA or CPU: bfloat16 autocast). */
    precision: z.enum(PRECISIONS).default('32'),
    /** TF32 math for float32 CUDA matmuls and cuDNN convolutions: on, off, or auto (libtorch's defaults: matmul off, cuDNN on). */
    tf32: z.enum(TF32_MODES).default('auto'),
    /** Passed to the segmenter factory as is (base model, learner and its options...). */
    model: z.record(z.string(), z.unknown()).default({}),
    data: z
      .object({
        dir: z.string().min(1),
        trainSplit: z.enum(SPLITS).default('train'),
        valSplit: z.enum(SPLITS).default('val'),
        /**
         * null: no test evaluation. A missing test split file is skipped with a note, except where
         * the dataset says the original tests on another split (dataset.json `reference.testSplit`,
         * VOC and Cityscapes: val) and quirks is reference: then that split is the test set.
         */
        testSplit: z.enum(SPLITS).nullable().default('test'),
        /**
         * Augment val and test inputs with the training augmentation. null: as the original's data
         * config for the dataset (dataset.json `reference.evalTransforms`: VOC and Cityscapes) with
         * quirks reference, else no.
         */
        evalAugment: z.boolean().nullable().default(null),
        promptKey: z.string().min(1).default('p1'),
        overridePrompt: z.string().nullable().default(null),
        appendFullStop: z.boolean().default(true),
        /** Model input side; null: the segmenter's `info.imageSize`. */
        imageSize: z.number().int().positive().nullable().default(null),
        /** Loader worker threads; null: cores (at most 4); 0: main thread. */
        workers: z.number().int().min(0).nullable().default(null),
      })
      .strict(),
    /**
     * Samples per forward/backward pass; null: 8, or one pass per step (effectiveBatchSize) when
     * the model's BatchNorms use batch statistics in training (CRIS with quirks: reference).
     */
    batchSize: z.number().int().positive().nullable().default(null),
    /** Samples per optimizer step (gradient accumulation over batchSize-sized passes); a multiple of batchSize. */
    effectiveBatchSize: z.number().int().positive().default(32),
    /** Batch size for validation/test; null: the pass size. */
    evalBatchSize: z.number().int().positive().nullable().default(null),
    minEpochs: z.number().int().min(0).default(10),
    maxEpochs: z.number().int().positive().default(20),
    lr: positive().default(2e-4),
    /**
     * AdamW decoupled weight decay, applied to the groups the segmenter marks as decayed
     * (Linear/Conv weights). With quirks: reference, 0 means torch's default 0.01 on every
     * trainable tensor that gets a gradient, as the original (quirk 19). null: by the quirks
     * mode (`reference`: 0, the original's experiment configs; `fixed`: 0.01).
     */
    weightDecay: z.number().min(0).refine(Number.isFinite, 'expected a finite number').nullable().default(null),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
    eps: positive().default(1e-8),
    /** Clip the global gradient norm to this value; null: no clipping. */
    gradClipNorm: positive().nullable().default(null),
    plateau: z
      .object({
        factor: z.number().gt(0).lt(1).default(0.2),
        patience: z.number().int().min(0).default(5),
        threshold: z.number().min(0).default(1e-4),
        minLr: z.number().min(0).default(0),
      })
      .strict()
      .prefault({}),
    earlyStopping: z
      .object({
        enabled: z.boolean().default(true),
        /** val_loss (mode min) or val_dice (mode max: the checkpoint-selection protocol's Dice). */
        monitor: z.enum(EARLY_STOPPING_MONITORS).default('val_loss'),
        /** Validations (not epochs, when valCheckInterval validates more often) without improvement. */
        patience: z.number().int().min(1).default(12),
        minDelta: z.number().min(0).default(1e-4),
      })
      .strict()
      .prefault({}),
    /**
     * When to validate (Lightning's `val_check_interval`): a fraction in (0, 1] of an epoch's
     * training passes, i.e. after every max(1, floor(passes x fraction))-th pass (0.5: twice per
     * epoch, and not after the last pass when that count does not divide the epoch), or a whole
     * number >= 2 of passes. 1: once per epoch, after its last pass. Early stopping, the best
     * checkpoint and ReduceLROnPlateau (at each epoch's end, on the latest validation) follow it.
     */
    valCheckInterval: z
      .number()
      .positive()
      .refine((v) => v <= 1 || Number.isInteger(v), 'expected a fraction in (0, 1] of an epoch or a whole number (>= 2) of training passes')
      .default(1),
    augment: augmentSchema.prefault({}),
    loss: z
      .object({
        lambdaDice: z.number().min(0).default(1),
        lambdaCe: z.number().min(0).default(0.2),
        /** What DiceCELoss receives: logits (TuneVLSeg) or sigmoid(logits) (VLSM-Adapter's double sigmoid, src/inference/loss.ts). */
        appliedTo: z.enum(LOSS_INPUTS).default('logits'),
      })
      .strict()
      .prefault({}),
    /** Probability threshold of the Dice/IoU metrics. */
    threshold: z.number().gt(0).lt(1).default(0.5),
    /** Also write a resume checkpoint every N optimizer steps inside an epoch (0: only at epoch ends). */
    checkpointEverySteps: z.number().int().min(0).default(0),
    /** Progress output: a bar (TTY), one line per epoch, or nothing. auto: bar on a TTY, else lines. */
    progress: z.enum(['auto', 'bar', 'lines', 'none']).default('auto'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.batchSize !== null && c.effectiveBatchSize % c.batchSize !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['effectiveBatchSize'],
        message: `must be a multiple of batchSize (${c.batchSize}), got ${c.effectiveBatchSize}`,
      });
    }
    if (c.minEpochs > c.maxEpochs) {
      ctx.addIssue({ code: 'custom', path: ['minEpochs'], message: `must not exceed maxEpochs (${c.maxEpochs}), got ${c.minEpochs}` });
    }
    if (c.augment.scale[0] > c.augment.scale[1]) {
      ctx.addIssue({ code: 'custom', path: ['augment', 'scale'], message: `expected [min, max], got [${c.augment.scale.join(', ')}]` });
    }
  });

export type TrainConfigInput = z.input<typeof trainConfigSchema>;
/** A resolved configuration (every default filled in, `name` set, `seed`/`weightDecay` resolved by the quirks mode). */
export type TrainConfig = Omit<z.output<typeof trainConfigSchema>, 'seed' | 'weightDecay'> & {
  name: string;
  seed: number;
  weightDecay: number;
};

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [],
  ) {
    super(issues.length ? `${message}:\n  ${issues.join('\n  ')}` : message);
    this.name = 'ConfigError';
  }
}

/** Where each key's value came from, for error messages (`--lr`, `config.yaml`). */
export type ConfigSources = Map<string, string>;

function describeIssue(issue: z.core.$ZodIssue, sources?: ConfigSources): string {
  let keyPath = issue.path.map(String).join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    return keys
      .map((k) => {
        const full = keyPath ? `${keyPath}.${k}` : k;
        const from = sources?.get(full) ?? [...(sources ?? new Map<string, string>())].find(([key]) => key.startsWith(`${full}.`))?.[1];
        return `config key "${full}": unknown key${from ? ` (from ${from})` : ''}`;
      })
      .join('\n  ');
  }
  if (keyPath === '') keyPath = '<root>';
  let from: string | undefined;
  for (let p = issue.path.map(String); p.length > 0 && from === undefined; p = p.slice(0, -1)) from = sources?.get(p.join('.'));
  if (issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined) message = `missing (required): ${message}`;
  return `config key "${keyPath}": ${message}${from ? ` (from ${from})` : ''}`;
}

function defaultName(dataDir: string): string {
  const base = path.basename(path.resolve(dataDir)).replace(/[^A-Za-z0-9._-]+/g, '-') || 'run';
  const d = new Date();
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${base}-${d.getFullYear()}${p2(d.getMonth() + 1)}${p2(d.getDate())}-${p2(d.getHours())}${p2(d.getMinutes())}${p2(d.getSeconds())}`;
}

/** `base` with every key of `over` laid on top (nested objects merged key by key; arrays replaced). */
function mergeUnder(base: Readonly<Record<string, unknown>>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...structuredClone(base) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
    out[k] = isObj(b) && isObj(v) ? mergeUnder(b, v) : v;
  }
  return out;
}

/**
 * The input laid over its learner's training recipe (the registry entry's `recipe` for the
 * model's quirks mode, e.g. VLSM-Adapter's lr, clipping and loss for the adapters): keys the
 * input gives win; learners without a recipe train with this schema's defaults.
 */
export function withLearnerRecipe(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const model = (input as { model?: unknown }).model;
  if (typeof model !== 'object' || model === null) return input;
  const { learner } = model as { learner?: unknown };
  if (!isLearnerName(learner)) return input;
  const recipe = learnerEntry(learner).recipe?.[quirksOfModel(model as Record<string, unknown>)];
  return recipe ? mergeUnder(recipe.config, input as Record<string, unknown>) : input;
}

/**
 * Validates and fills in a configuration (over the learner's recipe, then this schema's
 * defaults); throws a ConfigError naming every bad key.
 */
export function parseTrainConfig(input: unknown, sources?: ConfigSources): TrainConfig {
  input = withLearnerRecipe(input);
  // YAML reads `precision: 32` as a number; Lightning accepts it too.
  if (typeof input === 'object' && input !== null && (input as { precision?: unknown }).precision === 32)
    input = { ...input, precision: '32' };
  const r = trainConfigSchema.safeParse(input);
  if (!r.success)
    throw new ConfigError(
      'invalid training configuration',
      r.error.issues.map((i) => describeIssue(i, sources)),
    );
  const c = r.data;
  const quirks = quirksOfModel(c.model);
  return {
    ...c,
    name: c.name ?? defaultName(c.data.dir),
    seed: c.seed ?? defaultSeed(quirks),
    weightDecay: c.weightDecay ?? defaultWeightDecay(quirks),
  };
}

/** Reads a YAML or JSON configuration file (an object). */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read config file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let v: unknown;
  try {
    v = YAML.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid YAML/JSON: ${(e as Error).message}`);
  }
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${file}: expected a mapping of config keys at the top level`);
  return v as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------
// Leaf keys and flags

export type LeafKind = 'string' | 'number' | 'boolean' | 'enum' | 'array' | 'record';

export interface ConfigLeaf {
  /** dotted key path, e.g. `earlyStopping.minDelta` */
  key: string;
  /** the flag, e.g. `--early-stopping-min-delta` */
  flag: string;
  kind: LeafKind;
  nullable: boolean;
  choices?: readonly string[];
  defaultValue?: unknown;
}

type AnySchema = z.ZodType & {
  def: {
    type: string;
    innerType?: AnySchema;
    shape?: Record<string, AnySchema>;
    schema?: AnySchema;
    defaultValue?: unknown;
    entries?: Record<string, string>;
  };
};

function unwrap(s: AnySchema): { base: AnySchema; nullable: boolean; defaultValue?: unknown } {
  let cur = s;
  let nullable = false;
  let defaultValue: unknown;
  for (;;) {
    const t = cur.def.type;
    if (t === 'default' || t === 'prefault') {
      defaultValue ??= cur.def.defaultValue;
      cur = cur.def.innerType!;
    } else if (t === 'nullable') {
      nullable = true;
      cur = cur.def.innerType!;
    } else if (t === 'optional') cur = cur.def.innerType!;
    else if (t === 'pipe') cur = (cur.def as unknown as { in: AnySchema }).in;
    else return { base: cur, nullable, defaultValue };
  }
}

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function objectShape(s: AnySchema): Record<string, AnySchema> | undefined {
  const base = unwrap(s).base;
  return base.def.type === 'object' ? ((base as unknown as z.ZodObject).shape as unknown as Record<string, AnySchema>) : undefined;
}

/** Every leaf key of the schema with its flag (the `model` record is one leaf, set with --model k=v). */
export function configLeaves(schema: z.ZodType = trainConfigSchema): ConfigLeaf[] {
  const out: ConfigLeaf[] = [];
  const walk = (shape: Record<string, AnySchema>, prefix: string[]): void => {
    for (const [k, s] of Object.entries(shape)) {
      const keyPath = [...prefix, k];
      const inner = objectShape(s);
      if (inner) {
        walk(inner, keyPath);
        continue;
      }
      const { base, nullable, defaultValue } = unwrap(s);
      const t = base.def.type;
      const kind: LeafKind =
        t === 'string'
          ? 'string'
          : t === 'number'
            ? 'number'
            : t === 'boolean'
              ? 'boolean'
              : t === 'enum'
                ? 'enum'
                : t === 'record'
                  ? 'record'
                  : 'array';
      out.push({
        key: keyPath.join('.'),
        flag: `--${keyPath.map(kebab).join('-')}`,
        kind,
        nullable,
        ...(kind === 'enum' ? { choices: (base as unknown as z.ZodEnum).options as string[] } : {}),
        ...(defaultValue !== undefined ? { defaultValue } : {}),
      });
    }
  };
  walk(objectShape(schema as AnySchema) ?? {}, []);
  return out;
}

/** Parses a flag's text for a leaf: string-like keys keep the text ("null" is null when nullable). */
export function parseFlagValue(leaf: Pick<ConfigLeaf, 'kind' | 'nullable'> | undefined, raw: string): unknown {
  if (leaf && (leaf.kind === 'string' || leaf.kind === 'enum')) return leaf.nullable && raw === 'null' ? null : raw;
  try {
    const v: unknown = YAML.parse(raw);
    return v === undefined ? raw : v;
  } catch {
    return raw;
  }
}

/** Sets `obj[a][b]... = value` for a dotted key, creating objects on the way. */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur: Record<string, unknown> = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** A deep copy with `overrides` (dotted keys) applied. */
export function applyOverrides(base: Record<string, unknown>, overrides: [string, unknown][]): Record<string, unknown> {
  const out = structuredClone(base);
  for (const [k, v] of overrides) setKey(out, k, v);
  return out;
}

/**
 * Parses `key=value` assignments (from --set / --model). `prefix` is prepended to the key
 * (`model.`). Values are typed by the schema's leaf when the key is known, else parsed as YAML.
 */
export function parseAssignments(items: readonly string[], flag: string, prefix = ''): [string, unknown, string][] {
  const leaves = new Map(configLeaves().map((l) => [l.key, l]));
  return items.map((item) => {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${flag} ${item}: expected key=value`);
    const key = prefix + item.slice(0, eq).trim();
    return [key, parseFlagValue(leaves.get(key), item.slice(eq + 1)), `${flag} ${item}`];
  });
}

/** Key paths present in a (nested) object, for attributing values to their source. */
export function keyPaths(obj: unknown, prefix = ''): string[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return prefix ? [prefix] : [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && p !== 'model') out.push(p, ...keyPaths(v, p));
    else out.push(p);
  }
  return out;
}
