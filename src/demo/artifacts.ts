/**
 * What the demo writes besides scores, so that its report shows masks and the domain shift:
 * - the test-split predictions (masks, per-sample Dice) of the frozen base model (zero-shot)
 *   and of each tuned learner's best checkpoint, as `predictFolder` writes them;
 * - the CLIP text and image embeddings of both domains from the frozen base model (Fig. 4).
 * Laid out in the run folder as `zero-shot/predictions/`, `tuning/<learner>/predictions/` and
 * `embeddings/<domain>.json`; src/demo/report.ts turns them into a bench folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { predictFolder } from '../inference/predict.js';
import { datasetEmbeddings } from '../inference/embeddings.js';
import { loadTuned } from '../tuning/checkpoint.js';
import type { Segmenter } from '../tuning/segmenter.js';
import type { ClipsegFullSegmenter } from './model.js';

/** Writes a segmenter's test-split predictions (masks and per-sample scores, no overlays) into `outDir`. */
export async function writeTestPredictions(seg: Segmenter, dataDir: string, outDir: string, workers: number): Promise<void> {
  await predictFolder(seg, { input: dataDir, split: 'test', outDir, overlays: false, batchSize: 50, workers, promptKey: 'p1' });
}

/** The test-split predictions of a finished learner run (its best checkpoint), into `<runDir>/predictions`. */
export async function writeLearnerPredictions(runDir: string, dataDir: string, workers: number): Promise<void> {
  const { segmenter } = await loadTuned(path.join(runDir, 'checkpoints', 'best.safetensors'));
  try {
    segmenter.eval();
    await writeTestPredictions(segmenter, dataDir, path.join(runDir, 'predictions'), workers);
  } finally {
    segmenter.dispose();
  }
}

/** CLIP text (each distinct prompt) and image embeddings of a domain's test split, from the frozen base model. */
export async function writeDomainEmbeddings(
  base: ClipsegFullSegmenter,
  dataset: string,
  dataDir: string,
  file: string,
  maxImages = 200,
): Promise<{ text: number; image: number }> {
  const clip = base.model.clip;
  const e = await datasetEmbeddings(
    {
      info: base.info,
      tokenize: (p) => base.tokenize(p),
      textFeatures: (t) => clip.getTextFeatures(t.inputIds, t.attentionMask),
      imageFeatures: (px) => clip.getImageFeatures(px),
    },
    { dataset, dataDir, model: 'tiny-clipseg', maxImages, batchSize: 64 },
  );
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(e));
  return { text: e.text.labels.length, image: e.image.labels.length };
}
