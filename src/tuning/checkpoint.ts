/**
 * Tuned checkpoints: the one module that reads, validates and loads them, for `train` (best
 * weights at the end), `eval`, `predict`, `bench` and `export`. src/train/checkpoint.ts writes them
 * (its header lists the metadata).
 *
 * Every load checks, before any tensor is copied, that the checkpoint fits the segmenter it goes
 * into: for a prompted segmenter the base model's weights fingerprint and family, the recorded
 * learner configuration (name, depth, every option) and the wrapper configuration (quirks mode,
 * upsampler, e2e, image size, architecture); for any other segmenter its `kind`. A mismatch is a
 * `TunedCheckpointError` naming the checkpoint file and the field. Then the learnable tensors load
 * strictly (names and shapes).
 *
 * API:
 *  - `readCheckpointMeta(file)`: the header's metadata (format checked), no tensors;
 *  - `loadCheckpoint(file, device?)`: tensors + metadata, unchecked (the caller owns the tensors);
 *  - `checkTunedFits(file, recorded, segmenter.describe())`: the validation alone;
 *  - `loadTunedInto(segmenter, file)`: validate + load into a segmenter you built;
 *  - `readTunedCheckpoint(file)`: the recorded describe() and factory config of a prompted checkpoint;
 *  - `loadTuned(file, baseModel?, overrides?, build?)`: rebuild the recorded segmenter and load it.
 */
import { existsSync } from 'node:fs';
import { dispose, loadSafetensors, tidy, type Tensor } from '../torch/index.js';
import { readSafetensorsHeader } from '../torch/safetensors.js';
import type { Segmenter } from './segmenter.js';
import type { BaseModelInfo } from './clipseg.js';
import { inferenceConfig, type SegmenterConfigInput } from './config.js';
import { parseJson } from '../util/json.js';
import { buildSegmenter, type BuildOptions, type TunedSegmenter } from './factory.js';

/** The `tunevlseg.format` of a tuned checkpoint. */
export const CHECKPOINT_FORMAT = 'checkpoint/1';

export class TunedCheckpointError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'TunedCheckpointError';
  }
}

// ---------------------------------------------------------------------------------------
// Reading

export interface CheckpointInfo {
  kind: string;
  /** The run's model config section (what `buildSegmenter` takes), or null. */
  model: Record<string, unknown> | null;
  metrics: Record<string, number | null>;
  /** Completed epochs (1-based; 0 = before training). */
  epoch: number;
  globalStep: number;
}

export interface CheckpointMeta extends CheckpointInfo {
  format: string;
  tunevlsegVersion: string;
  /** describe() of the segmenter that was saved. */
  segmenter: Record<string, unknown>;
}

function metaFrom(file: string, m: Record<string, string>): CheckpointMeta {
  const fmt = m['tunevlseg.format'];
  if (fmt === undefined)
    throw new TunedCheckpointError(file, 'not a tunevlseg checkpoint (no "tunevlseg.format" in the safetensors metadata)');
  if (fmt !== CHECKPOINT_FORMAT)
    throw new TunedCheckpointError(file, `unsupported checkpoint format "${fmt}" (this version reads "${CHECKPOINT_FORMAT}")`);
  const json = <T>(k: string, fallback: T): T => {
    const v = m[k];
    if (v === undefined) return fallback;
    try {
      return parseJson<T>(v);
    } catch (e) {
      throw new TunedCheckpointError(file, `metadata "${k}" is not valid JSON: ${(e as Error).message}`);
    }
  };
  return {
    format: fmt,
    tunevlsegVersion: m['tunevlseg.version'] ?? 'unknown',
    kind: m.kind ?? 'unknown',
    segmenter: json('segmenter', {}),
    model: json('model', null),
    metrics: json('metrics', {}),
    epoch: Number(m.epoch ?? 0),
    globalStep: Number(m.global_step ?? 0),
  };
}

/** The metadata of a checkpoint (reads the header only). */
export function readCheckpointMeta(file: string): CheckpointMeta {
  return metaFrom(file, readSafetensorsHeader(file).metadata);
}

/** The tensors and metadata of a checkpoint, not checked against any segmenter; the caller owns (disposes) the tensors. */
export function loadCheckpoint(file: string, device?: string): { state: Map<string, Tensor>; meta: CheckpointMeta } {
  const { tensors, metadata } = loadSafetensors(file, device ? { device } : {});
  try {
    return { state: tensors, meta: metaFrom(file, metadata) };
  } catch (e) {
    dispose([...tensors.values()]);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Validation

const stable = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );

/** Keys whose values differ between two flat records. */
function diffKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => stable(a[k]) !== stable(b[k])).sort();
}

/** Wrapper settings a prompted checkpoint records that change its tensors or their meaning. */
const WRAPPER_KEYS = ['quirks', 'useNewLastLayer', 'newLastLayerKernelSize', 'noFreezeLastLayer', 'e2e', 'imageSize', 'architecture'];

/**
 * Throws a `TunedCheckpointError` naming `file` and the field unless a checkpoint whose recorded
 * describe() is `want` fits a segmenter whose describe() is `got` (see the module header).
 */
export function checkTunedFits(file: string, want: Record<string, unknown>, got: Record<string, unknown>): void {
  if (want.kind !== undefined && want.kind !== got.kind) {
    throw new TunedCheckpointError(file, `it holds a ${String(want.kind)} segmenter, this one is ${String(got.kind)}`);
  }
  if (got.kind !== 'prompted') return;
  const gb = (got.base ?? {}) as Partial<BaseModelInfo>,
    wb = (want.base ?? {}) as Partial<BaseModelInfo>;
  if (wb.fingerprint !== undefined && gb.fingerprint !== wb.fingerprint) {
    throw new TunedCheckpointError(
      file,
      `it was tuned on base model "${wb.id}" (fingerprint ${wb.fingerprint}), but "${gb.id}" has different weights ` +
        `(fingerprint ${gb.fingerprint}): a tuned checkpoint only fits the base model it was trained on`,
    );
  }
  if (want.family !== undefined && want.family !== got.family) {
    throw new TunedCheckpointError(file, `it was tuned on a ${String(want.family)} model, "${gb.id}" is ${String(got.family)}`);
  }
  const wl = (want.learner ?? {}) as Record<string, unknown>,
    gl = (got.learner ?? {}) as Record<string, unknown>;
  const ld = diffKeys(wl, gl);
  if (ld.length) {
    throw new TunedCheckpointError(
      file,
      `learner configuration differs from the checkpoint's: ${ld.map((k) => `${k} ${stable(wl[k])} (checkpoint) vs ${stable(gl[k])}`).join('; ')}`,
    );
  }
  const wd = WRAPPER_KEYS.filter((k) => want[k] !== undefined && stable(want[k]) !== stable(got[k]));
  if (wd.length) {
    throw new TunedCheckpointError(
      file,
      `segmenter configuration differs from the checkpoint's: ${wd.map((k) => `${k} ${stable(want[k])} (checkpoint) vs ${stable(got[k])}`).join('; ')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// Loading

const FLOAT_DTYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/**
 * Refuses a checkpoint holding NaN or inf, naming the file and the tensor: loaded, it would make
 * every prediction NaN, i.e. empty masks written as if the model had found nothing.
 */
export function checkFiniteTensors(file: string, state: ReadonlyMap<string, Tensor>): void {
  for (const [key, t] of state) {
    if (!FLOAT_DTYPES.has(t.dtype)) continue;
    const finite = tidy(() => t.isfinite().all().item());
    if (finite) continue;
    const nan = tidy(() => t.isnan().sum().item());
    const inf = t.numel - nan - tidy(() => t.isfinite().sum().item());
    throw new TunedCheckpointError(
      file,
      `tensor "${key}" holds non-finite values (${nan} NaN, ${inf} inf, of ${t.numel}): ` +
        'the run that wrote it diverged; use an earlier checkpoint or train again with a lower learning rate',
    );
  }
}

/** Checks that the checkpoint fits `segmenter` and is finite, then loads its learnable tensors (strict); returns its metadata. */
export function loadTunedInto(segmenter: Segmenter, file: string): CheckpointMeta {
  const { state, meta } = loadCheckpoint(file);
  try {
    checkTunedFits(file, meta.segmenter, segmenter.describe());
    checkFiniteTensors(file, state);
    segmenter.loadLearnableState(state, file);
  } finally {
    dispose([...state.values()]);
  }
  return meta;
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

/**
 * Rebuilds the segmenter a tuned checkpoint was trained with (its recorded factory config, with
 * `overrides`) on `baseModel` (default: the recorded base) and loads its learnable tensors, after
 * `checkTunedFits`. `build` passes through to the factory (e.g. the hub resolver).
 */
export async function loadTuned(
  ckptPath: string,
  baseModel?: string,
  overrides: Partial<SegmenterConfigInput> = {},
  build: BuildOptions = {},
): Promise<{ segmenter: TunedSegmenter; info: TunedCheckpointInfo }> {
  const info = readTunedCheckpoint(ckptPath);
  // Checkpoints written before RUNTIME_ONLY_KEYS existed may record a training cache: dropped.
  const config = { ...inferenceConfig(info.config), ...overrides, ...(baseModel !== undefined ? { model: baseModel } : {}) };
  const seg = await buildSegmenter(config, build);
  try {
    checkTunedFits(ckptPath, info.segmenter, seg.describe());
    const { tensors } = loadSafetensors(ckptPath);
    try {
      checkFiniteTensors(ckptPath, tensors);
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
