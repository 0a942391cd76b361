/**
 * Parameter importance for `study show`: how much of the variation of the objective each
 * parameter explains on its own, by binning.
 *
 * For each parameter, over the complete trials that have it: the objective values are replaced
 * by their ranks (so one diverged run cannot dominate), the trials are grouped by the
 * parameter's value (categoricals: one group per choice; numbers: up to
 * clamp(floor(sqrt(n)), 2, 8) groups of equal count along the parameter, in log space for log
 * parameters), and the share of the rank variance between groups is measured with
 * epsilon-squared, eta-squared corrected for the number of groups:
 *   eps^2 = (SS_between - (k - 1) * MS_within) / (SS_total + MS_within), floored at 0.
 * Importances are these values normalised to sum to 1 (all 0 when nothing is explained).
 * Unlike fANOVA this ignores interactions; it is cheap, deterministic and needs no model.
 */

import { allDistributions } from './space.js';
import type { Distribution, ParamValue, SearchSpace } from './space.js';
import type { TrialRecord } from './storage.js';

export interface ParamImportance {
  readonly param: string;
  /** Normalised importance (the importances of a study sum to 1, or are all 0). */
  readonly importance: number;
  /** Bias-corrected share of rank variance explained (epsilon-squared). */
  readonly explained: number;
  /** Complete trials that had the parameter. */
  readonly n: number;
}

function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && (order[j + 1] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0]) j++;
    for (let k = i; k <= j; k++) out[(order[k] as readonly [number, number])[1]] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

function groupKeys(d: Distribution, xs: readonly ParamValue[]): string[] {
  if (d.type === 'categorical') return xs.map((x) => String(x));
  const t = xs.map((x) => (d.log ? Math.log(x as number) : (x as number)));
  const n = t.length;
  const bins = Math.min(8, Math.max(2, Math.floor(Math.sqrt(n))));
  const sorted = [...t].sort((a, b) => a - b);
  // Bin edges at quantiles; equal values always share a bin.
  const edges: number[] = [];
  for (let b = 1; b < bins; b++) edges.push(sorted[Math.floor((b * n) / bins)] as number);
  return t.map((v) => String(edges.filter((e) => v >= e).length));
}

function epsilonSquared(y: readonly number[], keys: readonly string[]): number {
  const n = y.length;
  const mean = y.reduce((s, v) => s + v, 0) / n;
  const groups = new Map<string, number[]>();
  keys.forEach((k, i) => {
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(y[i] as number);
  });
  const k = groups.size;
  if (k < 2 || n <= k) return 0;
  let ssTotal = 0;
  for (const v of y) ssTotal += (v - mean) ** 2;
  if (ssTotal === 0) return 0;
  let ssBetween = 0;
  for (const g of groups.values()) {
    const m = g.reduce((s, v) => s + v, 0) / g.length;
    ssBetween += g.length * (m - mean) ** 2;
  }
  const msWithin = (ssTotal - ssBetween) / (n - k);
  return Math.max(0, (ssBetween - (k - 1) * msWithin) / (ssTotal + msWithin));
}

export function paramImportances(space: SearchSpace, trials: readonly TrialRecord[]): ParamImportance[] {
  const complete = trials.filter((t) => t.state === 'complete' && t.params && t.value !== null && Number.isFinite(t.value));
  const raw: { param: string; explained: number; n: number }[] = [];
  for (const [name, d] of allDistributions(space)) {
    const having = complete.filter((t) => name in (t.params as object));
    const xs = having.map((t) => (t.params as Record<string, ParamValue>)[name] as ParamValue);
    const explained = having.length >= 3 ? epsilonSquared(ranks(having.map((t) => t.value as number)), groupKeys(d, xs)) : 0;
    raw.push({ param: name, explained, n: having.length });
  }
  const total = raw.reduce((s, r) => s + r.explained, 0);
  return raw
    .map((r) => ({ ...r, importance: total > 0 ? r.explained / total : 0 }))
    .sort((a, b) => b.importance - a.importance || a.param.localeCompare(b.param));
}
