// `tunevlseg bench`: the paper's grid (models x learners x datasets, plus ablations) as one
// TPE sweep per cell; each finished cell holds its best trial's run folder, the trials and
// test-set predictions, laid out as `tunevlseg report` reads them (docs/report.md). Finished
// cells are never rerun, so an interrupted bench continues where it stopped.
import type { Command } from 'commander';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { openStorage, summarizeStudy, LEARNERS, type LearnerName, type StudyConfig } from '../sweep/index.js';
import { readConfigFile, predictFolder, datasetEmbeddings, type TrainConfigInput } from '../train/index.js';
import { toTrialsJsonl } from '../report/index.js';
import { runWorker, sweepSpace, autoObjective } from './sweep.js';
import { learnerSupports, learnersFor, learnersWithOption } from '../learners/registry.js';
import { familyOfModelSpec } from '../tuning/factory.js';

export const ABLATIONS: Record<string, { name: string; model: Record<string, unknown>; learners?: readonly string[] }> = {
  // Table 4: MaPLe (and the other initialised learners) from N(0, 0.02) instead of "a photo of a".
  init: { name: 'init-gaussian', model: { contextInitializer: null }, get learners() { return learnersWithOption('contextInitializer'); } },
  // Table 5: no learnable upsampler.
  upsampler: { name: 'no-upsampler', model: { useNewLastLayer: false } },
};

/**
 * The grid's base model: the original's experiment configs load `CIDAS/clipseg-rd64` (and its
 * tokenizer), not `-refined` (which `clipseg` names elsewhere), so the paper's numbers come from
 * it. Every other preset stays available through --models.
 */
export const BENCH_DEFAULT_MODELS = 'clipseg=CIDAS/clipseg-rd64';

/** "name=spec" or "spec" (name = the spec's last path part, cleaned for a cell id). */
export function namedSpec(s: string): { name: string; spec: string } {
  const i = s.indexOf('=');
  const [name, spec] = i > 0 ? [s.slice(0, i), s.slice(i + 1)] : [basename(s.replace(/\/+$/, '')).replace(/@.*$/, ''), s];
  const clean = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  if (!clean) throw new Error(`bench: cannot name "${s}"; write it as name=${s}`);
  return { name: clean, spec };
}

export interface BenchCell { id: string; model: { name: string; spec: string }; learner: LearnerName; dataset: { name: string; spec: string }; ablation: string | null; overrides: Record<string, unknown> }

export function benchCells(models: string[], learners: string[], datasets: string[], ablate: string[]): BenchCell[] {
  for (const l of learners) if (!(LEARNERS as readonly string[]).includes(l)) throw new Error(`bench: unknown learner "${l}" (${LEARNERS.join(', ')})`);
  for (const a of ablate) if (!ABLATIONS[a]) throw new Error(`bench: unknown ablation "${a}" (${Object.keys(ABLATIONS).join(', ')})`);
  const cells: BenchCell[] = [];
  for (const m of models.map(namedSpec)) {
    const family = familyOfModelSpec(m.name, m.spec);
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

export interface BenchOptions {
  models: string;
  learners: string;
  datasets: string;
  trials: string;
  out: string;
  storage?: string;
  ablate?: string;
  config?: string;
  maxEpochs?: string;
  maxDepth: string;
  seed: string;
  predictions: boolean;
  embeddings: boolean;
  quiet?: boolean;
}

const list = (s: string | undefined): string[] => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);

export async function runBench(o: BenchOptions): Promise<{ dir: string; ran: string[]; skipped: string[] }> {
  const dir = resolve(o.out);
  const cells = benchCells(list(o.models), list(o.learners), list(o.datasets), list(o.ablate));
  if (cells.length === 0) throw new Error('bench: the grid is empty (check --models, --learners, --datasets)');
  mkdirSync(join(dir, 'cells'), { recursive: true });
  const models = [...new Set(cells.map((c) => c.model.name))];
  writeFileSync(join(dir, 'bench.json'), JSON.stringify({
    name: basename(dir), models, learners: [...new Set(cells.map((c) => c.learner))], datasets: [...new Set(cells.map((c) => c.dataset.name))],
    ablations: [...new Set(cells.map((c) => c.ablation).filter((a): a is string => a !== null))],
    specs: { models: Object.fromEntries(cells.map((c) => [c.model.name, c.model.spec])), datasets: Object.fromEntries(cells.map((c) => [c.dataset.name, resolve(c.dataset.spec)])) },
    trials: Number.parseInt(o.trials, 10),
  }, null, 2) + '\n');
  const fileCfg = o.config ? readConfigFile(o.config) : {};
  const storageUrl = o.storage ?? `sqlite:${join(dir, 'studies.db')}`;
  const storage = await openStorage(storageUrl);
  const ran: string[] = [], skipped: string[] = [];
  try {
    for (const [i, cell] of cells.entries()) {
      const cellDir = join(dir, 'cells', cell.id);
      if (existsSync(join(cellDir, 'summary.json'))) {
        skipped.push(cell.id);
        if (!o.quiet) console.log(`[${i + 1}/${cells.length}] ${cell.id}: finished earlier, skipped`);
        continue;
      }
      if (!o.quiet) console.log(`[${i + 1}/${cells.length}] ${cell.id}: sweeping ${o.trials} trials`);
      const base = {
        ...fileCfg,
        data: { ...((fileCfg.data as Record<string, unknown> | undefined) ?? {}), dir: resolve(cell.dataset.spec) },
        model: { ...((fileCfg.model as Record<string, unknown> | undefined) ?? {}), model: cell.model.spec, learner: cell.learner, ...cell.overrides },
        runsDir: join(dir, 'trials'),
        ...(o.maxEpochs ? { maxEpochs: Number.parseInt(o.maxEpochs, 10) } : {}),
      } as TrainConfigInput;
      const nTrials = Number.parseInt(o.trials, 10);
      const config: StudyConfig = {
        name: cell.id, direction: 'minimize', space: sweepSpace(cell.learner, Number.parseInt(o.maxDepth, 10)), seed: Number.parseInt(o.seed, 10), lag: 0,
        attrs: { train: base, objective: autoObjective(base.model ?? {}), nTrials, pruner: 'none', cell: cell.id },
      };
      await storage.createStudy(config, { loadIfExists: true });
      await runWorker(storage, cell.id, { nTrials, quiet: o.quiet });
      const s = await summarizeStudy(storage, cell.id);
      const runDir = s.best?.attrs.runDir as string | undefined;
      if (!s.best || !runDir || !existsSync(join(runDir, 'summary.json'))) {
        console.error(`${cell.id}: no successful trial (${JSON.stringify(s.counts)}); the cell stays empty and will be retried`);
        continue;
      }
      // Assemble the cell in a temporary folder, then rename: a half-written cell never looks finished.
      const tmp = `${cellDir}.partial`;
      rmSync(tmp, { recursive: true, force: true });
      cpSync(runDir, tmp, { recursive: true });
      writeFileSync(join(tmp, 'trials.jsonl'), toTrialsJsonl(s.trials));
      if (o.predictions) {
        const { loadTuned } = await import('../tuning/checkpoint.js');
        const { segmenter } = await loadTuned(join(tmp, 'checkpoints', 'best.safetensors'));
        try {
          const cfg = JSON.parse(readFileSync(join(tmp, 'config.json'), 'utf8')) as { data?: { testSplit?: string | null } };
          const split = (cfg.data?.testSplit ?? 'test') as 'test';
          await predictFolder(segmenter, { input: resolve(cell.dataset.spec), split, outDir: join(tmp, 'predictions') });
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
    if (o.embeddings) await writeEmbeddings(dir, cells, fileCfg, o.quiet === true);
  } finally {
    await storage.close();
  }
  return { dir, ran, skipped };
}

/**
 * Fig. 4's input: CLIP text and image embeddings of each dataset's test split from the first
 * CLIPSeg base model of the grid (the frozen towers: the same for every learner).
 */
async function writeEmbeddings(dir: string, cells: BenchCell[], fileCfg: Record<string, unknown>, quiet: boolean): Promise<void> {
  const clipCell = cells.find((c) => familyOfModelSpec(c.model.name, c.model.spec) === 'clipseg');
  if (!clipCell) return;
  const datasets = [...new Map(cells.map((c) => [c.dataset.name, c.dataset])).values()].filter((d) => !existsSync(join(dir, 'embeddings', `${d.name}.json`)));
  if (datasets.length === 0) return;
  const { buildSegmenter } = await import('../tuning/factory.js');
  const { PromptedClipSeg } = await import('../tuning/clipseg.js');
  const modelCfg = { ...((fileCfg.model as Record<string, unknown> | undefined) ?? {}), model: clipCell.model.spec, learner: 'none' };
  const seg = await buildSegmenter(modelCfg);
  try {
    if (!(seg instanceof PromptedClipSeg)) return;
    const clip = seg.model.clip;
    mkdirSync(join(dir, 'embeddings'), { recursive: true });
    for (const d of datasets) {
      const e = await datasetEmbeddings({
        info: seg.info, tokenize: (p) => seg.tokenize(p),
        textFeatures: (t) => clip.getTextFeatures(t.inputIds, t.attentionMask),
        imageFeatures: (px) => clip.getImageFeatures(px),
      }, { dataset: d.name, dataDir: resolve(d.spec), model: clipCell.model.name });
      writeFileSync(join(dir, 'embeddings', `${d.name}.json`), JSON.stringify(e));
      if (!quiet) console.log(`embeddings/${d.name}.json: ${e.text.labels.length} prompt(s), ${e.image.labels.length} image(s)`);
    }
  } finally {
    seg.dispose();
  }
}

export function registerBenchCommand(program: Command): void {
  program.command('bench')
    .description('run the benchmark grid (one TPE sweep per model x learner x dataset cell, plus ablations) into a bench folder for `tunevlseg report`')
    .requiredOption('--datasets <list>', 'comma-separated dataset folders, optionally name=folder (e.g. kvasir=data/Kvasir-SEG)')
    .option('--models <list>', 'comma-separated base models (preset, folder, hub id; optionally name=spec). Default: CIDAS/clipseg-rd64, the model (and tokenizer) the original experiment configs load, not -refined', BENCH_DEFAULT_MODELS)
    .option('--learners <list>', `comma-separated learners (${LEARNERS.join(', ')}); CRIS gets only ${learnersFor('cris').join(', ')}`, LEARNERS.join(','))
    .option('--trials <n>', 'TPE trials per cell (paper: 20)', '20')
    .option('--out <dir>', 'bench folder', 'bench')
    .option('--storage <url>', 'study storage (default sqlite:<bench>/studies.db; postgres://... to share cells with workers)')
    .option('--ablate <list>', `ablations: ${Object.keys(ABLATIONS).join(', ')} (Tables 4 and 5)`)
    .option('-c, --config <file>', 'base training config (docs/train.md)')
    .option('--max-epochs <n>', 'override maxEpochs of every trial')
    .option('--max-depth <n>', 'largest prompt depth sampled', '10')
    .option('--seed <n>', 'sampler seed', '0')
    .option('--no-predictions', 'skip writing test-set predictions (the report\'s gallery)')
    .option('--no-embeddings', 'skip the CLIP embeddings of each dataset (the report\'s t-SNE figure)')
    .option('-q, --quiet', 'less output')
    .action(async (o: BenchOptions) => {
      const r = await runBench(o);
      console.log(`bench: ${r.ran.length} cell(s) run, ${r.skipped.length} already finished; tables and figures: tunevlseg report ${r.dir}`);
      console.log(r.dir);
    });
}
