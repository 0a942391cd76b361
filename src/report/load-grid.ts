/**
 * The grid of a bench folder: cell names (`<model>__<learner>__<dataset>[__<ablation>]`), the
 * `bench.json` schema, the cells a grid asks for, and the grid inferred from the folders found
 * when there is no usable bench.json (docs/report.md).
 */
import { z } from 'zod';
import { isLearnerName, learnerSupports } from '../learners/registry.js';
import { DATASET_ORDER, MODEL_ORDER, learnerOrder, orderBy } from './paper.js';
import { zodIssues } from './load-files.js';

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
  /** Untuned reference scores shown in Table 3 (zero-shot, trivial masks): test Dice in [0, 1] per dataset. */
  baselines: Array<{ label: string; values: Record<string, number> }>;
}

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
  baselines: z.array(z.object({ label: z.string().min(1), values: z.record(z.string(), z.number().min(0).max(1)) })).optional(),
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
      if (!b.models.includes(m))
        throw new Error(`${file}: field "learners.${m}": "${m}" is not one of the models (${b.models.join(', ')})`);
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
    baselines: (b.baselines ?? []).map((x) => ({ label: x.label, values: { ...x.values } })),
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
  return {
    name,
    models,
    learners,
    datasets,
    ablations,
    seeds: null,
    labels: { models: {}, learners: {}, datasets: {} },
    groups: null,
    baselines: [],
  };
}
