/**
 * One run folder of a cell (docs/train.md): `summary.json` (validation and test scores, the test
 * split under each named evaluation protocol), `config.json`, the epoch records of
 * `metrics.jsonl`, and its predictions (./load-predictions.ts).
 */
import { z } from 'zod';
import { type Ctx, finiteOrNull, isFile, isRecord, zodIssues } from './load-files.js';
import { type PredictionSet, readPredictions } from './load-predictions.js';
import { type EvalProtocol, LEGACY_PROTOCOL } from './protocol.js';
import { runFiles } from '../train/run-folder.js';

export interface EvalScores {
  samples: number | null;
  loss: number | null;
  /** Mean Dice over samples, in [0, 1]. */
  dice: number;
  iou: number | null;
  /** The same split scored under each named protocol (`test.protocols`), or null (runs made before protocols). */
  protocols: Record<string, { dice: number; iou: number | null }> | null;
}

export interface RunSummary {
  val: EvalScores | null;
  test: EvalScores | null;
  seed: number | null;
  epochs: number | null;
  bestEpoch: number | null;
  stopReason: string | null;
  wallSeconds: number | null;
  trainableParams: number | null;
  /** How val and test were read (summary.json `evaluation`): through the training augmentation, and which split was the test set; null: not recorded. */
  evaluation: { augmented: boolean; testSplit: string | null } | null;
}

export interface EpochPoint {
  epoch: number;
  trainLoss: number | null;
  trainDice: number | null;
  valLoss: number | null;
  valDice: number | null;
  valIou: number | null;
  lr: number | null;
}

export interface RunData {
  /** Absolute path of the run folder. */
  dir: string;
  /** `n` of a `seed-<n>` folder, else the summary's seed. */
  seed: number | null;
  summary: RunSummary | null;
  /** Why summary.json could not be used (malformed, invalid), or null. */
  summaryError: string | null;
  config: Record<string, unknown> | null;
  epochs: EpochPoint[];
  predictions: PredictionSet | null;
}

const scoresSchema = z.looseObject({
  samples: z.number().optional(),
  loss: z.number().optional(),
  dice: z.number().min(0, 'expected a Dice in [0, 1]').max(1, 'expected a Dice in [0, 1] (not a percentage)'),
  iou: z.number().min(0).max(1).optional(),
  protocols: z
    .record(
      z.string(),
      z.looseObject({
        dice: z.number().min(0, 'expected a Dice in [0, 1]').max(1, 'expected a Dice in [0, 1] (not a percentage)'),
        iou: z.number().min(0).max(1).nullable().optional(),
      }),
    )
    .optional(),
});

const summarySchema = z.looseObject({
  val: scoresSchema.nullable().optional(),
  test: scoresSchema.nullable().optional(),
  seed: z.number().optional(),
  epochs: z.number().optional(),
  bestEpoch: z.number().optional(),
  stopReason: z.string().optional(),
  wallSeconds: z.number().optional(),
  trainableParams: z.number().optional(),
  evaluation: z.looseObject({ augmented: z.boolean(), testSplit: z.string().nullable() }).optional(),
});

const toScores = (s: z.infer<typeof scoresSchema> | null | undefined): EvalScores | null =>
  s
    ? {
        samples: s.samples ?? null,
        loss: finiteOrNull(s.loss),
        dice: s.dice,
        iou: s.iou ?? null,
        protocols: s.protocols
          ? Object.fromEntries(Object.entries(s.protocols).map(([k, v]) => [k, { dice: v.dice, iou: v.iou ?? null }]))
          : null,
      }
    : null;

/**
 * A run's test scores under `protocol`: its `test.protocols` entry, else (a run made before
 * protocols existed) `test.dice`/`test.iou`, which are `model-resolution`; `protocol` in the
 * result says which one it is. Null when the run has no test scores.
 */
export function testScoresUnder(
  s: RunSummary,
  protocol: EvalProtocol,
): { dice: number; iou: number | null; protocol: EvalProtocol } | null {
  const t = s.test;
  if (!t) return null;
  const p = t.protocols?.[protocol];
  if (p) return { ...p, protocol };
  return { dice: t.dice, iou: t.iou, protocol: LEGACY_PROTOCOL };
}

function readSummary(ctx: Ctx, file: string, cell: string): { summary: RunSummary | null; error: string | null } {
  const before = ctx.problems.length;
  const raw = ctx.readJson(file, cell);
  if (raw === undefined) return { summary: null, error: ctx.problems[before]?.message ?? 'unreadable' };
  const r = summarySchema.safeParse(raw);
  if (!r.success) {
    const msg = zodIssues(r.error);
    ctx.add(file, msg, cell);
    return { summary: null, error: msg };
  }
  const s = r.data;
  const summary: RunSummary = {
    val: toScores(s.val),
    test: toScores(s.test),
    seed: s.seed ?? null,
    epochs: s.epochs ?? null,
    bestEpoch: s.bestEpoch ?? null,
    stopReason: s.stopReason ?? null,
    wallSeconds: s.wallSeconds ?? null,
    trainableParams: s.trainableParams ?? null,
    evaluation: s.evaluation ? { augmented: s.evaluation.augmented, testSplit: s.evaluation.testSplit } : null,
  };
  return { summary, error: null };
}

function readEpochs(ctx: Ctx, file: string, cell: string): EpochPoint[] {
  const byEpoch = new Map<number, EpochPoint>();
  for (const { line, value } of ctx.readJsonl(file, cell)) {
    if (!isRecord(value)) {
      ctx.add(file, `line ${line}: expected a JSON object`, cell);
      continue;
    }
    if (value.type !== 'epoch') continue;
    const e = value.epoch;
    if (typeof e !== 'number' || !Number.isInteger(e) || e < 1) {
      ctx.add(file, `line ${line}: field "epoch": expected a positive integer`, cell);
      continue;
    }
    // A resumed run repeats an epoch: the later record wins.
    byEpoch.set(e, {
      epoch: e,
      trainLoss: finiteOrNull(value.trainLoss),
      trainDice: finiteOrNull(value.trainDice),
      valLoss: finiteOrNull(value.valLoss),
      valDice: finiteOrNull(value.valDice),
      valIou: finiteOrNull(value.valIou),
      lr: finiteOrNull(value.lr),
    });
  }
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

export function readRun(ctx: Ctx, dir: string, seed: number | null, cell: string): RunData {
  const summaryFile = runFiles(dir).summary;
  const { summary, error: summaryError } = isFile(summaryFile) ? readSummary(ctx, summaryFile, cell) : { summary: null, error: null };
  const configFile = runFiles(dir).config;
  let config: Record<string, unknown> | null = null;
  if (isFile(configFile)) {
    const raw = ctx.readJson(configFile, cell);
    if (raw !== undefined) {
      if (isRecord(raw)) config = raw;
      else ctx.add(configFile, 'expected a JSON object', cell);
    }
  }
  const metricsFile = runFiles(dir).metrics;
  const epochs = isFile(metricsFile) ? readEpochs(ctx, metricsFile, cell) : [];
  const run: RunData = { dir, seed: seed ?? summary?.seed ?? null, summary, summaryError, config, epochs, predictions: null };
  run.predictions = readPredictions(ctx, run, cell);
  return run;
}
