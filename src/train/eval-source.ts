/**
 * A run folder or a tuned checkpoint file as `evaluateCheckpoint` (src/inference) takes it: the
 * checkpoint (a run's best or last, or a path), the model config (the run's, else the
 * checkpoint's; a config file's `model` section and `--model k=v` on top), the run's settings,
 * and how its splits are read (run-evaluation.ts: as the run's training read them). Training
 * wrote the folder, so reading it back is done here, by the layer that knows its layout.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { EvalSource } from '../inference/evaluate-checkpoint.js';
import { inferenceConfig } from '../tuning/config.js';
import { readCheckpointMeta } from '../tuning/checkpoint.js';
import { applyOverrides, readConfigFile, type TrainConfig } from './config.js';
import type { BuildSegmenter } from './records.js';
import { passBatchSize } from './reference-semantics.js';
import { readRunConfig } from './run-config.js';
import { planCheckpointEvaluation, planRunEvaluation } from './run-evaluation.js';
import { checkpointOf } from './run-folder.js';

export interface EvalSourceRequest {
  /** For a run folder: best, last, or a checkpoint path. Default best. */
  checkpoint?: string | undefined;
  /** A config file whose `model` section replaces the model config. */
  config?: string | undefined;
  /** `--model k=v` values, parsed: [model key, value]. */
  model?: readonly (readonly [string, unknown])[];
}

/** `target`: a run folder (its best/last checkpoint, or `checkpoint`'s path) or a checkpoint file. */
export function evalSourceOf(target: string, o: EvalSourceRequest, buildSegmenter: BuildSegmenter): EvalSource {
  let run: TrainConfig | null = null;
  let checkpoint: string;
  const which = o.checkpoint ?? 'best';
  if (existsSync(target) && statSync(target).isDirectory()) {
    run = readRunConfig(target);
    checkpoint = which === 'best' || which === 'last' ? checkpointOf(target, which) : path.resolve(which);
  } else {
    checkpoint = checkpointOf(target);
  }
  if (!existsSync(checkpoint)) throw new Error(`${checkpoint}: checkpoint not found`);
  const meta = readCheckpointMeta(checkpoint);
  // Training-only keys (the frozen-feature cache) of the run never reach evaluation.
  let model: Record<string, unknown> = inferenceConfig(run?.model ?? meta.model ?? {});
  if (o.config) {
    const file = readConfigFile(o.config);
    if (typeof file.model === 'object' && file.model !== null) model = file.model as Record<string, unknown>;
  }
  if (o.model && o.model.length > 0)
    model = applyOverrides(
      model,
      o.model.map(([k, v]) => [k, v]),
    );
  const runDir = run ? path.resolve(target) : null;
  return {
    checkpoint,
    model,
    run: run && {
      dataDir: run.data.dir,
      prompts: run.data,
      imageSize: run.data.imageSize ?? null,
      precision: run.precision,
      seed: run.seed,
      loss: run.loss,
    },
    build: async () => buildSegmenter(model, run ?? ({ model } as TrainConfig)),
    reading: ({ dataDir, split, mode, batchSize, segmenter }) => {
      if (!run || !runDir) return planCheckpointEvaluation(model, dataDir, split, mode);
      return planRunEvaluation({
        runDir,
        config: run,
        dataDir,
        asked: split,
        mode,
        passBatchSize: () => passBatchSize(run.batchSize, run.effectiveBatchSize, segmenter),
        ...(batchSize !== undefined ? { batchSize } : {}),
      });
    },
  };
}
