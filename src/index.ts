/**
 * `tunevlseg`: the public TypeScript API (package.json `exports` "."). Build a prompted
 * segmenter from a config, train it, evaluate it, predict with it:
 *
 *   import { buildSegmenter, train, evaluate, predictFolder, loadTuned } from 'tunevlseg';
 *
 * What the `eval` and `predict` commands do is `evaluateCheckpoint` (with `evalSourceOf`) and
 * `predictImages`, beside `train`.
 *
 * The tensor engine is `tunevlseg/torch`, datasets are `tunevlseg/data`, sweeps are
 * `tunevlseg/sweep`. Everything else under dist/ is internal and may move between versions.
 */
// Building: a model config -> a segmenter; a tuned checkpoint -> the segmenter it was trained as.
export * from './tuning/factory.js';
export * from './tuning/checkpoint.js';
export * from './tuning/segmenter.js';
export * from './tuning/clipseg.js';
export * from './tuning/cris.js';
export * from './tuning/prompted.js';
export { TinySegmenter, type TinySegmenterOptions } from './tuning/tiny-segmenter.js';
// The base models and the context learners.
export * from './models/clipseg/index.js';
export * from './models/cris/index.js';
export { ClipTokenizer } from './models/clip/tokenizer.js';
export * from './learners/index.js';
// Evaluation and prediction (src/inference: evaluate, predictFolder, evaluateCheckpoint, predictImages, ...),
// then training (src/train: train, resumeRun, checkpoints, run folders).
export * from './inference/index.js';
export * from './train/index.js';
// Files and JSON as the run folders and checkpoints write them.
export { stringifyJson, parseJson } from './util/json.js';
export { writeFileAtomic } from './util/atomic-write.js';
export { tunevlsegVersion } from './util/package-root.js';
/** The earlier name of `loadTunedInto`, kept for code written against it. */
export { loadTunedInto as loadCheckpointInto } from './tuning/checkpoint.js';
// TuneVLSeg's search spaces (src/sweep, `tunevlseg/sweep`, holds spaces as data and knows no learner).
export { COMMON_SPACE, learnerRows, learnerSpace, originalSpace, tuneVLSegSpace } from './experiment/spaces.js';
