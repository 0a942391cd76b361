/**
 * Reading a bench folder (docs/report.md): the grid definition `bench.json`, one folder per
 * cell under `cells/` holding the best trial's run folder (or `seed-<n>/` repeats of it) and
 * the sweep's `trials.jsonl`, and optional `embeddings/<dataset>.json` for the t-SNE figure.
 *
 * Loading is lenient: a cell without a folder is `missing`, a malformed file is recorded as a
 * problem naming the file (and line or field) and that part is left out, and the rest of the
 * bench still loads. `loadBench(dir, { strict: true })` throws one `BenchError` listing every
 * problem instead. Nothing here needs libtorch: only JSON, JSONL and file paths.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isLearnerName, learnerSupports } from '../learners/registry.js';
import { DATASET_ORDER, MODEL_ORDER, learnerOrder, orderBy } from './paper.js';
import { stat, type Stat } from './stats.js';

// ---------------------------------------------------------------------------------------
// Types

export interface CellKey {
  model: string;
  learner: string;
  dataset: string;
  /** null: the main grid; otherwise the ablation's name (e.g. `no-upsampler`). */
  ablation: string | null;
}

export interface AblationSpec {
  name: string;
  /** Subsets of the main grid the ablation covers (null: all of it). */
  models: string[] | null;
  learners: string[] | null;
  datasets: string[] | null;
}

export interface BenchGrid {
  name: string;
  models: string[];
  /** The learners of each model. */
  learners: Record<string, string[]>;
  datasets: string[];
  ablations: AblationSpec[];
  /** Seeds each cell is expected to repeat (null: not said). */
  seeds: number[] | null;
  labels: { models: Record<string, string>; learners: Record<string, string>; datasets: Record<string, string> };
  /** Column groups of the tables (null: the paper's groups for the datasets it knows). */
  groups: Array<{ label: string; datasets: string[] }> | null;
}

export interface Problem {
  /** The file (or folder), relative to the bench folder. */
  file: string;
  message: string;
  /** The cell's folder name, when the problem belongs to a cell. */
  cell?: string;
}

export interface EvalScores {
  samples: number | null;
  loss: number | null;
  /** Mean Dice over samples, in [0, 1]. */
  dice: number;
  iou: number | null;
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

export interface PredictionSample {
  /** Sample name (the dataset's mask name). */
  name: string;
  prompt: string | null;
  dice: number | null;
  iou: number | null;
  /** Absolute paths of files that exist, or null. */
  mask: string | null;
  overlay: string | null;
  image: string | null;
  groundTruth: string | null;
}

export interface PredictionSet {
  dir: string;
  samples: PredictionSample[];
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

export interface TrialRow {
  number: number;
  state: string;
  params: Record<string, unknown>;
  /** The sweep's objective (validation loss by default). */
  value: number | null;
  /** Test Dice of the trial's run in [0, 1], when it was evaluated. */
  testDice: number | null;
  valDice: number | null;
  lr: number | null;
  weightDecay: number | null;
  depth: number | null;
}

export type CellStatus = 'ok' | 'missing' | 'incomplete' | 'error';

export interface CellData {
  key: CellKey;
  /** Folder name: `<model>__<learner>__<dataset>[__<ablation>]`. */
  id: string;
  dir: string;
  /**
   * `ok`: at least one finished run with test scores; `missing`: no folder; `incomplete`: a
   * folder without a finished run with test scores; `error`: its files could not be read.
   */
  status: CellStatus;
  /** In the grid of bench.json (false: found on disk only). */
  inGrid: boolean;
  /** The `seed-<n>` runs, or the cell folder's own run. */
  runs: RunData[];
  trials: TrialRow[];
  /** Test and validation Dice over the finished runs (mean, sample std, n), in [0, 1]. */
  test: Stat | null;
  val: Stat | null;
  testIou: Stat | null;
}

export interface EmbeddingGroup {
  labels: string[];
  vectors: Float64Array[];
  dim: number;
}

export interface EmbeddingSet {
  dataset: string;
  file: string;
  model: string | null;
  text: EmbeddingGroup | null;
  image: EmbeddingGroup | null;
}

export interface Bench {
  dir: string;
  grid: BenchGrid;
  gridSource: 'bench.json' | 'inferred';
  /** Every cell of the grid (missing ones included), then cells found on disk outside it. */
  cells: CellData[];
  embeddings: EmbeddingSet[];
  problems: Problem[];
}

export class BenchError extends Error {
  override name = 'BenchError';
  constructor(
    message: string,
    readonly problems: Problem[],
  ) {
    super(message);
  }
}

export interface LoadOptions {
  /** Throw a BenchError listing every problem instead of recording them. Default false. */
  strict?: boolean;
  /** Read `embeddings/`. Default true. */
  embeddings?: boolean;
}

// ---------------------------------------------------------------------------------------
// Names

const ID_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function cellId(k: CellKey): string {
  return [k.model, k.learner, k.dataset, ...(k.ablation !== null ? [k.ablation] : [])].join('__');
}

/** The key of a cell folder name, or null if the name is not one. */
export function parseCellId(name: string): CellKey | null {
  const parts = name.split('__');
  if (parts.length !== 3 && parts.length !== 4) return null;
  if (!parts.every((p) => ID_PART.test(p))) return null;
  return { model: parts[0]!, learner: parts[1]!, dataset: parts[2]!, ablation: parts[3] ?? null };
}


// ---------------------------------------------------------------------------------------
// JSON helpers

/** JSON.parse that restores `{"$number": "Infinity"}` (the trainer's non-finite numbers). */
export function parseJsonText(text: string): unknown {
  return JSON.parse(text, (_k, x: unknown) => {
    if (typeof x === 'object' && x !== null && !Array.isArray(x)) {
      const keys = Object.keys(x);
      if (keys.length === 1 && keys[0] === '$number') return Number((x as { $number: unknown }).$number);
    }
    return x;
  });
}

const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const zodIssues = (e: z.ZodError): string =>
  e.issues.map((i) => (i.path.length ? `field "${i.path.join('.')}": ${i.message}` : i.message)).join('; ');

const finiteOrNull = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

// ---------------------------------------------------------------------------------------
// bench.json

const idList = z.array(z.string().regex(ID_PART, 'expected a name of letters, digits, ".", "_" or "-"')).min(1);
const labelMap = z.record(z.string(), z.string());

export const benchJsonSchema = z.looseObject({
  name: z.string().min(1).optional(),
  models: idList,
  learners: z.union([idList, z.record(z.string(), idList)]),
  datasets: idList,
  ablations: z
    .array(
      z.union([
        z.string().regex(ID_PART),
        z.object({
          name: z.string().regex(ID_PART),
          models: idList.optional(),
          learners: idList.optional(),
          datasets: idList.optional(),
        }),
      ]),
    )
    .optional(),
  seeds: z.array(z.number().int()).optional(),
  labels: z.object({ models: labelMap.optional(), learners: labelMap.optional(), datasets: labelMap.optional() }).optional(),
  groups: z.array(z.object({ label: z.string(), datasets: idList })).optional(),
});

export type BenchJson = z.input<typeof benchJsonSchema>;

/** Validates a bench.json object into a grid (errors name the field). */
export function parseBenchJson(input: unknown, file = 'bench.json', fallbackName = 'bench'): BenchGrid {
  const r = benchJsonSchema.safeParse(input);
  if (!r.success) throw new Error(`${file}: ${zodIssues(r.error)}`);
  const b = r.data;
  const learners: Record<string, string[]> = {};
  for (const m of b.models) {
    if (Array.isArray(b.learners)) {
      // CRIS's image encoder is a CNN: only the learners the registry allows on it (unknown ids are kept)
      learners[m] = m === 'cris' ? b.learners.filter((l) => learnerSupports(l, 'cris') || !isLearnerName(l)) : [...b.learners];
    } else {
      const ls = b.learners[m];
      if (!ls) throw new Error(`${file}: field "learners.${m}": the learners of model "${m}" are not given`);
      learners[m] = [...ls];
    }
  }
  if (!Array.isArray(b.learners)) {
    for (const m of Object.keys(b.learners)) {
      if (!b.models.includes(m)) throw new Error(`${file}: field "learners.${m}": "${m}" is not one of the models (${b.models.join(', ')})`);
    }
  }
  const ablations: AblationSpec[] = (b.ablations ?? []).map((a) =>
    typeof a === 'string'
      ? { name: a, models: null, learners: null, datasets: null }
      : { name: a.name, models: a.models ?? null, learners: a.learners ?? null, datasets: a.datasets ?? null },
  );
  return {
    name: b.name ?? fallbackName,
    models: [...b.models],
    learners,
    datasets: [...b.datasets],
    ablations,
    seeds: b.seeds ?? null,
    labels: { models: b.labels?.models ?? {}, learners: b.labels?.learners ?? {}, datasets: b.labels?.datasets ?? {} },
    groups: b.groups ?? null,
  };
}

/** Every cell the grid asks for: the main grid, then each ablation's cells. */
export function gridCells(g: BenchGrid): CellKey[] {
  const out: CellKey[] = [];
  for (const model of g.models) {
    for (const learner of g.learners[model] ?? []) {
      for (const dataset of g.datasets) out.push({ model, learner, dataset, ablation: null });
    }
  }
  for (const a of g.ablations) {
    for (const model of a.models ?? g.models) {
      const ls = g.learners[model] ?? [];
      for (const learner of a.learners ? a.learners.filter((l) => ls.includes(l) || !g.models.includes(model)) : ls) {
        for (const dataset of a.datasets ?? g.datasets) out.push({ model, learner, dataset, ablation: a.name });
      }
    }
  }
  return out;
}

/** The grid of the cell folders found, when there is no bench.json. */
export function inferGrid(keys: readonly CellKey[], name: string): BenchGrid {
  const uniq = (xs: string[]): string[] => [...new Set(xs)];
  const main = keys.filter((k) => k.ablation === null);
  const base = main.length ? main : keys;
  const models = orderBy(uniq(base.map((k) => k.model)), MODEL_ORDER);
  const learners: Record<string, string[]> = {};
  for (const m of models) learners[m] = orderBy(uniq(base.filter((k) => k.model === m).map((k) => k.learner)), learnerOrder());
  const datasets = orderBy(uniq(keys.map((k) => k.dataset)), DATASET_ORDER);
  const ablations: AblationSpec[] = uniq(keys.filter((k) => k.ablation !== null).map((k) => k.ablation!)).map((a) => {
    const ks = keys.filter((k) => k.ablation === a);
    return {
      name: a,
      models: orderBy(uniq(ks.map((k) => k.model)), MODEL_ORDER),
      learners: orderBy(uniq(ks.map((k) => k.learner)), learnerOrder()),
      datasets: orderBy(uniq(ks.map((k) => k.dataset)), DATASET_ORDER),
    };
  });
  return { name, models, learners, datasets, ablations, seeds: null, labels: { models: {}, learners: {}, datasets: {} }, groups: null };
}

// ---------------------------------------------------------------------------------------
// Run folders

const scoresSchema = z.looseObject({
  samples: z.number().optional(),
  loss: z.number().optional(),
  dice: z.number().min(0, 'expected a Dice in [0, 1]').max(1, 'expected a Dice in [0, 1] (not a percentage)'),
  iou: z.number().min(0).max(1).optional(),
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
});

const toScores = (s: z.infer<typeof scoresSchema> | null | undefined): EvalScores | null =>
  s ? { samples: s.samples ?? null, loss: finiteOrNull(s.loss), dice: s.dice, iou: s.iou ?? null } : null;

class Ctx {
  problems: Problem[] = [];
  constructor(readonly benchDir: string) {}
  rel(p: string): string {
    const r = path.relative(this.benchDir, p);
    return r === '' ? '.' : r.split(path.sep).join('/');
  }
  add(file: string, message: string, cell?: string): void {
    this.problems.push({ file: this.rel(file), message, ...(cell !== undefined ? { cell } : {}) });
  }
  readJson(file: string, cell?: string): unknown {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      this.add(file, `cannot read: ${errMessage(e)}`, cell);
      return undefined;
    }
    try {
      return parseJsonText(text);
    } catch (e) {
      this.add(file, `malformed JSON: ${errMessage(e)}`, cell);
      return undefined;
    }
  }
  /** Parsed lines of a JSONL file; a torn last line (no newline) is ignored, other bad lines are problems. */
  readJsonl(file: string, cell?: string): Array<{ line: number; value: unknown }> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      this.add(file, `cannot read: ${errMessage(e)}`, cell);
      return [];
    }
    const lines = text.split('\n');
    const out: Array<{ line: number; value: unknown }> = [];
    lines.forEach((l, i) => {
      if (l.trim() === '') return;
      try {
        out.push({ line: i + 1, value: parseJsonText(l) });
      } catch (e) {
        const torn = i === lines.length - 1 && !text.endsWith('\n');
        if (!torn) this.add(file, `line ${i + 1}: malformed JSON: ${errMessage(e)}`, cell);
      }
    });
    return out;
  }
}

const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

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

const safeName = (n: string): boolean => n !== '' && !path.isAbsolute(n) && !/^[A-Za-z]:[\\/]/.test(n) && !n.split(/[\\/]/).includes('..');

/** A file named in predictions.json, looked for in the predictions folder (never outside it). */
function resolvePredFile(predDir: string, ref: unknown): string | null {
  if (typeof ref !== 'string' || ref === '') return null;
  const candidates: string[] = [];
  if (path.isAbsolute(ref)) {
    const rel = path.relative(predDir, ref);
    if (safeName(rel)) candidates.push(path.join(predDir, rel));
    candidates.push(path.join(predDir, path.basename(ref)));
  } else if (safeName(ref)) {
    candidates.push(path.join(predDir, ref));
  }
  return candidates.find(isFile) ?? null;
}

const stemOf = (name: string): string => {
  const ext = path.extname(name);
  return ext ? name.slice(0, -ext.length) : name;
};

/** `<stem><suffix>.png` (or the stem itself for suffix '') in the predictions folder. */
function sibling(predDir: string, name: string, suffix: string): string | null {
  if (!safeName(name)) return null;
  const p = path.join(predDir, `${stemOf(name)}${suffix}.png`);
  return isFile(p) ? p : null;
}

/** The dataset folder of a run's config (absolute, or relative to the run, the bench or the cwd). */
function datasetDir(config: Record<string, unknown> | null, runDir: string, benchDir: string): string | null {
  const data = config && isRecord(config.data) ? config.data : null;
  const dir = data && typeof data.dir === 'string' ? data.dir : null;
  if (!dir) return null;
  const cands = path.isAbsolute(dir) ? [dir] : [path.resolve(runDir, dir), path.resolve(benchDir, dir), path.resolve(dir)];
  return cands.find((d) => isDir(path.join(d, 'anns'))) ?? null;
}

function readPredictions(ctx: Ctx, run: { dir: string; config: Record<string, unknown> | null }, cell: string): PredictionSet | null {
  const predDir = path.join(run.dir, 'predictions');
  if (!isDir(predDir)) return null;
  const samples: PredictionSample[] = [];
  const listFile = path.join(predDir, 'predictions.json');
  let split: string | null = null;
  if (isFile(listFile)) {
    const raw = ctx.readJson(listFile, cell);
    if (raw !== undefined) {
      const files = isRecord(raw) ? raw.files : Array.isArray(raw) ? raw : undefined;
      if (isRecord(raw) && typeof raw.split === 'string') split = raw.split;
      if (!Array.isArray(files)) {
        ctx.add(listFile, 'field "files": expected a list of predicted files', cell);
      } else {
        files.forEach((f, i) => {
          if (!isRecord(f) || typeof f.name !== 'string' || f.name === '') {
            ctx.add(listFile, `files[${i}]: field "name": expected a non-empty string`, cell);
            return;
          }
          const name = f.name;
          samples.push({
            name,
            prompt: typeof f.prompt === 'string' ? f.prompt : null,
            dice: finiteOrNull(f.dice),
            iou: finiteOrNull(f.iou),
            mask: resolvePredFile(predDir, f.mask) ?? sibling(predDir, name, '_mask') ?? sibling(predDir, name, ''),
            overlay: resolvePredFile(predDir, f.overlay) ?? sibling(predDir, name, '_overlay'),
            image: resolvePredFile(predDir, f.image) ?? sibling(predDir, name, '_image'),
            groundTruth: resolvePredFile(predDir, f.groundTruth) ?? sibling(predDir, name, '_gt'),
          });
        });
      }
    }
  } else {
    // No list: every `<stem>_overlay.png` or `<stem>_mask.png` is a sample.
    const names = new Set<string>();
    for (const f of readdirSync(predDir).sort()) {
      const m = /^(.*)_(overlay|mask)\.png$/i.exec(f);
      if (m) names.add(m[1]!);
    }
    for (const stem of names) {
      samples.push({
        name: stem, prompt: null, dice: null, iou: null,
        mask: sibling(predDir, stem, '_mask'), overlay: sibling(predDir, stem, '_overlay'),
        image: sibling(predDir, stem, '_image'), groundTruth: sibling(predDir, stem, '_gt'),
      });
    }
  }
  // Per-sample scores: a separate metrics file, else the run's eval/<split>.json.
  const scoreFiles = [path.join(predDir, 'metrics.json'), path.join(run.dir, 'eval', `${split ?? testSplitOf(run.config)}.json`)];
  if (samples.some((s) => s.dice === null)) {
    for (const sf of scoreFiles) {
      if (!isFile(sf)) continue;
      const raw = ctx.readJson(sf, cell);
      const per = isRecord(raw) ? raw.perSample : Array.isArray(raw) ? raw : undefined;
      if (!Array.isArray(per)) {
        if (raw !== undefined) ctx.add(sf, 'field "perSample": expected a list of per-sample scores', cell);
        continue;
      }
      // By name, and by name without extension (samples found by file name have no extension).
      const byName = new Map<string, Record<string, unknown>>();
      for (const p of per) if (isRecord(p) && typeof p.name === 'string') byName.set(p.name, p);
      for (const p of per) if (isRecord(p) && typeof p.name === 'string' && !byName.has(stemOf(p.name))) byName.set(stemOf(p.name), p);
      for (const s of samples) {
        const p = byName.get(s.name);
        if (s.dice === null && p) {
          s.dice = finiteOrNull(p.dice);
          s.iou ??= finiteOrNull(p.iou);
          s.prompt ??= typeof p.prompt === 'string' ? p.prompt : null;
        }
      }
      break;
    }
  }
  // Images and ground truth from the run's dataset, where the predictions folder has none.
  if (samples.some((s) => s.image === null || s.groundTruth === null)) {
    const dsDir = datasetDir(run.config, run.dir, ctx.benchDir);
    const annFile = dsDir ? path.join(dsDir, 'anns', `${split ?? testSplitOf(run.config)}.json`) : null;
    if (annFile && isFile(annFile)) {
      const raw = ctx.readJson(annFile, cell);
      if (Array.isArray(raw)) {
        const byMask = new Map<string, { img: string; mask: string }>();
        for (const e of raw) {
          if (isRecord(e) && typeof e.mask_name === 'string' && typeof e.img_name === 'string') {
            const v = { img: e.img_name, mask: e.mask_name };
            byMask.set(e.mask_name, v);
            if (!byMask.has(stemOf(e.mask_name))) byMask.set(stemOf(e.mask_name), v);
          }
        }
        for (const s of samples) {
          const e = byMask.get(s.name);
          if (!e) continue;
          if (s.image === null && safeName(e.img)) {
            const p = path.join(dsDir!, 'images', e.img);
            if (isFile(p)) s.image = p;
          }
          if (s.groundTruth === null && safeName(e.mask)) {
            const p = path.join(dsDir!, 'masks', e.mask);
            if (isFile(p)) s.groundTruth = p;
          }
        }
      }
    }
  }
  return { dir: predDir, samples };
}

function testSplitOf(config: Record<string, unknown> | null): string {
  const data = config && isRecord(config.data) ? config.data : null;
  return data && typeof data.testSplit === 'string' ? data.testSplit : 'test';
}

function readRun(ctx: Ctx, dir: string, seed: number | null, cell: string): RunData {
  const summaryFile = path.join(dir, 'summary.json');
  const { summary, error: summaryError } = isFile(summaryFile) ? readSummary(ctx, summaryFile, cell) : { summary: null, error: null };
  const configFile = path.join(dir, 'config.json');
  let config: Record<string, unknown> | null = null;
  if (isFile(configFile)) {
    const raw = ctx.readJson(configFile, cell);
    if (raw !== undefined) {
      if (isRecord(raw)) config = raw;
      else ctx.add(configFile, 'expected a JSON object', cell);
    }
  }
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const epochs = isFile(metricsFile) ? readEpochs(ctx, metricsFile, cell) : [];
  const run: RunData = { dir, seed: seed ?? summary?.seed ?? null, summary, summaryError, config, epochs, predictions: null };
  run.predictions = readPredictions(ctx, run, cell);
  return run;
}

// ---------------------------------------------------------------------------------------
// Trials

/** First finite number among a params object's aliases of a hyperparameter. */
function param(params: Record<string, unknown>, names: readonly string[]): number | null {
  for (const n of names) {
    const v = params[n];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return null;
}

export const LR_KEYS = ['lr', 'learning_rate', 'learningRate'] as const;
export const WD_KEYS = ['weight_decay', 'weightDecay', 'wd'] as const;
export const DEPTH_KEYS = ['depth', 'prompt_depth', 'promptDepth'] as const;

function dig(o: unknown, keys: readonly string[]): unknown {
  let x = o;
  for (const k of keys) {
    if (!isRecord(x)) return undefined;
    x = x[k];
  }
  return x;
}

const firstDice = (row: Record<string, unknown>, paths: ReadonlyArray<readonly string[]>): number | null => {
  for (const p of paths) {
    const v = finiteOrNull(dig(row, p));
    if (v !== null) return v;
  }
  return null;
};

function readTrials(ctx: Ctx, file: string, cell: string): TrialRow[] {
  const out: TrialRow[] = [];
  for (const { line, value } of ctx.readJsonl(file, cell)) {
    const at = `line ${line}`;
    if (!isRecord(value)) {
      ctx.add(file, `${at}: expected a JSON object`, cell);
      continue;
    }
    if (typeof value.number !== 'number' || !Number.isInteger(value.number) || value.number < 0) {
      ctx.add(file, `${at}: field "number": expected a non-negative integer`, cell);
      continue;
    }
    if (typeof value.state !== 'string') {
      ctx.add(file, `${at}: field "state": expected a string`, cell);
      continue;
    }
    const params = value.params ?? {};
    if (!isRecord(params)) {
      ctx.add(file, `${at}: field "params": expected an object`, cell);
      continue;
    }
    if (value.value !== undefined && value.value !== null && typeof value.value !== 'number') {
      ctx.add(file, `${at}: field "value": expected a number or null`, cell);
      continue;
    }
    const testDice = firstDice(value, [['testDice'], ['test', 'dice'], ['attrs', 'testDice'], ['attrs', 'test', 'dice']]);
    if (testDice !== null && (testDice < 0 || testDice > 1)) {
      ctx.add(file, `${at}: field "testDice": expected a Dice in [0, 1], got ${testDice}`, cell);
      continue;
    }
    out.push({
      number: value.number,
      state: value.state,
      params,
      value: finiteOrNull(value.value),
      testDice,
      valDice: firstDice(value, [['valDice'], ['val', 'dice'], ['attrs', 'valDice'], ['attrs', 'val', 'dice']]),
      lr: param(params, LR_KEYS),
      weightDecay: param(params, WD_KEYS),
      depth: param(params, DEPTH_KEYS),
    });
  }
  return out.sort((a, b) => a.number - b.number);
}

/** What `toTrialsJsonl` needs of a sweep trial (a `TrialRecord` of src/sweep fits). */
export interface TrialLike {
  readonly number: number;
  readonly seq?: number;
  readonly state: string;
  readonly params: Readonly<Record<string, unknown>> | null;
  readonly value: number | null;
  readonly attrs?: Readonly<Record<string, unknown>>;
}

/**
 * A cell's `trials.jsonl` from a study's trials: one line per trial, with `testDice` lifted from
 * `attrs.testDice` (or `attrs.test.dice`) when the objective recorded it.
 */
export function toTrialsJsonl(trials: readonly TrialLike[]): string {
  return trials
    .map((t) => {
      const attrs = t.attrs ?? {};
      const testDice = firstDice({ attrs } as Record<string, unknown>, [['attrs', 'testDice'], ['attrs', 'test', 'dice']]);
      return JSON.stringify({
        number: t.number,
        ...(t.seq !== undefined ? { seq: t.seq } : {}),
        state: t.state,
        params: t.params ?? {},
        value: t.value !== null && Number.isFinite(t.value) ? t.value : null,
        ...(testDice !== null ? { testDice } : {}),
        attrs,
      });
    })
    .map((l) => `${l}\n`)
    .join('');
}

// ---------------------------------------------------------------------------------------
// Cells

function readCell(ctx: Ctx, benchDir: string, key: CellKey, inGrid: boolean): CellData {
  const id = cellId(key);
  const dir = path.join(benchDir, 'cells', id);
  const cell: CellData = { key, id, dir, status: 'missing', inGrid, runs: [], trials: [], test: null, val: null, testIou: null };
  if (!existsSync(dir)) return cell;
  if (!isDir(dir)) {
    ctx.add(dir, 'expected a folder', id);
    cell.status = 'error';
    return cell;
  }
  const seedDirs = readdirSync(dir)
    .map((n) => ({ n, m: /^seed-(\d+)$/.exec(n) }))
    .filter((x) => x.m && isDir(path.join(dir, x.n)))
    .map((x) => ({ dir: path.join(dir, x.n), seed: Number(x.m![1]) }))
    .sort((a, b) => a.seed - b.seed);
  if (seedDirs.length) {
    for (const s of seedDirs) {
      const run = readRun(ctx, s.dir, s.seed, id);
      if (!isFile(path.join(s.dir, 'summary.json'))) ctx.add(s.dir, 'no summary.json (run not finished?): left out', id);
      cell.runs.push(run);
    }
  } else {
    const run = readRun(ctx, dir, null, id);
    if (!isFile(path.join(dir, 'summary.json'))) ctx.add(dir, 'no summary.json and no seed-<n>/ runs (run not finished?)', id);
    cell.runs.push(run);
  }
  const trialsFile = path.join(dir, 'trials.jsonl');
  if (isFile(trialsFile)) cell.trials = readTrials(ctx, trialsFile, id);
  const finished = cell.runs.filter((r) => r.summary !== null);
  for (const r of finished) if (r.summary!.test === null) ctx.add(path.join(r.dir, 'summary.json'), 'no test scores (field "test" is null)', id);
  cell.test = stat(finished.flatMap((r) => (r.summary!.test ? [r.summary!.test.dice] : [])));
  cell.val = stat(finished.flatMap((r) => (r.summary!.val ? [r.summary!.val.dice] : [])));
  cell.testIou = stat(finished.flatMap((r) => (r.summary!.test?.iou != null ? [r.summary!.test.iou] : [])));
  cell.status = cell.test ? 'ok' : cell.runs.some((r) => r.summaryError !== null) ? 'error' : 'incomplete';
  return cell;
}

// ---------------------------------------------------------------------------------------
// Embeddings

function readVectors(ctx: Ctx, file: string, g: unknown, what: string, embDir: string): EmbeddingGroup | null {
  if (g === undefined || g === null) return null;
  if (!isRecord(g)) {
    ctx.add(file, `field "${what}": expected an object with "labels" and "vectors" (or "file" and "dim")`);
    return null;
  }
  const labels = g.labels;
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
    ctx.add(file, `field "${what}.labels": expected a list of strings`);
    return null;
  }
  const vectors: Float64Array[] = [];
  let dim: number;
  if (g.vectors !== undefined) {
    if (!Array.isArray(g.vectors)) {
      ctx.add(file, `field "${what}.vectors": expected a list of number lists`);
      return null;
    }
    if (g.vectors.length !== labels.length) {
      ctx.add(file, `field "${what}.vectors": ${g.vectors.length} vectors for ${labels.length} labels`);
      return null;
    }
    dim = -1;
    for (let i = 0; i < g.vectors.length; i++) {
      const v = g.vectors[i] as unknown;
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        ctx.add(file, `field "${what}.vectors[${i}]": expected a list of finite numbers`);
        return null;
      }
      if (dim < 0) dim = v.length;
      if (v.length !== dim || dim === 0) {
        ctx.add(file, `field "${what}.vectors[${i}]": length ${v.length}, expected ${dim}`);
        return null;
      }
      vectors.push(Float64Array.from(v as number[]));
    }
  } else if (typeof g.file === 'string') {
    if (typeof g.dim !== 'number' || !Number.isInteger(g.dim) || g.dim < 1) {
      ctx.add(file, `field "${what}.dim": expected a positive integer`);
      return null;
    }
    dim = g.dim;
    if (!safeName(g.file)) {
      ctx.add(file, `field "${what}.file": "${g.file}" must be a relative path inside embeddings/`);
      return null;
    }
    const bin = path.join(embDir, g.file);
    let buf: Buffer;
    try {
      buf = readFileSync(bin);
    } catch (e) {
      ctx.add(bin, `cannot read: ${errMessage(e)}`);
      return null;
    }
    if (buf.byteLength !== labels.length * dim * 4) {
      ctx.add(bin, `${buf.byteLength} bytes, expected ${labels.length} x ${dim} float32 = ${labels.length * dim * 4}`);
      return null;
    }
    for (let i = 0; i < labels.length; i++) {
      const v = new Float64Array(dim);
      for (let j = 0; j < dim; j++) v[j] = buf.readFloatLE((i * dim + j) * 4);
      if (!v.every(Number.isFinite)) {
        ctx.add(bin, `vector ${i} has a non-finite value`);
        return null;
      }
      vectors.push(v);
    }
  } else {
    ctx.add(file, `field "${what}": expected "vectors" or "file"`);
    return null;
  }
  return { labels: labels as string[], vectors, dim: vectors.length ? vectors[0]!.length : dim };
}

function readEmbeddings(ctx: Ctx, benchDir: string): EmbeddingSet[] {
  const embDir = path.join(benchDir, 'embeddings');
  if (!isDir(embDir)) return [];
  const out: EmbeddingSet[] = [];
  for (const f of readdirSync(embDir).filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(embDir, f);
    const raw = ctx.readJson(file);
    if (raw === undefined) continue;
    if (!isRecord(raw)) {
      ctx.add(file, 'expected a JSON object');
      continue;
    }
    const dataset = typeof raw.dataset === 'string' && raw.dataset !== '' ? raw.dataset : f.slice(0, -'.json'.length);
    const text = readVectors(ctx, file, raw.text, 'text', embDir);
    const image = readVectors(ctx, file, raw.image, 'image', embDir);
    if (!text && !image) {
      if (raw.text === undefined && raw.image === undefined) ctx.add(file, 'neither "text" nor "image" embeddings');
      continue;
    }
    out.push({ dataset, file, model: typeof raw.model === 'string' ? raw.model : null, text, image });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The bench

/** Reads a bench folder (see docs/report.md). */
export function loadBench(benchDir: string, opts: LoadOptions = {}): Bench {
  const dir = path.resolve(benchDir);
  if (!isDir(dir)) throw new BenchError(`${benchDir}: not a folder`, [{ file: benchDir, message: 'not a folder' }]);
  const ctx = new Ctx(dir);
  const cellsDir = path.join(dir, 'cells');
  const found: CellKey[] = [];
  if (isDir(cellsDir)) {
    for (const n of readdirSync(cellsDir).sort()) {
      if (n.startsWith('.')) continue;
      const k = parseCellId(n);
      if (!k) {
        ctx.add(path.join(cellsDir, n), 'not a cell folder name (<model>__<learner>__<dataset>[__<ablation>]): ignored');
        continue;
      }
      found.push(k);
    }
  } else {
    ctx.add(cellsDir, 'no cells/ folder');
  }
  const benchFile = path.join(dir, 'bench.json');
  let grid: BenchGrid | null = null;
  let gridSource: Bench['gridSource'] = 'inferred';
  if (isFile(benchFile)) {
    const raw = ctx.readJson(benchFile);
    if (raw !== undefined) {
      try {
        grid = parseBenchJson(raw, 'bench.json', path.basename(dir));
        gridSource = 'bench.json';
      } catch (e) {
        ctx.add(benchFile, errMessage(e).replace(/^bench\.json: /, ''));
      }
    }
  }
  grid ??= inferGrid(found, path.basename(dir));
  const expected = gridCells(grid);
  const ids = new Set(expected.map(cellId));
  const cells = expected.map((k) => readCell(ctx, dir, k, true));
  for (const k of found) if (!ids.has(cellId(k))) cells.push(readCell(ctx, dir, k, false));
  const embeddings = opts.embeddings === false ? [] : readEmbeddings(ctx, dir);
  const bench: Bench = { dir, grid, gridSource, cells, embeddings, problems: ctx.problems };
  if (opts.strict && ctx.problems.length) {
    throw new BenchError(`${dir}: ${ctx.problems.length} problem(s):\n${formatProblems(ctx.problems)}`, ctx.problems);
  }
  return bench;
}

export function formatProblems(ps: readonly Problem[]): string {
  return ps.map((p) => `  ${p.file}: ${p.message}`).join('\n');
}

/** The cell of a key, or undefined if it is neither in the grid nor on disk. */
export function findCell(b: Bench, k: CellKey): CellData | undefined {
  const id = cellId(k);
  return b.cells.find((c) => c.id === id);
}

/** Cells of the grid without a finished run. */
export function missingCells(b: Bench): CellData[] {
  return b.cells.filter((c) => c.inGrid && c.status !== 'ok');
}
