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
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { stat, type Stat } from './stats.js';
import { Ctx, errMessage, isDir, isFile, type Problem } from './load-files.js';
import { type BenchGrid, type CellKey, cellId, gridCells, inferGrid, parseBenchJson, parseCellId } from './load-grid.js';
import { type RunData, readRun, testScoresUnder } from './load-run.js';
import { type TrialRow, readTrials } from './load-trials.js';
import { type EmbeddingSet, readEmbeddings } from './load-embeddings.js';
import { DEFAULT_REPORT_PROTOCOL, type EvalProtocol, LEGACY_PROTOCOL } from './protocol.js';
import { benchFiles, runFiles } from '../train/run-folder.js';

// Each job in its own module; this one assembles cells and the bench, and re-exports them all.
export * from './load-files.js';
export * from './load-grid.js';
export * from './load-run.js';
export * from './load-predictions.js';
export * from './load-trials.js';
export * from './load-embeddings.js';

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
  /**
   * The protocol `test`/`testIou` are scored under: the bench's, or `model-resolution` when a
   * run of the cell has no per-protocol scores (made before protocols existed). Null: no scores.
   */
  protocol: EvalProtocol | null;
  val: Stat | null;
  testIou: Stat | null;
}

export interface Bench {
  dir: string;
  grid: BenchGrid;
  gridSource: 'bench.json' | 'inferred';
  /** Every cell of the grid (missing ones included), then cells found on disk outside it. */
  cells: CellData[];
  embeddings: EmbeddingSet[];
  problems: Problem[];
  /** Frozen base models scored on a dataset (`zero-shot/<model>__<dataset>/`, a run folder with predictions): the galleries' zero-shot column. */
  zeroShot: ZeroShotRun[];
  /** The evaluation protocol of the test scores, and the cells that fell back to `model-resolution`. */
  protocol: { requested: EvalProtocol; fallback: string[] };
}

export interface ZeroShotRun {
  model: string;
  dataset: string;
  run: RunData;
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
  /** The evaluation protocol whose test scores the cells hold (summary.json `test.protocols.<name>`). Default `original-size`. */
  protocol?: EvalProtocol;
}

// ---------------------------------------------------------------------------------------
// Cells

function readCell(ctx: Ctx, benchDir: string, key: CellKey, inGrid: boolean, protocol: EvalProtocol): CellData {
  const id = cellId(key);
  const dir = benchFiles(benchDir).cell(id);
  const cell: CellData = {
    key,
    id,
    dir,
    status: 'missing',
    inGrid,
    runs: [],
    trials: [],
    test: null,
    val: null,
    testIou: null,
    protocol: null,
  };
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
      if (!isFile(runFiles(s.dir).summary)) ctx.add(s.dir, 'no summary.json (run not finished?): left out', id);
      cell.runs.push(run);
    }
  } else {
    const run = readRun(ctx, dir, null, id);
    if (!isFile(runFiles(dir).summary)) ctx.add(dir, 'no summary.json and no seed-<n>/ runs (run not finished?)', id);
    cell.runs.push(run);
  }
  const trialsFile = runFiles(dir).trials;
  if (isFile(trialsFile)) cell.trials = readTrials(ctx, trialsFile, id);
  const finished = cell.runs.filter((r) => r.summary !== null);
  for (const r of finished) if (r.summary!.test === null) ctx.add(runFiles(r.dir).summary, 'no test scores (field "test" is null)', id);
  // One protocol per cell: if any run lacks the asked one, every run shows model-resolution.
  let scores = finished.flatMap((r) => testScoresUnder(r.summary!, protocol) ?? []);
  if (scores.some((x) => x.protocol !== protocol)) scores = finished.flatMap((r) => testScoresUnder(r.summary!, LEGACY_PROTOCOL) ?? []);
  cell.protocol = scores[0]?.protocol ?? null;
  cell.test = stat(scores.map((x) => x.dice));
  cell.val = stat(finished.flatMap((r) => (r.summary!.val ? [r.summary!.val.dice] : [])));
  cell.testIou = stat(scores.flatMap((x) => (x.iou !== null ? [x.iou] : [])));
  cell.status = cell.test ? 'ok' : cell.runs.some((r) => r.summaryError !== null) ? 'error' : 'incomplete';
  return cell;
}

/** `zero-shot/<model>__<dataset>/` folders: the frozen base model's predictions (no tuning). */
function readZeroShot(ctx: Ctx, benchDir: string): ZeroShotRun[] {
  const root = path.join(benchDir, 'zero-shot');
  if (!isDir(root)) return [];
  const out: ZeroShotRun[] = [];
  for (const n of readdirSync(root).sort()) {
    if (n.startsWith('.') || !isDir(path.join(root, n))) continue;
    const parts = n.split('__');
    if (parts.length !== 2 || parts.some((x) => x === '')) {
      ctx.add(path.join(root, n), 'not a zero-shot folder name (<model>__<dataset>): ignored');
      continue;
    }
    out.push({ model: parts[0]!, dataset: parts[1]!, run: readRun(ctx, path.join(root, n), null, `zero-shot/${n}`) });
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
  const cellsDir = benchFiles(dir).cells;
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
  const benchFile = benchFiles(dir).grid;
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
  const protocol = opts.protocol ?? DEFAULT_REPORT_PROTOCOL;
  const cells = expected.map((k) => readCell(ctx, dir, k, true, protocol));
  for (const k of found) if (!ids.has(cellId(k))) cells.push(readCell(ctx, dir, k, false, protocol));
  const embeddings = opts.embeddings === false ? [] : readEmbeddings(ctx, dir);
  const fallback = cells.filter((c) => c.protocol !== null && c.protocol !== protocol).map((c) => c.id);
  const zeroShot = readZeroShot(ctx, dir);
  const bench: Bench = {
    dir,
    grid,
    gridSource,
    cells,
    embeddings,
    zeroShot,
    problems: ctx.problems,
    protocol: { requested: protocol, fallback },
  };
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
