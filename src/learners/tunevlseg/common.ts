/**
 * What the registry entries of TuneVLSeg's six learners share (as vlsm-adapter/common.ts is
 * VLSM-Adapter's): the rows every original sweep file starts with, the projection learners' search
 * rows and reference-class defaults. Not a learner (no entry): a folder of shared pieces.
 */
import type { OriginalSweep, SearchRow } from '../entry.js';

/**
 * The rows every original sweep file starts with. hydra-optuna-sweeper 1.2 reads
 * `tag(log, interval(a, b))` as LogUniformDistribution(a, b) and `range(a, b)` as
 * IntUniformDistribution(a, b), whose upper bound Optuna includes: depth 1..11.
 */
const ORIGINAL_COMMON_ROWS = {
  'optimizer.lr': { type: 'float', low: 1e-5, high: 5e-3, log: true }, // tag(log, interval(1e-5, 5e-3))
  weight_decay: { type: 'float', low: 1e-5, high: 0.01, log: true }, // tag(log, interval(1e-5, 0.01))
  'net.context_learner.prompt_depth': { type: 'int', low: 1, high: 11 }, // range(1, 11)
} as const;

/** The original's sweep file `configs/hparams_search/<file>` (naamiinepal/tunevlseg @ 7956bcd): the common rows, then the learner's own. */
export const originalSweep = (file: string, seed: number, own: Readonly<Record<string, SearchRow>> = {}): OriginalSweep => ({
  file: `configs/hparams_search/${file}`,
  seed,
  nTrials: 20,
  params: { ...ORIGINAL_COMMON_ROWS, ...own },
});

/** `choice(true, false)`: a categorical in the order written (the order random sampling and TPE index). */
export const TRUE_FALSE = { type: 'categorical', choices: [true, false] } as const;

/** The projection learners' rows of paper Tab. 2 (our option names). */
export const PROJECTION_ROWS = {
  intermediateDim: { type: 'categorical', choices: [32, 64, 96] },
  useLoraProj: { type: 'categorical', choices: [false, true] },
} as const;

/** The reference BaseProjectorLearner's defaults (for keys a reference section leaves out). */
export const PROJECTION_REFERENCE_DEFAULTS = { useUnifiedProjection: true, intermediateDim: null, useProjNorm: false, useLoraProj: false };

/** The medical datasets the run scripts loop over (`ds_name`s bkai_polyp ... isic, as recipes.ts keys them). */
export const SCRIPT_MEDICAL_DATASETS = ['bkai', 'clinicdb', 'kvasir', 'busi', 'chexlocalize', 'dfu', 'isic'] as const;
