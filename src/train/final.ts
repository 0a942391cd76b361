/**
 * The last stage of a training run: the best checkpoint scored again on val and test under
 * every evaluation protocol (src/inference/protocols.ts), eval/{val,test}.json, the final metrics
 * line and summary.json.
 */
import path from 'node:path';
import { loadTunedInto } from '../tuning/checkpoint.js';
import { stringifyJson } from '../util/json.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { tunevlsegVersion } from '../util/package-root.js';
import { evaluateLoader, type EvalMeans, type EvalResult } from '../inference/evaluate.js';
import { EVAL_PROTOCOLS } from '../inference/protocols.js';
import type { EpochRecord, TrainSummary, TrainerState } from './records.js';
import { appendLine, type TrainingRun } from './run-setup.js';
import { validationsPerEpoch } from './validation-rules.js';
import { testDraws, valDraws } from './run-evaluation.js';

export async function finalEvaluation(run: TrainingRun, st: TrainerState): Promise<TrainSummary> {
  const { config, files, segmenter, device, progress, lossCfg, quirks, batchSize, selectBy, trainableParams, tf32, memory } = run;
  const runDir = files.dir;
  const valLoader = run.loaders.val,
    testLoader = run.loaders.test;
  progress.message(`evaluating the best checkpoint (epoch ${st.best.epoch}, val Dice ${st.best.dice.toFixed(4)})`);
  loadTunedInto(segmenter, files.best);
  const evalOpts = { threshold: config.threshold, loss: lossCfg, device, protocols: EVAL_PROTOCOLS, precision: config.precision };
  // Augmented evaluation (issue 24 row 8): val with the draws of the best epoch's validation, so
  // its scores are that epoch's; test with a stream of its own.
  const ea = run.evalAugment;
  const valRes = await evaluateLoader(segmenter, valLoader, { ...evalOpts, ...(ea ? { augment: valDraws(ea, st.best.index) } : {}) });
  const testRes = testLoader
    ? await evaluateLoader(segmenter, testLoader, { ...evalOpts, ...(ea ? { augment: testDraws(ea) } : {}) })
    : null;
  writeEval(path.join(files.evalDir, 'val.json'), config.data.valSplit, valRes);
  if (testRes && run.testSplit) writeEval(path.join(files.evalDir, 'test.json'), run.testSplit, testRes);
  const means = (r: EvalResult): EvalMeans => ({
    samples: r.samples,
    loss: r.loss,
    dice: r.dice,
    iou: r.iou,
    ...(r.protocols ? { protocols: r.protocols } : {}),
  });
  const summary: TrainSummary = {
    name: config.name,
    runDir,
    status: 'completed',
    stopReason: st.stopReason ?? 'max_epochs',
    ...(st.diverged ? { diverged: st.diverged } : {}),
    epochs: st.epoch,
    globalSteps: st.globalStep,
    bestEpoch: st.best.epoch,
    bestValidation: { epoch: st.best.epoch, batch: st.best.batch, globalStep: st.best.globalStep, index: st.best.index },
    val: means(valRes),
    test: testRes ? means(testRes) : null,
    lastEpoch: st.history[st.history.length - 1]!,
    metricsProtocol: 'model-resolution',
    quirks,
    batchSize,
    checkpointSelection: selectBy,
    evaluation: { augmented: ea !== null, testSplit: testRes ? run.testSplit : null },
    validation: {
      checkEveryPasses: run.validationEvery,
      perEpoch: validationsPerEpoch(run.validationEvery, run.loaders.train.length),
      earlyStoppingMonitor: config.earlyStopping.monitor,
    },
    trainableParams,
    wallSeconds: run.elapsed(),
    resumes: st.resumes,
    seed: config.seed,
    device,
    precision: config.precision,
    tf32: tf32 ? { matmul: tf32.tf32Matmul, cudnn: tf32.tf32Cudnn } : null,
    peakMemory: memory.read(),
    imagesPerSecond: trainImagesPerSecond(st.history, run.sizes.train, batchSize),
    tunevlsegVersion: tunevlsegVersion(),
    checkpoints: { best: path.relative(runDir, files.best), last: path.relative(runDir, files.last) },
  };
  appendLine(files.metrics, { type: 'final', val: summary.val, test: summary.test, bestEpoch: summary.bestEpoch });
  writeFileAtomic(files.summary, `${stringifyJson(summary, 2)}\n`);
  const t = summary.test;
  const orig = t?.protocols?.['original-size'];
  progress.message(
    `done: ${summary.epochs} epochs (${summary.stopReason}), best epoch ${summary.bestEpoch}: val Dice ${summary.val.dice.toFixed(4)} IoU ${summary.val.iou.toFixed(4)}` +
      (t ? `, test Dice ${t.dice.toFixed(4)} IoU ${t.iou.toFixed(4)} (model-resolution)` : '') +
      (orig ? `, ${orig.dice.toFixed(4)} / ${orig.iou.toFixed(4)} (original-size)` : '') +
      ` -> ${files.summary}`,
  );
  return summary;
}

/** Training images per second over all epochs: each epoch's images (N, fewer when early stopping cut it) over its training time. */
function trainImagesPerSecond(history: readonly EpochRecord[], n: number, batchSize: number): number {
  const images = (r: EpochRecord): number => (r.batches !== undefined ? Math.min(n, r.batches * batchSize) : n);
  const seconds = history.reduce((s, r) => s + (r.imagesPerSecond > 0 ? images(r) / r.imagesPerSecond : 0), 0);
  return seconds > 0 ? history.reduce((s, r) => s + images(r), 0) / seconds : 0;
}

function writeEval(file: string, split: string, r: EvalResult): void {
  writeFileAtomic(
    file,
    `${stringifyJson({ split, samples: r.samples, loss: r.loss, dice: r.dice, iou: r.iou, metricsProtocol: 'model-resolution', protocols: r.protocols ?? null, perSample: r.perSample }, 1)}\n`,
  );
}
