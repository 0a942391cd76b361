/**
 * Writing checkpoints (src/tuning/checkpoint.ts reads, validates and loads them).
 *
 * A tuned checkpoint (`checkpoints/best.safetensors`, `last.safetensors`) is a safetensors file
 * of `segmenter.learnableState()` (only the learnable tensors: a few hundred KB) whose
 * `__metadata__` holds, as strings:
 *
 *   format            "pt" (so generic safetensors tools treat it as PyTorch weights)
 *   tunevlseg.format  "checkpoint/1"
 *   tunevlseg.version package version that wrote it
 *   kind              "best" | "last" | "initial" | ...
 *   segmenter         JSON of `segmenter.describe()` (base model, learner config...)
 *   model             JSON of the run's `model` config section (what the factory builds from)
 *   metrics           JSON of the epoch's metrics (valLoss, valDice, valIou, trainLoss, ...)
 *   epoch             completed epochs (1-based; "0" = before training)
 *   global_step       optimizer steps done
 *
 * The resume state (`checkpoints/resume/state.safetensors`) is one file, so that it is replaced
 * as a unit: the learnable tensors under `model/<name>`, the optimizer's state tensors under
 * `optim/<index>.<name>` (exp_avg, exp_avg_sq...), and in the metadata the optimizer's JSON meta
 * (parameter groups with their current lr, per-parameter step counts) and the trainer's state
 * (position, scheduler, early stopping, best metric, running sums; see `TrainerState`).
 *
 * Both are written by `saveSafetensors`, atomically (src/util/atomic-write.ts): a process killed
 * at any moment (SIGKILL included) leaves either the previous file or the new one, never a
 * truncated one. Stray temporary files of a killed writer are ignored.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Tensor, type optim, loadSafetensors, saveSafetensors, dispose } from '../torch/index.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { CHECKPOINT_FORMAT, type CheckpointInfo } from '../tuning/checkpoint.js';
import { parseJson, stringifyJson } from '../util/json.js';
import { tunevlsegVersion } from '../util/package-root.js';

export const RESUME_FORMAT = 'resume/1';

// ---------------------------------------------------------------------------------------
// Tuned checkpoints

export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, options);
    this.name = 'CheckpointError';
  }
}

/** Saves `segmenter.learnableState()` with its metadata, atomically. */
export function saveCheckpoint(file: string, segmenter: Segmenter, info: CheckpointInfo): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const metadata: Record<string, string> = {
    format: 'pt',
    'tunevlseg.format': CHECKPOINT_FORMAT,
    'tunevlseg.version': tunevlsegVersion(),
    kind: info.kind,
    segmenter: stringifyJson(segmenter.describe()),
    model: stringifyJson(info.model),
    metrics: stringifyJson(info.metrics),
    epoch: String(info.epoch),
    global_step: String(info.globalStep),
  };
  saveSafetensors(file, segmenter.learnableState(), metadata);
}

// ---------------------------------------------------------------------------------------
// Resume state

export interface ResumeFile<S> {
  trainer: S;
  /** The optimizer's state (tensors owned by the caller once loaded). */
  optimizer: optim.OptimizerState;
  /** The learnable tensors at that point (owned by the caller). */
  model: Map<string, Tensor>;
  tunevlsegVersion: string;
}

/** Writes the resume state (model + optimizer tensors, trainer JSON) as one atomic file. */
export function saveResumeState<S>(file: string, segmenter: Segmenter, optimizer: optim.Optimizer, trainer: S): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of segmenter.learnableState()) tensors.set(`model/${k}`, t);
  const opt = optimizer.stateDict();
  for (const [k, t] of opt.tensors) tensors.set(`optim/${k}`, t);
  saveSafetensors(file, tensors, {
    format: 'pt',
    'tunevlseg.format': RESUME_FORMAT,
    'tunevlseg.version': tunevlsegVersion(),
    optimizer: stringifyJson(opt.meta),
    trainer: stringifyJson(trainer),
  });
}

/** Reads a resume state written by `saveResumeState`. */
export function loadResumeState<S>(file: string): ResumeFile<S> {
  const { tensors, metadata } = loadSafetensors(file);
  try {
    if (metadata['tunevlseg.format'] !== RESUME_FORMAT) {
      throw new CheckpointError(
        file,
        `not a tunevlseg resume state (format "${metadata['tunevlseg.format'] ?? '<none>'}", expected "${RESUME_FORMAT}")`,
      );
    }
    const model = new Map<string, Tensor>();
    const optTensors = new Map<string, Tensor>();
    for (const [k, t] of tensors) {
      if (k.startsWith('model/')) model.set(k.slice(6), t);
      else if (k.startsWith('optim/')) optTensors.set(k.slice(6), t);
      else throw new CheckpointError(file, `unexpected tensor "${k}" in resume state`);
    }
    return {
      trainer: parseJson<S>(metadata.trainer ?? 'null'),
      optimizer: { meta: parseJson<optim.OptimizerState['meta']>(metadata.optimizer ?? 'null'), tensors: optTensors },
      model,
      tunevlsegVersion: metadata['tunevlseg.version'] ?? 'unknown',
    };
  } catch (e) {
    dispose([...tensors.values()]);
    throw e;
  }
}
