/**
 * TuneVLSeg's search spaces (paper Tab. 2), built from the learner registry: the rows every
 * learner shares, each learner's own rows, the original's sweep of a learner, and one space over
 * several learners. They sit in the experiment layer, next to the trials that sample them, so
 * that src/sweep (the public `tunevlseg/sweep`: TPE, storage, spaces as data) knows no learner.
 */
import { LEARNER_NAMES, isLearnerName, learnerEntry, learnerFamily } from '../learners/registry.js';
import { referenceOptionName } from '../learners/reference.js';
import type { LearnerName } from '../learners/types.js';
import { SpaceError, type Distribution, type SearchSpace } from '../sweep/space.js';

/** Rows every learner shares: lr log [1e-5, 5e-3], weight decay log [1e-5, 1e-2], depth 1..10. */
export const COMMON_SPACE: SearchSpace = {
  params: {
    lr: { type: 'float', low: 1e-5, high: 5e-3, log: true },
    weight_decay: { type: 'float', low: 1e-5, high: 1e-2, log: true },
    prompt_depth: { type: 'int', low: 1, high: 10 },
  },
};

/**
 * A learner's own rows (paper Tab. 2): its registry entry's search rows, renamed from our option
 * names to the paper's (intermediateDim -> intermediate_dim, heads -> nhead, ...).
 */
export function learnerRows(learner: LearnerName): Readonly<Record<string, Distribution>> {
  if (!isLearnerName(learner)) throw new SpaceError(`unknown learner "${learner}"; expected one of ${LEARNER_NAMES.join(', ')}`);
  return Object.fromEntries(Object.entries(learnerEntry(learner).searchRows).map(([k, d]) => [referenceOptionName(k), d]));
}

/**
 * The flat space for one learner: the common rows (or, for a method with its own training rows,
 * those: e.g. the adapters' lr and batch size of VLSM-Adapter's search), then the learner's own.
 */
export function learnerSpace(learner: LearnerName): SearchSpace {
  const rows = learnerRows(learner);
  return { params: { ...(learnerEntry(learner).trainingSearchRows ?? COMMON_SPACE.params), ...rows } };
}

/**
 * The original's sweep space of a learner (its registry entry's `originalSweep`: the Optuna
 * distributions of configs/hparams_search/<learner>_optuna.yaml, named as there without
 * `model.`), or null when the original has no sweep of it.
 */
export function originalSpace(learner: LearnerName): SearchSpace | null {
  if (!isLearnerName(learner)) throw new SpaceError(`unknown learner "${learner}"; expected one of ${LEARNER_NAMES.join(', ')}`);
  const sweep = learnerEntry(learner).originalSweep;
  return sweep ? { params: { ...sweep.params } } : null;
}

/**
 * One space over several learners: `learner` is a categorical, the common rows are shared,
 * and each learner's own rows are conditional on it. Default: the paper's prompt learners; a
 * method with its own training rows (no prompt depth) has no place in a shared space.
 */
export function tuneVLSegSpace(learners: readonly LearnerName[] = LEARNER_NAMES.filter((l) => learnerFamily(l) === 'prompt')): SearchSpace {
  const when: Record<string, SearchSpace> = {};
  for (const l of learners) {
    if (isLearnerName(l) && learnerEntry(l).trainingSearchRows) {
      throw new SpaceError(
        `learner "${l}" has its own training rows (${Object.keys(learnerEntry(l).trainingSearchRows!).join(', ')}): sweep it in a study of its own`,
      );
    }
    const rows = learnerRows(l);
    if (Object.keys(rows).length > 0) when[l] = { params: { ...rows } };
  }
  return { params: { learner: { type: 'categorical', choices: [...learners] }, ...COMMON_SPACE.params }, when: { learner: when } };
}
