/**
 * A cell's `trials.jsonl` (docs/report.md): one line per trial of its sweep, read leniently, and
 * written from a study's trials by `toTrialsJsonl`.
 */
import { type Ctx, finiteOrNull, isRecord } from './load-files.js';
import { paramFor, type ConfigTarget } from '../learners/param-names.js';

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

/**
 * First finite number among a params object's aliases of a hyperparameter, else the parameter
 * that sets its config key (a reference sweep's `optimizer.lr`, `net.context_learner.prompt_depth`).
 */
function param(params: Record<string, unknown>, names: readonly string[], target: ConfigTarget): number | null {
  for (const n of [...names, paramFor(Object.keys(params), target)]) {
    const v = n === undefined ? undefined : params[n];
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

export function readTrials(ctx: Ctx, file: string, cell: string): TrialRow[] {
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
      lr: param(params, LR_KEYS, { scope: 'train', key: 'lr' }),
      weightDecay: param(params, WD_KEYS, { scope: 'train', key: 'weightDecay' }),
      depth: param(params, DEPTH_KEYS, { scope: 'model', key: 'depth' }),
    });
  }
  return out.sort((a, b) => a.number - b.number);
}

// The writer of trials.jsonl lives with the bench-folder layout (src/train/run-folder.ts).
export { toTrialsJsonl, type TrialLike } from '../train/run-folder.js';
