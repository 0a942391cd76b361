/**
 * A small synthetic bench folder with known numbers, written exactly as docs/report.md lays
 * one out, for the report's tests.
 *
 * Grid: CLIPSeg x {MaPLe, VPT, CoOp} and CRIS x {CoOp} on Kvasir, BUSI and CAMUS, with
 * - one missing cell (CRIS CoOp / CAMUS),
 * - two seeds for CLIPSeg VPT / Kvasir (test Dice 0.80 and 0.84),
 * - the `init-gaussian` ablation for CLIPSeg MaPLe (Table 4) and `no-upsampler` for
 *   CLIPSeg VPT and CoOp (Table 5),
 * - six sweep trials per cell (four complete with a test Dice, one pruned, one failed),
 * - three epochs of metrics per run,
 * - predictions for Kvasir (predictions.json as `predictFolder` writes it, images and ground
 *   truth from the dataset folder `data/kvasir` named by config.json) and for BUSI (files only:
 *   `_mask`/`_overlay`/`_image`/`_gt` PNGs, per-sample Dice from eval/test.json),
 * - for Kvasir also CLIPSeg CoOp's predictions and the base model's (`zero-shot/clipseg__kvasir`),
 * - embeddings for the three datasets (CAMUS's image vectors as a float32 file).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { cellId, type CellKey } from '../src/report/load.js';
import { SeededRandom } from '../src/report/stats.js';
import { benchFiles, runFiles } from '../src/train/run-folder.js';
import { learnerFamily, learnersInPaperOrder } from '../src/learners/registry.js';

export interface SyntheticTrial {
  number: number;
  state: 'complete' | 'pruned' | 'failed';
  params: { lr: number; weight_decay: number; depth: number };
  value: number | null;
  testDice: number | null;
}

export interface SyntheticBench {
  dir: string;
  datasets: string[];
  /** Test Dice (in [0, 1]) of each written cell, one value per seed. */
  testDice: Record<string, number[]>;
  /** Grid cells with no folder. */
  missing: string[];
  trials: Record<string, SyntheticTrial[]>;
  /** Epoch records written per run folder. */
  epochs: number;
  /** Runs (run folders with metrics) per main-grid cell. */
  runs: Record<string, number>;
  /** Samples with predictions, per dataset. */
  predictions: Record<string, { cell: string; dice: number[] }>;
  /** Zero-shot per-sample Dice (`zero-shot/<model>__<dataset>`). */
  zeroShot: Record<string, number[]>;
  /** The gallery's prediction columns per dataset (zero-shot first, then the cells). */
  galleryColumns: Record<string, string[]>;
  /** Embedding vectors per dataset and modality. */
  embeddings: Record<string, { text: number; image: number }>;
}

const DATASETS = ['kvasir', 'busi', 'camus'];

/** Test Dice of the main grid's cells (in [0, 1]); CLIPSeg VPT / Kvasir repeats two seeds. */
const MAIN: Record<string, Record<string, number[]>> = {
  'clipseg/maple': { kvasir: [0.8612], busi: [0.6231], camus: [0.8455] },
  'clipseg/vpt': { kvasir: [0.8, 0.84], busi: [0.6702], camus: [0.8731] },
  'clipseg/coop': { kvasir: [0.7011], busi: [0.5123], camus: [0.7702] },
  'cris/coop': { kvasir: [0.7555], busi: [0.5834] },
};
/** The `init-gaussian` ablation's cell ("model/learner") and its test Dice. */
const GAUSSIAN = { cell: 'clipseg/maple', dice: { kvasir: 0.8401, busi: 0.6333, camus: 0.8012 } as Record<string, number> };
const [GAUSSIAN_MODEL, GAUSSIAN_LEARNER] = GAUSSIAN.cell.split('/') as [string, string];
/** The main grid's learners of a model, in MAIN's order. */
const learnersOf = (model: string): string[] =>
  Object.keys(MAIN)
    .filter((k) => k.startsWith(`${model}/`))
    .map((k) => k.slice(model.length + 1));
const NO_UPS: Record<string, Record<string, number>> = {
  vpt: { kvasir: 0.7912, busi: 0.6011, camus: 0.8523 },
  coop: { kvasir: 0.6814, busi: 0.5002, camus: 0.7405 },
};

export interface SyntheticBenchOptions {
  /**
   * Write `test.protocols` into every summary.json (`true`), into all but the CLIPSeg cells of
   * the last prompt learner in paper order (CoOp) (`'mixed'`: those look like runs made before
   * protocols), or nowhere (`false`, the default).
   */
  protocols?: boolean | 'mixed';
}

/** A cell's synthetic test Dice under each protocol, from its model-resolution Dice. */
export function syntheticProtocolDice(dice: number): Record<'model-resolution-reference' | 'original-size' | 'model-resolution', number> {
  return { 'model-resolution-reference': Math.min(1, dice + 0.005), 'original-size': Math.max(0, dice - 0.012), 'model-resolution': dice };
}

const json = (x: unknown): string => `${JSON.stringify(x, null, 1)}\n`;

function write(file: string, text: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

async function png(file: string, w: number, h: number, channels: 1 | 3, fill: (x: number, y: number, c: number) => number): Promise<void> {
  const data = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) for (let c = 0; c < channels; c++) data[(y * w + x) * channels + c] = fill(x, y, c);
  mkdirSync(path.dirname(file), { recursive: true });
  await sharp(data, { raw: { width: w, height: h, channels } })
    .png()
    .toFile(file);
}

const inBox = (x: number, y: number, i: number): boolean => x >= 4 + i && x < 14 + i && y >= 5 && y < 14;

async function writeRun(
  dir: string,
  key: CellKey,
  dice: number,
  seed: number,
  epochs: number,
  benchDir: string,
  protocols: boolean,
): Promise<void> {
  const val = Math.min(1, dice + 0.01);
  const files = runFiles(dir);
  write(
    files.config,
    json({
      name: cellId(key),
      runsDir: 'runs',
      seed,
      device: 'cpu',
      model: { base: key.model === 'clipseg' ? 'clipseg-rd64-refined' : 'cris', learner: key.learner, depth: 3 },
      data: {
        dir: path.relative(dir, path.join(benchDir, 'data', key.dataset)),
        trainSplit: 'train',
        valSplit: 'val',
        testSplit: 'test',
        promptKey: 'p1',
      },
      lr: 2e-4,
      weightDecay: 0.01,
      batchSize: 8,
      effectiveBatchSize: 32,
      maxEpochs: epochs,
    }),
  );
  const lines: string[] = [];
  for (let e = 1; e <= epochs; e++) {
    lines.push(
      JSON.stringify({
        type: 'step',
        epoch: e,
        step: 1,
        globalStep: e,
        samples: 32,
        loss: 1 - dice * (e / epochs) * 0.5,
        dice: 0.5,
        lr: 2e-4,
        imagesPerSecond: 10,
      }),
    );
    lines.push(
      JSON.stringify({
        type: 'epoch',
        epoch: e,
        globalStep: e,
        trainLoss: 0.9 - 0.1 * e,
        trainDice: 0.4 + 0.1 * e,
        valLoss: 0.95 - 0.1 * e,
        valDice: val - 0.05 * (epochs - e),
        valIou: val - 0.1,
        lr: 2e-4,
        lrReduced: false,
        best: true,
        earlyStoppingWait: 0,
        seconds: 1,
        imagesPerSecond: 10,
      }),
    );
  }
  const scores = (d: number) => ({ samples: 4, loss: 1 - d, dice: d, iou: d - 0.08 });
  lines.push(JSON.stringify({ type: 'final', val: scores(val), test: scores(dice), bestEpoch: epochs }));
  write(files.metrics, `${lines.join('\n')}\n`);
  write(
    files.summary,
    json({
      name: cellId(key),
      runDir: dir,
      status: 'completed',
      stopReason: 'max_epochs',
      epochs,
      globalSteps: epochs,
      bestEpoch: epochs,
      val: scores(val),
      test: {
        ...scores(dice),
        ...(protocols
          ? { protocols: Object.fromEntries(Object.entries(syntheticProtocolDice(dice)).map(([k, d]) => [k, { dice: d, iou: d - 0.08 }])) }
          : {}),
      },
      trainableParams: 1234,
      wallSeconds: 12.5,
      resumes: 0,
      seed,
      device: 'cpu',
      tunevlsegVersion: '0.1.0',
      checkpoints: { best: 'checkpoints/best.safetensors', last: 'checkpoints/last.safetensors' },
    }),
  );
}

function trialsFor(key: CellKey, best: number, rng: SeededRandom): SyntheticTrial[] {
  const out: SyntheticTrial[] = [];
  for (let i = 0; i < 6; i++) {
    const depth = 1 + ((i * 3 + key.dataset.length) % 10);
    const params = {
      lr: Number((1e-5 * Math.pow(500, rng.next())).toPrecision(4)),
      weight_decay: Number((1e-5 * Math.pow(1000, rng.next())).toPrecision(4)),
      depth,
    };
    const state = i === 4 ? 'pruned' : i === 5 ? 'failed' : 'complete';
    const testDice = state === 'complete' ? Number(Math.max(0, best - 0.02 * (3 - i) - 0.004 * depth).toFixed(4)) : null;
    const value = state === 'failed' ? null : Number((0.2 + rng.next() * 0.3).toFixed(4));
    out.push({ number: i, state, params, value, testDice });
  }
  return out;
}

/** Writes the synthetic bench into `dir` (created) and returns what it holds. */
export async function makeSyntheticBench(dir: string, o: SyntheticBenchOptions = {}): Promise<SyntheticBench> {
  mkdirSync(dir, { recursive: true });
  const info: SyntheticBench = {
    dir,
    datasets: DATASETS,
    testDice: {},
    missing: [],
    trials: {},
    epochs: 3,
    runs: {},
    predictions: {},
    zeroShot: {},
    galleryColumns: {},
    embeddings: {},
  };
  write(
    benchFiles(dir).grid,
    json({
      name: 'synthetic',
      models: ['clipseg', 'cris'],
      learners: { clipseg: learnersOf('clipseg'), cris: learnersOf('cris') },
      datasets: DATASETS,
      ablations: [
        { name: 'init-gaussian', models: [GAUSSIAN_MODEL], learners: [GAUSSIAN_LEARNER] },
        { name: 'no-upsampler', models: ['clipseg'], learners: Object.keys(NO_UPS) },
      ],
      sweep: { trials: 6, sampler: 'tpe' },
    }),
  );
  const rng = new SeededRandom(7);
  const cells: Array<{ key: CellKey; dice: number[] }> = [];
  for (const [ml, byDs] of Object.entries(MAIN)) {
    const [model, learner] = ml.split('/') as [string, string];
    for (const dataset of DATASETS) {
      const key: CellKey = { model, learner, dataset, ablation: null };
      const d = byDs[dataset];
      if (!d) info.missing.push(cellId(key));
      else cells.push({ key, dice: d });
    }
  }
  for (const dataset of DATASETS)
    cells.push({
      key: { model: GAUSSIAN_MODEL, learner: GAUSSIAN_LEARNER, dataset, ablation: 'init-gaussian' },
      dice: [GAUSSIAN.dice[dataset]!],
    });
  for (const [learner, byDs] of Object.entries(NO_UPS)) {
    for (const dataset of DATASETS)
      cells.push({ key: { model: 'clipseg', learner, dataset, ablation: 'no-upsampler' }, dice: [byDs[dataset]!] });
  }
  const oldStyleLearner = learnersInPaperOrder()
    .filter((l) => learnerFamily(l) === 'prompt')
    .at(-1);
  for (const { key, dice } of cells) {
    const id = cellId(key);
    const protocols = o.protocols === true || (o.protocols === 'mixed' && !(key.model === 'clipseg' && key.learner === oldStyleLearner));
    const cdir = benchFiles(dir).cell(id);
    info.testDice[id] = dice;
    if (dice.length > 1) {
      for (let s = 0; s < dice.length; s++) await writeRun(path.join(cdir, `seed-${s}`), key, dice[s]!, s, info.epochs, dir, protocols);
    } else {
      await writeRun(cdir, key, dice[0]!, 0, info.epochs, dir, protocols);
    }
    if (key.ablation === null) info.runs[id] = dice.length;
    const trials = trialsFor(key, Math.max(...dice), rng);
    info.trials[id] = trials;
    write(
      runFiles(cdir).trials,
      trials.map((t) => JSON.stringify({ ...t, seq: t.number, attrs: { valDice: t.testDice } })).join('\n') + '\n',
    );
  }

  // Kvasir: a dataset folder and predictions as predictFolder writes them (absolute paths).
  const kv = path.join(dir, 'data', 'kvasir');
  const anns: unknown[] = [];
  const kvCell = benchFiles(dir).cell('clipseg__maple__kvasir');
  const kvPred = runFiles(kvCell).predictions;
  const kvDice = [0.95, 0.2, 0.7, 0.55];
  const files: unknown[] = [];
  for (let i = 0; i < kvDice.length; i++) {
    const name = `img${i}.png`;
    anns.push({ img_name: `img${i}.png`, mask_name: name, prompts: { p1: 'polyp' } });
    await png(path.join(kv, 'images', `img${i}.png`), 24, 20, 3, (x, y, c) => (c === 0 ? 40 + 8 * x : c === 1 ? 30 + 9 * y : 90));
    await png(path.join(kv, 'masks', name), 24, 20, 1, (x, y) => (inBox(x, y, i) ? 255 : 0));
    await png(path.join(kvPred, name), 24, 20, 1, (x, y) => (inBox(x, y, i + 1) ? 255 : 0));
    await png(path.join(kvPred, `img${i}_prob.png`), 24, 20, 1, (x, y) => (inBox(x, y, i + 1) ? 230 : 10));
    await png(path.join(kvPred, `img${i}_overlay.png`), 24, 20, 3, (x, y, c) => (inBox(x, y, i + 1) && c === 0 ? 250 : 60));
    files.push({
      name,
      mask: path.join(kvPred, name),
      prob: path.join(kvPred, `img${i}_prob.png`),
      overlay: path.join(kvPred, `img${i}_overlay.png`),
      prompt: 'polyp.',
      width: 24,
      height: 20,
      foreground: 90,
      loss: 1 - kvDice[i]!,
      dice: kvDice[i]!,
      iou: kvDice[i]! - 0.1,
    });
  }
  write(path.join(kv, 'anns', 'test.json'), json(anns));
  write(path.join(kvPred, 'predictions.json'), json({ outDir: kvPred, files, means: { samples: 4, loss: 0.4, dice: 0.6, iou: 0.5 } }));
  info.predictions.kvasir = { cell: 'clipseg__maple__kvasir', dice: kvDice };
  // The same images predicted by CLIPSeg CoOp and by the frozen base model (zero-shot/), for the gallery's columns.
  const others: Array<[string, number[]]> = [
    [path.join(dir, 'cells', 'clipseg__coop__kvasir'), [0.85, 0.3, 0.5, 0.45]],
    [path.join(dir, 'zero-shot', 'clipseg__kvasir'), [0.4, 0.05, 0.2, 0.1]],
  ];
  for (const [runDir, dices] of others) {
    const pred = path.join(runDir, 'predictions');
    const fs: unknown[] = [];
    for (let i = 0; i < dices.length; i++) {
      await png(path.join(pred, `img${i}.png`), 24, 20, 1, (x, y) => (inBox(x, y, i + 2) ? 255 : 0));
      fs.push({ name: `img${i}.png`, mask: `img${i}.png`, prompt: 'polyp.', dice: dices[i]!, iou: dices[i]! - 0.1 });
    }
    write(path.join(pred, 'predictions.json'), json({ files: fs }));
    if (runDir.includes('zero-shot'))
      write(path.join(runDir, 'config.json'), json({ data: { dir: path.relative(runDir, kv), testSplit: 'test' } }));
  }
  info.zeroShot = { clipseg__kvasir: [0.4, 0.05, 0.2, 0.1] };
  info.galleryColumns = { kvasir: ['zero-shot/clipseg', 'clipseg__maple__kvasir', 'clipseg__coop__kvasir'], busi: ['clipseg__vpt__busi'] };

  // BUSI: files only, scores from eval/test.json (the best BUSI cell is CLIPSeg VPT).
  const buCell = path.join(dir, 'cells', 'clipseg__vpt__busi');
  const buPred = path.join(buCell, 'predictions');
  const buDice = [0.1, 0.9, 0.5];
  const per: unknown[] = [];
  for (let i = 0; i < buDice.length; i++) {
    const stem = `case${i}`;
    await png(path.join(buPred, `${stem}_image.png`), 20, 20, 3, (x, y) => 60 + 5 * ((x + y) % 20));
    await png(path.join(buPred, `${stem}_gt.png`), 20, 20, 1, (x, y) => (inBox(x, y, i) ? 255 : 0));
    await png(path.join(buPred, `${stem}_mask.png`), 20, 20, 1, (x, y) => (inBox(x, y, 2 * i) ? 255 : 0));
    await png(path.join(buPred, `${stem}_overlay.png`), 20, 20, 3, (x, y, c) => (inBox(x, y, 2 * i) && c === 0 ? 240 : 70));
    per.push({ name: `${stem}.png`, index: i, prompt: 'tumor.', loss: 1 - buDice[i]!, dice: buDice[i]!, iou: buDice[i]! - 0.05 });
  }
  write(path.join(buCell, 'eval', 'test.json'), json({ split: 'test', samples: 3, loss: 0.5, dice: 0.5, iou: 0.45, perSample: per }));
  info.predictions.busi = { cell: 'clipseg__vpt__busi', dice: buDice };

  // Embeddings: well-separated clusters per dataset.
  const dim = 16;
  const erng = new SeededRandom(11);
  const cluster = (centre: number, n: number): number[][] =>
    Array.from({ length: n }, () =>
      Array.from({ length: dim }, (_, k) => (k % DATASETS.length === centre ? 4 : 0) + 0.3 * erng.gaussian()),
    );
  DATASETS.forEach((ds, c) => {
    const text = cluster(c, 3);
    const image = cluster(c, 15);
    const labels = image.map((_, i) => `${ds}/img${i}.png`);
    const doc: Record<string, unknown> = {
      format: 'tunevlseg-embeddings/1',
      dataset: ds,
      model: 'clipseg-rd64-refined',
      text: { labels: text.map((_, i) => `${ds} prompt ${i}`), vectors: text },
    };
    if (ds === 'camus') {
      const buf = Buffer.alloc(image.length * dim * 4);
      image.forEach((v, i) => v.forEach((x, j) => buf.writeFloatLE(x, (i * dim + j) * 4)));
      write(path.join(dir, 'embeddings', `${ds}.image.f32`), buf);
      doc.image = { labels, file: `${ds}.image.f32`, dim };
    } else {
      doc.image = { labels, vectors: image };
    }
    write(path.join(dir, 'embeddings', `${ds}.json`), JSON.stringify(doc));
    info.embeddings[ds] = { text: text.length, image: image.length };
  });
  return info;
}
