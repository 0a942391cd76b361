/**
 * The segmenter config (the trainer's `model` section, docs/learners.md): its zod schema, parsing
 * with errors that name every bad key, and the learner options it carries (every option of a
 * registered learner; the learner's own schema validates them).
 */
import { z } from 'zod';
import { formatIssues } from '../learners/options.js';
import { DEFAULT_LEARNER, LEARNER_NAMES, isLearnerName, learnerEntry, unknownLearnerMessage } from '../learners/registry.js';

const posInt = z.number().int().positive();

/**
 * Learner options: every option of a registered learner's schema (src/learners); absent keys take
 * the learner's (yaml) defaults. Options typed below are checked here too; the learner's own
 * schema checks the rest and refuses options that are not its own.
 */
export function learnerOptionKeys(): string[] {
  return [...new Set(LEARNER_NAMES.flatMap((n) => Object.keys(learnerEntry(n).schema.shape)))];
}

export const segmenterConfigSchema = z
  .object({
    /**
     * The base model: 'clipseg' (= CIDAS/clipseg-rd64-refined), 'cris' (needs randomWeights or a
     * converted folder), a preset name (rd64-refined, rd64, cris-rn50, cris-tiny), a local folder
     * (config.json + model.safetensors), or a hub repo id org/name[@revision].
     */
    model: z.string().min(1).default('clipseg'),
    /** Learner name, or 'none' (no prompts). */
    learner: z
      .string()
      .refine((l) => l === 'none' || isLearnerName(l), { error: (i) => unknownLearnerMessage(String(i.input), ['none']) })
      .default(DEFAULT_LEARNER),
    depth: posInt.optional(),
    numContext: posInt.optional(),
    vectorStd: z.number().positive().optional(),
    contextInitializer: z.union([z.string().min(1), z.array(z.string().min(1)).min(1), z.null()]).optional(),
    contextInitializerIds: z
      .union([z.array(z.number().int().nonnegative()).min(1), z.array(z.array(z.number().int().nonnegative()).min(1)).min(1)])
      .optional(),
    intermediateDim: z.union([posInt, z.array(posInt).min(1), z.null()]).optional(),
    useProjNorm: z.boolean().optional(),
    useLoraProj: z.boolean().optional(),
    useUnifiedProjection: z.boolean().optional(),
    normImageFeatures: z.boolean().optional(),
    sharedDim: posInt.optional(),
    heads: posInt.optional(),
    feedforward: posInt.optional(),
    dropout: z.number().min(0).max(1).optional(),
    normFirst: z.boolean().optional(),
    activation: z.enum(['relu', 'gelu']).optional(),
    layerNormEps: z.number().positive().optional(),
    /** 'reference' reproduces the original implementation's quirks; 'fixed' does what the paper says. */
    quirks: z.enum(['reference', 'fixed']).default('reference'),
    /** The learnable upsampler (reference use_new_last_layer); default: the learner's (true for the prompt learners, false for the adapters, LoRA and full_finetune). */
    useNewLastLayer: z.boolean().optional(),
    newLastLayerKernelSize: posInt.default(5),
    residualRatio: z.number().default(0.5),
    /** Without the upsampler: also train the model's last layer. */
    noFreezeLastLayer: z.boolean().default(false),
    /** Train everything, the base model too (always with learner full_finetune). */
    e2e: z.boolean().default(false),
    /** Build the architecture with random weights (no weights are read or downloaded). */
    randomWeights: z.boolean().default(false),
    /** Tokenizer folder or hub id (default: the model folder's; CRIS folders usually have none). */
    tokenizer: z.string().min(1).optional(),
    /** Square input side (CLIPSeg; default 352 for rd64). CRIS uses its config's imgSize. */
    imageSize: posInt.optional(),
    /** 'cpu' (default), 'cuda', 'cuda:N'. */
    device: z.string().min(1).optional(),
    /** MiB of frozen per-image features kept between calls (prompt-free encoder outputs; 0 = off). */
    frozenCacheMb: z.number().min(0).default(0),
    /** Hub: use only the local cache. */
    offline: z.boolean().optional(),
  })
  .strict();

export type SegmenterConfigInput = z.input<typeof segmenterConfigSchema>;
export type SegmenterConfig = z.output<typeof segmenterConfigSchema>;

export class SegmenterConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SegmenterConfigError';
  }
}

/** Validates a model config (errors name every bad key). */
export function parseSegmenterConfig(raw: unknown, where = 'model config'): SegmenterConfig {
  // Options that only a registered learner knows pass through to its schema (buildSegmenter).
  const own: Record<string, unknown> = {},
    learnerOnly: Record<string, unknown> = {};
  const known = new Set(learnerOptionKeys());
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    if (!(k in segmenterConfigSchema.shape) && known.has(k)) learnerOnly[k] = v;
    else own[k] = v;
  }
  const r = segmenterConfigSchema.safeParse(typeof raw === 'object' && raw !== null ? own : (raw ?? {}));
  if (!r.success) throw new SegmenterConfigError(formatIssues(r.error.issues as never, where));
  return { ...r.data, ...learnerOnly };
}

/** The learner options present in the config (the learner's schema checks they apply to it). */
export function learnerOptionsOf(cfg: SegmenterConfig): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const c = cfg as Record<string, unknown>;
  for (const k of learnerOptionKeys()) if (c[k] !== undefined) o[k] = c[k];
  return o;
}

/**
 * Keys that speed training up or say where it runs, but never change what a tuned model
 * computes: a checkpoint records none of them, and whatever rebuilds a model from a recorded
 * config for inference (export, predict, eval) drops them. `frozenCacheMb` above all: the cache
 * keys its entries by reading pixel values, which an ONNX trace cannot do, and an inference
 * process gains nothing from it.
 */
export const RUNTIME_ONLY_KEYS: readonly string[] = ['frozenCacheMb', 'device', 'offline'];

/** A model config without its runtime-only keys (RUNTIME_ONLY_KEYS): what inference rebuilds from. */
export function inferenceConfig<T extends Record<string, unknown>>(cfg: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) if (!RUNTIME_ONLY_KEYS.includes(k)) out[k] = v;
  return out as T;
}

/** JSON of the config with its defaults, less its runtime-only keys (what describe() records and loadTuned rebuilds from). */
export function configJson(cfg: SegmenterConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inferenceConfig(cfg as Record<string, unknown>))) if (v !== undefined) out[k] = v;
  return out;
}
