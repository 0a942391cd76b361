/**
 * The paper's grid: models x learners x datasets, plus the ablations of Tables 4 and 5, as a
 * list of cells with stable ids (`<model>__<learner>__<dataset>[__<ablation>]`). The command that
 * runs it is `tunevlseg bench` (its name in the docs and issues); inside src/ it is the grid, so
 * that "bench" means the speed benchmarks of bench/.
 */
import { basename } from 'node:path';
import { LEARNER_NAMES, learnerEntry, learnerSupports, learnersWithOption, unknownLearnerMessage } from '../learners/registry.js';
import type { LearnerName } from '../learners/types.js';
import { familyOfModelSpec } from '../tuning/base-model.js';

export const ABLATIONS: Record<string, { name: string; model: Record<string, unknown>; learners?: readonly string[] }> = {
  // Table 4: MaPLe (and the other initialised learners) from N(0, 0.02) instead of "a photo of a".
  init: {
    name: 'init-gaussian',
    model: { contextInitializer: null },
    get learners() {
      return learnersWithOption('contextInitializer');
    },
  },
  // Table 5: no learnable upsampler (for the learners that have one: the adapters, LoRA and full fine-tuning have none).
  upsampler: {
    name: 'no-upsampler',
    model: { useNewLastLayer: false },
    get learners() {
      return LEARNER_NAMES.filter((l) => learnerEntry(l).upsampler !== false);
    },
  },
};

/** The model family of a grid model (which learners it takes; which one gives the embeddings). */
export const familyOf = (m: { name: string; spec: string }): ReturnType<typeof familyOfModelSpec> => familyOfModelSpec(m.name, m.spec);

/**
 * The grid's base model: the original's experiment configs load `CIDAS/clipseg-rd64` (and its
 * tokenizer), not `-refined` (which `clipseg` names elsewhere), so the paper's numbers come from
 * it. Every other preset stays available through --models.
 */
export const GRID_DEFAULT_MODELS = 'clipseg=CIDAS/clipseg-rd64';

/** "name=spec" or "spec" (name = the spec's last path part, cleaned for a cell id). */
export function namedSpec(s: string): { name: string; spec: string } {
  const i = s.indexOf('=');
  const [name, spec] = i > 0 ? [s.slice(0, i), s.slice(i + 1)] : [basename(s.replace(/\/+$/, '')).replace(/@.*$/, ''), s];
  const clean = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  if (!clean) throw new Error(`bench: cannot name "${s}"; write it as name=${s}`);
  return { name: clean, spec };
}

export interface GridCell {
  id: string;
  model: { name: string; spec: string };
  learner: LearnerName;
  dataset: { name: string; spec: string };
  ablation: string | null;
  overrides: Record<string, unknown>;
}

export function gridCells(models: string[], learners: string[], datasets: string[], ablate: string[]): GridCell[] {
  if (learners.length === 1 && learners[0] === 'all') learners = [...LEARNER_NAMES];
  for (const l of learners) if (!(LEARNER_NAMES as readonly string[]).includes(l)) throw new Error(`bench: ${unknownLearnerMessage(l)}`);
  for (const a of ablate) if (!ABLATIONS[a]) throw new Error(`bench: unknown ablation "${a}" (${Object.keys(ABLATIONS).join(', ')})`);
  const cells: GridCell[] = [];
  for (const m of models.map(namedSpec)) {
    const family = familyOf(m);
    for (const l of learners as LearnerName[]) {
      if (!learnerSupports(l, family)) continue; // e.g. CRIS's image encoder is a CNN: textual learners only
      for (const d of datasets.map(namedSpec)) {
        const base = `${m.name}__${l}__${d.name}`;
        cells.push({ id: base, model: m, learner: l, dataset: d, ablation: null, overrides: {} });
        for (const a of ablate) {
          const ab = ABLATIONS[a]!;
          if (ab.learners && !ab.learners.includes(l)) continue;
          cells.push({ id: `${base}__${ab.name}`, model: m, learner: l, dataset: d, ablation: ab.name, overrides: ab.model });
        }
      }
    }
  }
  return cells;
}
