/**
 * `buildSegmenter(config)`: a typed, zod-validated model config -> a ready `Segmenter`
 * (PromptedSegmenter for CLIPSeg, PromptedCris for CRIS), and `loadTuned(checkpoint, base?)`:
 * a tuned checkpoint back onto its base model, refusing a different base model or learner
 * configuration. The trainer's CLI passes its `model` config section here (docs/learners.md).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { loadSafetensors, dispose, noGrad } from '../torch/index.js';
import { readSafetensorsHeader } from '../torch/safetensors.js';
import {
  CLIPSegForImageSegmentation, CLIPSEG_PRESETS, clipsegConfigToJson, readClipsegConfig, type CLIPSegConfig,
} from '../models/clipseg/index.js';
import { ClipTokenizer } from '../models/clip/tokenizer.js';
import { CRIS, crisRn50, crisTiny, loadCris, parseCrisConfig, type CrisConfig } from '../models/cris/index.js';
import { LEARNER_NAMES, LearnerConfigError } from '../learners/types.js';
import { formatIssues } from '../learners/base.js';
import { PromptedSegmenter, clipsegDepthLimit, type BaseModelInfo } from './clipseg.js';
import { PromptedCris, crisDepthLimit } from './cris.js';

// ------------------------------------------------------------------------------- schema

const posInt = z.number().int().positive();

/** Learner options (see src/learners); absent keys take the learner's (yaml) defaults. */
export const learnerOptionKeys = [
  'depth', 'numContext', 'vectorStd', 'contextInitializer', 'contextInitializerIds', 'intermediateDim', 'useProjNorm', 'useLoraProj',
  'useUnifiedProjection', 'normImageFeatures', 'sharedDim', 'heads', 'feedforward', 'dropout', 'normFirst', 'activation', 'layerNormEps',
] as const;

export const segmenterConfigSchema = z.object({
  /**
   * The base model: 'clipseg' (= CIDAS/clipseg-rd64-refined), 'cris' (needs randomWeights or a
   * converted folder), a preset name (rd64-refined, rd64, cris-rn50, cris-tiny), a local folder
   * (config.json + model.safetensors), or a hub repo id org/name[@revision].
   */
  model: z.string().min(1).default('clipseg'),
  /** Learner name, or 'none' (no prompts). */
  learner: z.enum([...LEARNER_NAMES, 'none']).default('vpt'),
  depth: posInt.optional(),
  numContext: posInt.optional(),
  vectorStd: z.number().positive().optional(),
  contextInitializer: z.union([z.string().min(1), z.array(z.string().min(1)).min(1), z.null()]).optional(),
  contextInitializerIds: z.union([z.array(z.number().int().nonnegative()).min(1), z.array(z.array(z.number().int().nonnegative()).min(1)).min(1)]).optional(),
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
  /** The learnable upsampler (reference use_new_last_layer). */
  useNewLastLayer: z.boolean().default(true),
  newLastLayerKernelSize: posInt.default(5),
  residualRatio: z.number().default(0.5),
  /** Without the upsampler: also train the model's last layer. */
  noFreezeLastLayer: z.boolean().default(false),
  /** Train everything, the base model too. */
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
}).strict();

export type SegmenterConfigInput = z.input<typeof segmenterConfigSchema>;
export type SegmenterConfig = z.output<typeof segmenterConfigSchema>;
export type TunedSegmenter = PromptedSegmenter | PromptedCris;

export class SegmenterConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SegmenterConfigError';
  }
}

/** Validates a model config (errors name every bad key). */
export function parseSegmenterConfig(raw: unknown, where = 'model config'): SegmenterConfig {
  const r = segmenterConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new SegmenterConfigError(formatIssues(r.error.issues as never, where));
  return r.data;
}

// --------------------------------------------------------------------------- base models

const CLIPSEG_ALIASES: Record<string, string> = {
  clipseg: 'CIDAS/clipseg-rd64-refined',
  'rd64-refined': 'CIDAS/clipseg-rd64-refined',
  'clipseg-rd64-refined': 'CIDAS/clipseg-rd64-refined',
  rd64: 'CIDAS/clipseg-rd64',
  'clipseg-rd64': 'CIDAS/clipseg-rd64',
};
const CRIS_PRESETS: Record<string, () => CrisConfig> = {
  cris: () => crisRn50({ dropout: 0 }),
  'cris-rn50': () => crisRn50({ dropout: 0 }),
  'cris-tiny': crisTiny,
};

type BaseSource =
  | { family: 'clipseg'; dir: string | null; config: CLIPSegConfig; id: string; inputSize?: number }
  | { family: 'cris'; dir: string | null; config: CrisConfig; id: string };

function sha256(s: string | Uint8Array): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * A content fingerprint of a weights file: sha256 over its size, its header and 64 evenly
 * spaced 64 KiB blocks of the data (reads ~4 MiB whatever the file size; two checkpoints of the
 * same architecture with different weights differ in every sampled block).
 */
export function fingerprintWeights(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const h = createHash('sha256');
    h.update(`size:${size};`);
    const { dataStart } = readSafetensorsHeader(file);
    const head = Buffer.alloc(dataStart);
    readSync(fd, head, 0, dataStart, 0);
    h.update(head);
    const block = 64 * 1024, blocks = 64;
    const dataLen = size - dataStart;
    const buf = Buffer.alloc(block);
    for (let i = 0; i < blocks; i++) {
      const off = dataStart + Math.floor((Math.max(0, dataLen - block) * i) / (blocks - 1 || 1));
      const n = readSync(fd, buf, 0, Math.min(block, size - off), off);
      h.update(buf.subarray(0, n));
    }
    return `sha256-sampled:${h.digest('hex')}`;
  } finally {
    closeSync(fd);
  }
}

function readModelType(dir: string): string {
  const p = join(dir, 'config.json');
  if (!existsSync(p)) throw new SegmenterConfigError(`model folder ${dir} has no config.json (expected a CLIPSeg folder or a CRIS folder from \`tunevlseg convert\`)`);
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new SegmenterConfigError(`${p} is not valid JSON: ${(e as Error).message}`);
  }
  const t = (obj as { model_type?: unknown }).model_type;
  if (t !== 'clipseg' && t !== 'cris') throw new SegmenterConfigError(`${p}: model_type must be "clipseg" or "cris", got ${JSON.stringify(t)}`);
  return t;
}

function folderSource(dir: string, id: string): BaseSource {
  const t = readModelType(dir);
  if (t === 'clipseg') return { family: 'clipseg', dir, config: readClipsegConfig(join(dir, 'config.json')), id };
  return { family: 'cris', dir, config: parseCrisConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json')), id };
}

async function resolveBase(cfg: SegmenterConfig): Promise<BaseSource> {
  const m = cfg.model;
  const local = resolve(m);
  if (existsSync(local) && statSync(local).isDirectory()) return folderSource(local, m);
  const crisPreset = CRIS_PRESETS[m];
  if (crisPreset) {
    if (!cfg.randomWeights) {
      throw new SegmenterConfigError(`model "${m}": CRIS weights are not on the hub; convert a checkpoint (\`tunevlseg convert cris_best.pth --to weights/cris\`) ` +
        'and give that folder as model, or set randomWeights: true');
    }
    return { family: 'cris', dir: null, config: crisPreset(), id: m };
  }
  const hubId = CLIPSEG_ALIASES[m] ?? m;
  const preset = CLIPSEG_PRESETS[hubId];
  if (cfg.randomWeights) {
    if (!preset) throw new SegmenterConfigError(`model "${m}": randomWeights needs a preset (clipseg, rd64-refined, rd64, cris-rn50, cris-tiny) or a folder with config.json`);
    return { family: 'clipseg', dir: null, config: preset.config(), id: hubId, inputSize: preset.inputSize };
  }
  const { resolveModelSource } = await import('../hub/index.js');
  const dir = await resolveModelSource(hubId, cfg.offline !== undefined ? { offline: cfg.offline } : {});
  const src = folderSource(dir, hubId);
  if (src.family === 'clipseg' && preset) return { ...src, inputSize: preset.inputSize };
  return src;
}

async function loadTokenizer(cfg: SegmenterConfig, dir: string | null): Promise<ClipTokenizer | null> {
  if (cfg.tokenizer) {
    const local = resolve(cfg.tokenizer);
    let tdir = local;
    if (!(existsSync(local) && statSync(local).isDirectory())) {
      const { resolveModelSource } = await import('../hub/index.js');
      tdir = await resolveModelSource(cfg.tokenizer, { files: ['vocab.json', 'merges.txt'], ...(cfg.offline !== undefined ? { offline: cfg.offline } : {}) });
    }
    return ClipTokenizer.fromDir(tdir);
  }
  if (dir && (existsSync(join(dir, 'vocab.json')) || existsSync(join(dir, 'tokenizer.json')))) return ClipTokenizer.fromDir(dir);
  return null;
}

/** The learner options present in the config (the learner's schema checks they apply to it). */
function learnerOptionsOf(cfg: SegmenterConfig): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of learnerOptionKeys) if (cfg[k] !== undefined) o[k] = cfg[k];
  return o;
}

/** JSON of the config with its defaults (what describe() records and loadTuned rebuilds from). */
function configJson(cfg: SegmenterConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) if (v !== undefined && k !== 'device' && k !== 'offline') out[k] = v;
  return out;
}

/**
 * Builds a ready segmenter from a model config (the trainer's `model` section). Base weights come
 * from a local folder (CLIPSegForImageSegmentation.fromPretrained / loadCris) or the hub cache.
 */
export async function buildSegmenter(raw: SegmenterConfigInput | Record<string, unknown> = {}): Promise<TunedSegmenter> {
  const cfg = parseSegmenterConfig(raw);
  const src = await resolveBase(cfg);
  const tokenizer = await loadTokenizer(cfg, src.dir);
  const learnerOptions = learnerOptionsOf(cfg);
  const common = {
    learner: cfg.learner, learnerOptions, quirks: cfg.quirks, useNewLastLayer: cfg.useNewLastLayer,
    newLastLayerKernelSize: cfg.newLastLayerKernelSize, residualRatio: cfg.residualRatio, noFreezeLastLayer: cfg.noFreezeLastLayer,
    e2e: cfg.e2e, frozenCacheBytes: Math.round(cfg.frozenCacheMb * 1024 * 1024), factoryConfig: configJson(cfg),
  };
  let seg: TunedSegmenter;
  if (src.family === 'clipseg') {
    const configHash = sha256(JSON.stringify(clipsegConfigToJson(src.config)));
    let model: CLIPSegForImageSegmentation;
    let base: BaseModelInfo;
    if (src.dir && !cfg.randomWeights) {
      model = CLIPSegForImageSegmentation.fromPretrained(src.dir);
      base = { id: src.id, fingerprint: fingerprintWeights(join(src.dir, 'model.safetensors')), configHash };
    } else {
      model = noGrad(() => new CLIPSegForImageSegmentation(src.config));
      model.eval();
      base = { id: src.id, fingerprint: `random:${configHash.slice(0, 16)}`, configHash };
    }
    if (cfg.imageSize === undefined && src.dir === null && 'inputSize' in src && src.inputSize) cfg.imageSize = src.inputSize;
    try {
      seg = new PromptedSegmenter(model, { ...common, tokenizer: tokenizer ?? model.tokenizer, base, ...(cfg.imageSize ? { imageSize: cfg.imageSize } : {}) });
    } catch (e) {
      model.dispose();
      throw e;
    }
  } else {
    if (cfg.imageSize !== undefined && cfg.imageSize !== src.config.imgSize) {
      throw new SegmenterConfigError(`imageSize ${cfg.imageSize}: CRIS runs at its config's imgSize ${src.config.imgSize} (set it when converting the checkpoint)`);
    }
    const configHash = sha256(JSON.stringify(src.config));
    let model: CRIS;
    let base: BaseModelInfo;
    if (src.dir && !cfg.randomWeights) {
      model = loadCris(src.dir);
      base = { id: src.id, fingerprint: fingerprintWeights(join(src.dir, 'model.safetensors')), configHash };
    } else {
      model = noGrad(() => new CRIS(src.config));
      base = { id: src.id, fingerprint: `random:${configHash.slice(0, 16)}`, configHash };
    }
    try {
      seg = new PromptedCris(model, { ...common, tokenizer, base });
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  if (cfg.device && cfg.device !== 'cpu') seg.to(cfg.device);
  return seg;
}

// ------------------------------------------------------------------------ tuned checkpoints

export class TunedCheckpointError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'TunedCheckpointError';
  }
}

export interface TunedCheckpointInfo {
  /** describe() of the segmenter that was saved. */
  segmenter: Record<string, unknown>;
  /** The factory config it was built from. */
  config: Record<string, unknown>;
  /** Every metadata string of the file. */
  metadata: Record<string, string>;
}

/** Reads a tuned checkpoint's metadata (header only): the segmenter description and the factory config. */
export function readTunedCheckpoint(file: string): TunedCheckpointInfo {
  if (!existsSync(file)) throw new TunedCheckpointError(file, 'no such checkpoint file');
  const { metadata } = readSafetensorsHeader(file);
  const json = (k: string): Record<string, unknown> | null => {
    const v = metadata[k];
    if (v === undefined) return null;
    try {
      return JSON.parse(v) as Record<string, unknown>;
    } catch (e) {
      throw new TunedCheckpointError(file, `metadata "${k}" is not valid JSON: ${(e as Error).message}`);
    }
  };
  const segmenter = json('segmenter');
  if (!segmenter || segmenter.kind !== 'prompted') {
    throw new TunedCheckpointError(file, 'not a tuned prompted-segmenter checkpoint (no "segmenter" metadata of kind "prompted")');
  }
  const config = (segmenter.config as Record<string, unknown> | undefined) ?? json('model');
  if (!config) throw new TunedCheckpointError(file, 'the checkpoint records no model config to rebuild the segmenter from');
  return { segmenter, config, metadata };
}

const stable = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
  ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
  : x));

/** Keys whose values differ between two flat records. */
function diffKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => stable(a[k]) !== stable(b[k])).sort();
}

/**
 * Rebuilds the segmenter a tuned checkpoint was trained with (its recorded factory config) on
 * `baseModel` (default: the recorded base) and loads its learnable tensors. Fails clearly when
 * the base model's weights differ from those the checkpoint was tuned on, or when the rebuilt
 * learner / wrapper configuration differs from the recorded one.
 */
export async function loadTuned(ckptPath: string, baseModel?: string, overrides: Partial<SegmenterConfigInput> = {}): Promise<{ segmenter: TunedSegmenter; info: TunedCheckpointInfo }> {
  const info = readTunedCheckpoint(ckptPath);
  const config = { ...info.config, ...overrides, ...(baseModel !== undefined ? { model: baseModel } : {}) };
  const seg = await buildSegmenter(config);
  try {
    const got = seg.describe();
    const want = info.segmenter;
    const gb = got.base as BaseModelInfo, wb = (want.base ?? {}) as Partial<BaseModelInfo>;
    if (wb.fingerprint !== undefined && gb.fingerprint !== wb.fingerprint) {
      throw new TunedCheckpointError(ckptPath, `it was tuned on base model "${wb.id}" (fingerprint ${wb.fingerprint}), but "${gb.id}" has different weights ` +
        `(fingerprint ${gb.fingerprint}): a tuned checkpoint only fits the base model it was trained on`);
    }
    if (want.family !== undefined && want.family !== got.family) {
      throw new TunedCheckpointError(ckptPath, `it was tuned on a ${String(want.family)} model, "${gb.id}" is ${String(got.family)}`);
    }
    const wl = (want.learner ?? {}) as Record<string, unknown>, gl = got.learner as Record<string, unknown>;
    const ld = diffKeys(wl, gl);
    if (ld.length) {
      throw new TunedCheckpointError(ckptPath, `learner configuration differs from the checkpoint's: ${ld.map((k) => `${k} ${stable(wl[k])} (checkpoint) vs ${stable(gl[k])}`).join('; ')}`);
    }
    const wrapperKeys = ['quirks', 'useNewLastLayer', 'newLastLayerKernelSize', 'noFreezeLastLayer', 'e2e', 'imageSize', 'architecture'];
    const wd = wrapperKeys.filter((k) => want[k] !== undefined && stable(want[k]) !== stable(got[k]));
    if (wd.length) {
      throw new TunedCheckpointError(ckptPath, `segmenter configuration differs from the checkpoint's: ${wd.map((k) => `${k} ${stable(want[k])} (checkpoint) vs ${stable(got[k])}`).join('; ')}`);
    }
    const { tensors } = loadSafetensors(ckptPath);
    try {
      seg.loadLearnableState(tensors, ckptPath);
    } finally {
      dispose([...tensors.values()]);
    }
    return { segmenter: seg, info };
  } catch (e) {
    seg.dispose();
    throw e;
  }
}

export { LearnerConfigError };

/**
 * The deepest prompt the config's base model takes, read from its config alone (no weights are
 * loaded): what `sweep` clamps its depth range to before any trial runs.
 */
export async function promptDepthLimit(raw: SegmenterConfigInput | Record<string, unknown>): Promise<{ maxDepth: number; maxDepthWhy: string }> {
  const src = await resolveBase(parseSegmenterConfig(raw));
  return src.family === 'clipseg' ? clipsegDepthLimit(src.config) : crisDepthLimit(src.config);
}
