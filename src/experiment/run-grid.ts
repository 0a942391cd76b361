/**
 * Running the grid (`tunevlseg bench`): one TPE sweep per cell; each finished cell holds its best
 * trial's run folder, the trials and test-set predictions, laid out as `tunevlseg report` reads
 * them (src/train/run-folder.ts, docs/report.md). Finished cells are never rerun, so an
 * interrupted grid continues where it stopped.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { checkStudyName, openStorage, summarizeStudy, type StudyConfig, type StudyStorage } from '../sweep/index.js';
import { readConfigFile, type TrainConfigInput } from '../train/index.js';
import { predictFolder } from '../inference/predict.js';
import { datasetEmbeddings } from '../inference/embeddings.js';
import { benchFiles, runFiles, toTrialsJsonl, type BenchFiles } from '../train/run-folder.js';
import { familyOf, gridCells, type GridCell } from './grid.js';
import { planSweep, type SamplerChoice } from './sweep-plan.js';
import { trialsOnCuda, withRecipe } from './recipes.js';
import { intFlag } from './sweep.js';
import { autoObjective, checkTrialConfig, objectiveDirection, trainConfigDiff } from './trial.js';
import { parseDevices, runWorker, spawnWorkers } from './worker.js';

export interface GridOptions {
  models: string;
  learners: string;
  datasets: string;
  /** Default: each learner's original sweep's n_trials (20). */
  trials?: string;
  out: string;
  storage?: string;
  ablate?: string;
  config?: string;
  maxEpochs?: string;
  maxDepth?: string;
  /** Default: each learner's original sweep seed (quirks: reference), else 0. */
  seed?: string;
  /** auto (by quirks mode), optuna or tunevlseg (sweep-plan.ts). */
  sampler?: string;
  /** A run-script recipe (recipes.ts) for every cell. */
  recipe?: string;
  predictions: boolean;
  embeddings: boolean;
  quiet?: boolean;
  /** One worker process per device for each cell's sweep (`cuda:0,cuda:1`, `all`, `cpu,cpu`). */
  devices?: string;
}

const list = (s: string | undefined): string[] =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export async function runGrid(o: GridOptions): Promise<{ dir: string; ran: string[]; skipped: string[]; failed: FailedCell[] }> {
  const dir = resolve(o.out);
  const files = benchFiles(dir);
  const cells = gridCells(list(o.models), list(o.learners), list(o.datasets), list(o.ablate));
  if (cells.length === 0) throw new Error('bench: the grid is empty (check --models, --learners, --datasets)');
  const fileCfg = o.config ? readConfigFile(o.config) : {};
  let devices: string[] | null = null;
  if (o.devices !== undefined) {
    const { runtimeInfo } = await import('../torch/index.js');
    devices = parseDevices(o.devices, runtimeInfo().cudaDeviceCount);
  }
  const baseOf = async (cell: GridCell, log: (line: string) => void): Promise<TrainConfigInput> => {
    const base = {
      ...fileCfg,
      data: { ...((fileCfg.data as Record<string, unknown> | undefined) ?? {}), dir: resolve(cell.dataset.spec) },
      model: {
        ...((fileCfg.model as Record<string, unknown> | undefined) ?? {}),
        model: cell.model.spec,
        learner: cell.learner,
        ...cell.overrides,
      },
      runsDir: files.trials,
      ...(o.maxEpochs ? { maxEpochs: Number.parseInt(o.maxEpochs, 10) } : {}),
    } as TrainConfigInput;
    if (o.recipe === undefined) return base;
    return withRecipe(
      base,
      o.recipe,
      { learner: cell.learner, family: familyOf(cell.model), dataset: cell.dataset.name, cuda: await trialsOnCuda(devices, base.device) },
      log,
    );
  };
  // Every cell's name and config is checked before anything is written or run: a contradiction
  // (minEpochs > maxEpochs) would fail every trial of every cell.
  for (const cell of cells) {
    checkStudyName(cell.id);
    checkTrialConfig(await baseOf(cell, () => undefined), { file: o.config, flags: o.maxEpochs ? { maxEpochs: '--max-epochs' } : {} });
  }
  mkdirSync(files.cells, { recursive: true });
  const models = [...new Set(cells.map((c) => c.model.name))];
  writeFileSync(
    files.grid,
    JSON.stringify(
      {
        name: basename(dir),
        models,
        learners: [...new Set(cells.map((c) => c.learner))],
        datasets: [...new Set(cells.map((c) => c.dataset.name))],
        ablations: [...new Set(cells.map((c) => c.ablation).filter((a): a is string => a !== null))],
        specs: {
          models: Object.fromEntries(cells.map((c) => [c.model.name, c.model.spec])),
          datasets: Object.fromEntries(cells.map((c) => [c.dataset.name, resolve(c.dataset.spec)])),
        },
        trials: intFlag('--trials', o.trials) ?? 20,
      },
      null,
      2,
    ) + '\n',
  );
  const storageUrl = o.storage ?? `sqlite:${files.studies}`;
  const storage = await openStorage(storageUrl);
  const ran: string[] = [],
    skipped: string[] = [],
    failed: FailedCell[] = [];
  try {
    for (const [i, cell] of cells.entries()) {
      const cellDir = files.cell(cell.id);
      if (existsSync(runFiles(cellDir).summary)) {
        skipped.push(cell.id);
        if (!o.quiet) console.log(`[${i + 1}/${cells.length}] ${cell.id}: finished earlier, skipped`);
        continue;
      }
      const base = await baseOf(cell, console.log);
      const model = (base.model ?? {}) as Record<string, unknown>;
      const plan = await planSweep({
        learner: cell.learner,
        model,
        sampler: (o.sampler ?? 'auto') as SamplerChoice,
        seed: intFlag('--seed', o.seed),
        nTrials: intFlag('--trials', o.trials),
        maxDepth: intFlag('--max-depth', o.maxDepth),
        log: console.log,
      });
      const nTrials = plan.nTrials;
      if (!o.quiet)
        console.log(
          `[${i + 1}/${cells.length}] ${cell.id}: sweeping ${nTrials} trials (${plan.samplerName} TPE, seed ${plan.seed}${plan.source ? `, the space of ${plan.source}` : ''})`,
        );
      const objective = autoObjective(model);
      const config: StudyConfig = {
        name: cell.id,
        direction: objectiveDirection(objective),
        space: plan.space,
        seed: plan.seed,
        sampler: plan.sampler,
        lag: 0,
        attrs: {
          train: base,
          objective,
          nTrials,
          pruner: 'none',
          cell: cell.id,
          sampler: plan.samplerName,
          ...(plan.source ? { source: plan.source } : {}),
          ...(o.recipe ? { recipe: o.recipe } : {}),
        },
      };
      await restartFailedCellStudy(storage, cell.id, base, o.quiet === true);
      await storage.createStudy(config, { loadIfExists: true });
      if (devices === null) await runWorker(storage, cell.id, { nTrials, quiet: o.quiet });
      else {
        const codes = await spawnWorkers(storageUrl, cell.id, nTrials, devices, o.quiet === true);
        if (codes.some((c) => c !== 0)) console.error(`${cell.id}: worker exit codes ${codes.join(', ')}`);
      }
      const s = await summarizeStudy(storage, cell.id);
      const runDir = s.best?.attrs.runDir as string | undefined;
      if (!s.best || !runDir || !existsSync(runFiles(runDir).summary)) {
        const first = s.trials.find((t) => t.state === 'failed');
        const why = !s.best
          ? `no trial completed (${JSON.stringify(s.counts)})`
          : `the best trial's run folder ${String(runDir)} has no summary.json`;
        failed.push({
          cell: cell.id,
          reason: `${why}${first ? `; first failure, trial ${first.number}: ${first.error ?? 'unknown error'}` : ''}`,
        });
        // True: the next run starts a study without a completed trial again (restartFailedCellStudy).
        console.error(
          `${cell.id}: ${why}; the cell stays empty and is swept again by the next \`tunevlseg bench\` into this folder` +
            (first ? `. First failure: ${first.error ?? 'unknown error'}` : ''),
        );
        continue;
      }
      // Assemble the cell in a temporary folder, then rename: a half-written cell never looks finished.
      const tmp = `${cellDir}.partial`;
      const tmpFiles = runFiles(tmp);
      rmSync(tmp, { recursive: true, force: true });
      cpSync(runDir, tmp, { recursive: true });
      writeFileSync(tmpFiles.trials, toTrialsJsonl(s.trials));
      if (o.predictions) {
        const { loadTuned } = await import('../tuning/checkpoint.js');
        const { segmenter } = await loadTuned(tmpFiles.best);
        try {
          const cfg = JSON.parse(readFileSync(tmpFiles.config, 'utf8')) as { data?: { testSplit?: string | null } };
          const split = (cfg.data?.testSplit ?? 'test') as 'test';
          await predictFolder(segmenter, { input: resolve(cell.dataset.spec), split, outDir: tmpFiles.predictions });
        } finally {
          segmenter.dispose();
        }
      }
      rmSync(cellDir, { recursive: true, force: true });
      cpSync(tmp, cellDir, { recursive: true });
      rmSync(tmp, { recursive: true, force: true });
      ran.push(cell.id);
      if (!o.quiet) console.log(`${cell.id}: best trial ${s.best.number} (val loss ${String(s.best.value)}) -> ${cellDir}`);
    }
    if (o.embeddings) await writeEmbeddings(files, cells, fileCfg, o.quiet === true);
  } finally {
    await storage.close();
  }
  return { dir, ran, skipped, failed };
}

export interface FailedCell {
  cell: string;
  /** Why no trial of it completed: the counts and the first failure's whole message. */
  reason: string;
}

/**
 * A cell's study from an earlier run that holds no completed trial, and no trial running or
 * waiting, is deleted so that this run sweeps the cell again (with the config given now: a rerun
 * after fixing the config must not find the failed study "finished"). A study with completed
 * trials is kept and resumed, but only with the training config it was made with.
 */
async function restartFailedCellStudy(storage: StudyStorage, name: string, base: TrainConfigInput, quiet: boolean): Promise<void> {
  const study = await storage.loadStudy(name);
  if (!study) return;
  const trials = await storage.getTrials(study.id);
  const complete = trials.filter((t) => t.state === 'complete').length;
  const active = trials.some((t) => t.state === 'running' || t.state === 'waiting');
  if (complete === 0 && !active && trials.length > 0) {
    await storage.deleteStudy(name);
    if (!quiet)
      console.log(`${name}: the earlier sweep of this cell completed no trial (${trials.length} failed or pruned); sweeping it again`);
    return;
  }
  const keys = trainConfigDiff(study.attrs.train, base);
  if (keys.length > 0) {
    throw new Error(
      `cell ${name}: its study in ${storage.url} has ${complete} completed trial(s) with a different training config (differs in: ${keys.join(', ')}); ` +
        'bench into a new --out folder, or keep the config it was started with',
    );
  }
}

/**
 * Fig. 4's input: CLIP text and image embeddings of each dataset's test split from the first
 * CLIPSeg base model of the grid (the frozen towers: the same for every learner).
 */
async function writeEmbeddings(files: BenchFiles, cells: GridCell[], fileCfg: Record<string, unknown>, quiet: boolean): Promise<void> {
  const clipCell = cells.find((c) => familyOf(c.model) === 'clipseg');
  if (!clipCell) return;
  const datasets = [...new Map(cells.map((c) => [c.dataset.name, c.dataset])).values()].filter(
    (d) => !existsSync(files.embeddingsOf(d.name)),
  );
  if (datasets.length === 0) return;
  const { buildSegmenter } = await import('../tuning/factory.js');
  const { PromptedClipSeg } = await import('../tuning/clipseg.js');
  const modelCfg = { ...((fileCfg.model as Record<string, unknown> | undefined) ?? {}), model: clipCell.model.spec, learner: 'none' };
  const seg = await buildSegmenter(modelCfg);
  try {
    if (!(seg instanceof PromptedClipSeg)) return;
    const clip = seg.model.clip;
    mkdirSync(files.embeddings, { recursive: true });
    for (const d of datasets) {
      const e = await datasetEmbeddings(
        {
          info: seg.info,
          tokenize: (p) => seg.tokenize(p),
          textFeatures: (t) => clip.getTextFeatures(t.inputIds, t.attentionMask),
          imageFeatures: (px) => clip.getImageFeatures(px),
        },
        { dataset: d.name, dataDir: resolve(d.spec), model: clipCell.model.name },
      );
      writeFileSync(files.embeddingsOf(d.name), JSON.stringify(e));
      if (!quiet) console.log(`embeddings/${d.name}.json: ${e.text.labels.length} prompt(s), ${e.image.labels.length} image(s)`);
    }
  } finally {
    seg.dispose();
  }
}
