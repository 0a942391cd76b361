/**
 * The built-in demo (`tunevlseg demo`): the paper's story in a few minutes on a laptop CPU,
 * fully offline.
 *
 * 1. Writes the target domain (synthetic ultrasound, prompt "tumor") and the source domain's
 *    test split (coloured shapes) into the run folder (src/demo/domains.ts).
 * 2. Loads the shipped base model (assets/demo: a tiny CLIPSeg pretrained on the source domain
 *    by `tunevlseg pretrain`) and checks it on the source domain: test Dice against the
 *    text-blind baseline (every object of the image, whatever the prompt).
 * 3. On the target domain: zero-shot Dice (the frozen model prompted "tumor"), the trivial
 *    baseline (the whole field of view), then prompt-tunes every CLIPSeg learner (CoOp, CoCoOp,
 *    VPT, MaPLe, Shared Separate, Shared Attention) with the trainer (src/train) through the
 *    segmenter factory (src/tuning), each evaluated on the test split (best validation
 *    checkpoint).
 * 4. Prints a Table-3-style table and writes demo-summary.json.
 * Along the way it keeps what its report shows besides numbers (src/demo/artifacts.ts): the
 * zero-shot and every learner's test masks, and both domains' CLIP embeddings.
 *
 * Every learner runs with `quirks: 'fixed'` by default (each gets the learnable upsampler, as
 * the paper describes; with the original code's quirks CoOp/CoCoOp bypass it and stay near 0
 * Dice here: `quirks: 'reference'`). Text-only learners (CoOp, CoCoOp) get a frozen-feature
 * cache: their vision tower is prompt-free, so its per-image outputs are computed once and reused
 * (identical results, cheaper steps).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { getNumThreads, setNumThreads } from '../torch/index.js';
import { train, type TrainSummary } from '../train/trainer.js';
import { evaluate } from '../inference/evaluate.js';
import type { TrainConfigInput } from '../train/config.js';
import type { Split } from '../data/format.js';
import type { LearnerName } from '../learners/types.js';
import { learnerEntry, learnerFamily } from '../learners/registry.js';
import { DEMO_FAMILY_LR, DEMO_LR, DEMO_STEPS, demoDefaultLearners } from './settings.js';
import { LearnerConfigError, buildSegmenter } from '../tuning/factory.js';
import { demoAssetsDir } from './assets.js';
import { DOMAIN_SPECS, fieldOfViewDice, generateDomain, textBlindDice } from './domains.js';
import { ClipsegFullSegmenter } from './model.js';
import { writeDomainEmbeddings, writeLearnerPredictions, writeTestPredictions } from './artifacts.js';

/** A learner's display name (its registry title). */
const title = (name: LearnerName): string => learnerEntry(name).title;

/**
 * Learner options scaled to the tiny model (text 64 + vision 64 wide): a learner with a
 * transformer layer (Shared Attention) gets a 256-wide feed-forward instead of the paper's 1536
 * (which would give it more parameters than the whole base model). Everything else takes the
 * learners' defaults.
 */
export function demoLearnerOptions(name: LearnerName): Record<string, unknown> {
  const shape = learnerEntry(name).schema.shape;
  return {
    ...('feedforward' in shape ? { feedforward: 256 } : {}),
    // VLSM-Adapter's bottlenecks (512 / 64) are as wide as the whole tiny model or wider.
    ...('adapterDim' in shape ? { adapterDim: 16 } : {}),
  };
}

/**
 * The learner's model options, checked on the base model: a side a learner cannot take on this
 * model (the shallow adapter's text side adds the raw 64-wide text state to the 32-wide
 * conditional embedding of the shipped model) is turned off with a note, instead of failing the demo.
 */
async function fittedModelOptions(model: Record<string, unknown>, log: (line: string) => void): Promise<Record<string, unknown>> {
  try {
    (await buildSegmenter(model)).dispose();
    return model;
  } catch (e) {
    if (!(e instanceof LearnerConfigError) || !/adapterInL/.test(e.message) || model.adapterInL === false) throw e;
    log(`  ${title(String(model.learner))}: adapterInL off on this model (${e.message})`);
    return { ...model, adapterInL: false };
  }
}

export { DEMO_FAMILY_LR, DEMO_LR, DEMO_STEPS, demoAllLearners, demoDefaultLearners } from './settings.js';

export interface DemoLearnerSettings {
  /** Optimizer steps (rounded up to whole epochs). */
  steps: number;
  lr: number;
}

export interface DemoOptions {
  /** Run folder (created; must be empty or absent, or hold an earlier demo run and `overwrite`). Default runs/demo-<timestamp>. */
  runDir?: string;
  /** Replace an earlier demo run in `runDir` (never a folder that holds anything else). */
  overwrite?: boolean;
  /** The base model folder. Default assets/demo. */
  modelDir?: string;
  /** Other model config keys for every learner's run (`--model key=value`), over the demo's own. */
  modelConfig?: Record<string, unknown>;
  /** Target-domain images per split. Default 300/50/200. */
  targetCounts?: Partial<Record<Split, number>>;
  /** Source-domain test images (2-3 prompts each). Default 400. */
  sourceTestImages?: number;
  /** Learners to tune, in order. Default the paper's six (demoDefaultLearners); demoAllLearners() adds the adapters, LoRA and full fine-tuning. */
  learners?: LearnerName[];
  /** Optimizer steps per learner (default 300, rounded up to whole epochs: 16 of 19 steps). */
  steps?: number;
  /** Learning rate of the prompt learners (default 1e-2; the other families: DEMO_FAMILY_LR). */
  lr?: number;
  /** Per-learner overrides of steps / lr. */
  perLearner?: Partial<Record<LearnerName, Partial<DemoLearnerSettings>>>;
  /** Samples per optimizer step. Default 16. */
  batchSize?: number;
  /** Prompt tokens per layer (default 4) and prompt depth (default 1). */
  numContext?: number;
  depth?: number;
  /**
   * 'fixed' (default): every learner gets the learnable upsampler, as the paper describes;
   * 'reference': the original implementation's quirks (CoOp/CoCoOp bypass the upsampler, VPT adds it).
   */
  quirks?: 'fixed' | 'reference';
  /** Seed of data order, augmentation and learner init. Default 0. */
  seed?: number;
  /** libtorch threads. Default 1 (fastest for this model on a small shared machine). */
  threads?: number;
  /** Loader threads. Default 0 (decode on the main thread: 64-px PNGs are cheap). */
  workers?: number;
  /** Progress lines. Default console.log. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface DemoLearnerResult {
  test_dice: number;
  val_dice: number;
  seconds: number;
  steps: number;
  epochs: number;
  trainable_params: number;
}

export interface DemoSummary {
  run_dir: string;
  model_dir: string;
  /** Pretrained base model, source-domain test split, prompt "<colour> <shape>". */
  source_dice: number;
  /** Every object of the image whatever the prompt, same split. */
  text_blind_dice: number;
  source_samples: number;
  /** Frozen base model, target test split, prompt "tumor". */
  zero_shot_dice: number;
  /** The whole field of view, target test split. */
  trivial_dice: number;
  target_samples: { train: number; val: number; test: number };
  learners: Partial<Record<LearnerName, DemoLearnerResult>>;
  /** Training + test evaluation of all learners. */
  tuning_seconds: number;
  total_seconds: number;
  settings: Record<string, unknown>;
  threads: number;
}

const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-');

/** What a demo run writes in its folder (all of it: `--overwrite` removes exactly these). */
export const DEMO_OUTPUTS = ['data', 'zero-shot', 'embeddings', 'tuning', 'bench', 'report', 'demo-summary.json'] as const;

/** The run folder of one learner's tuning (its checkpoints under checkpoints/). */
export const learnerRunDir = (runDir: string, learner: string): string => path.join(runDir, 'tuning', learner);

/**
 * Makes `runDir` ready: absent or empty is fine; an earlier demo run is replaced only with
 * `overwrite` (its DEMO_OUTPUTS removed, nothing else); any other content is refused, so a demo
 * never mixes its learners with another run's or deletes what it did not write.
 */
function prepareRunDir(runDir: string, overwrite: boolean): void {
  if (!existsSync(runDir)) return;
  const entries = readdirSync(runDir);
  if (entries.length === 0) return;
  const foreign = entries.filter((e) => !(DEMO_OUTPUTS as readonly string[]).includes(e));
  if (foreign.length > 0) {
    throw new Error(
      `demo: ${runDir} is not empty and not a demo run folder (it holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}): give another --run-dir`,
    );
  }
  if (!overwrite) throw new Error(`demo: ${runDir} holds an earlier demo run: give another --run-dir, or --overwrite to replace it`);
  for (const e of entries) rmSync(path.join(runDir, e), { recursive: true, force: true });
}

function timestamp(): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** The Table-3-style result table (Markdown), with each learner's trainable parameter count. */
export function formatDemoTable(s: DemoSummary): string {
  const best = Math.max(s.zero_shot_dice, s.trivial_dice);
  const rows: [string, string, string, string, string][] = [
    ['trivial: whole field of view', f3(s.trivial_dice), '', '0', '-'],
    ['zero-shot "tumor"', f3(s.zero_shot_dice), '', '0', '-'],
  ];
  for (const [name, r] of Object.entries(s.learners) as [LearnerName, DemoLearnerResult][]) {
    const d = r.test_dice - best;
    rows.push([
      title(name),
      f3(r.test_dice),
      `${d >= 0 ? '+' : ''}${d.toFixed(3)}`,
      r.trainable_params.toLocaleString('en-US'),
      r.seconds.toFixed(1),
    ]);
  }
  const head = ['method (target: ultrasound, test split)', 'test Dice', 'vs best baseline', 'trainable params', 'seconds'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join(' | ')} |`;
  const out = [
    line(head),
    `|${width.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ];
  out.push('');
  const gap = s.source_dice - s.text_blind_dice;
  out.push(
    `source domain (natural shapes, ${s.source_samples} prompts): pretrained model ${f3(s.source_dice)} Dice, text-blind baseline ${f3(s.text_blind_dice)}` +
      ` (${gap >= 0 ? '+' : ''}${gap.toFixed(3)}${gap >= 0.1 ? ': the model segments by text' : ''})`,
  );
  out.push(
    `tuning + evaluation of ${Object.keys(s.learners).length} learners: ${s.tuning_seconds.toFixed(0)} s; whole demo: ${s.total_seconds.toFixed(0)} s (${s.threads} libtorch thread${s.threads === 1 ? '' : 's'})`,
  );
  return out.join('\n');
}

/** Runs the demo; returns the summary (also written to <runDir>/demo-summary.json). */
export async function runDemo(o: DemoOptions = {}): Promise<DemoSummary> {
  const t0 = performance.now();
  const log = o.log ?? ((l: string) => console.log(l));
  const runDir = path.resolve(o.runDir ?? path.join('runs', `demo-${timestamp()}`));
  const modelDir = path.resolve(o.modelDir ?? demoAssetsDir());
  const learners = o.learners ?? demoDefaultLearners();
  const threads = o.threads ?? 1;
  const workers = o.workers ?? 0;
  const seed = o.seed ?? 0;
  const batchSize = o.batchSize ?? 16;
  const targetCounts = { ...DOMAIN_SPECS.ultrasound.counts, ...o.targetCounts };
  const sourceTestImages = o.sourceTestImages ?? DOMAIN_SPECS.natural.counts.test;
  const check = (): void => {
    if (o.signal?.aborted) throw new Error('demo: interrupted');
  };
  prepareRunDir(runDir, o.overwrite === true);
  const prevThreads = getNumThreads();
  setNumThreads(threads);
  try {
    mkdirSync(runDir, { recursive: true });
    log(`demo: run folder ${runDir}`);
    log(`demo: base model ${modelDir}`);
    log(
      `demo: quirks ${o.quirks ?? 'fixed'} (the demo's default, unlike every other command's reference: every learner gets the learnable upsampler, as the paper describes; --quirks reference for the original code)`,
    );

    // 1. Data.
    const targetDir = path.join(runDir, 'data', 'ultrasound');
    const sourceDir = path.join(runDir, 'data', 'natural-test');
    let t = performance.now();
    const tgt = await generateDomain('ultrasound', targetDir, { counts: targetCounts });
    const src = await generateDomain('natural', sourceDir, { counts: { train: 0, val: 0, test: sourceTestImages } });
    log(
      `[data] target "ultrasound": ${tgt.splits.train.images}/${tgt.splits.val.images}/${tgt.splits.test.images} train/val/test images; ` +
        `source "natural" test: ${src.splits.test.images} images, ${src.splits.test.entries} prompts (${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
    check();

    // 2. Base model on the source domain, and zero-shot on the target.
    t = performance.now();
    const base = ClipsegFullSegmenter.fromPretrained(modelDir, { trainable: false });
    let sourceDice: number, sourceSamples: number, zeroShot: number;
    try {
      base.eval();
      const s = await evaluate(base, sourceDir, 'test', { promptKey: 'p1', batchSize: 64, workers });
      sourceDice = s.dice;
      sourceSamples = s.samples;
      const z = await evaluate(base, targetDir, 'test', { promptKey: 'p1', batchSize: 64, workers });
      zeroShot = z.dice;
      // For the report: the zero-shot masks (gallery) and both domains' CLIP embeddings (Fig. 4).
      await writeTestPredictions(base, targetDir, path.join(runDir, 'zero-shot', 'predictions'), workers);
      for (const [name, dir] of [
        ['ultrasound', targetDir],
        ['natural', sourceDir],
      ] as const) {
        const n = await writeDomainEmbeddings(base, name, dir, path.join(runDir, 'embeddings', `${name}.json`));
        log(`[report] ${name}: CLIP embeddings of ${n.text} prompt(s) and ${n.image} image(s) (Fig. 4)`);
      }
    } finally {
      base.dispose();
    }
    const blind = await textBlindDice(sourceDir, 'test');
    const trivial = await fieldOfViewDice(targetDir, 'test');
    log(
      `[source] pretrained model: Dice ${f3(sourceDice)} on ${sourceSamples} "<colour> <shape>" prompts; text-blind baseline ${f3(blind.dice)}`,
    );
    log(
      `[target] zero-shot "tumor": Dice ${f3(zeroShot)}; trivial whole field of view: ${f3(trivial.dice)} (${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
    check();

    // 3. Prompt tuning, every learner.
    const results: Partial<Record<LearnerName, DemoLearnerResult>> = {};
    const stepsPerEpoch = Math.ceil(targetCounts.train / batchSize);
    const tuneStart = performance.now();
    for (const [i, name] of learners.entries()) {
      check();
      const steps = o.perLearner?.[name]?.steps ?? o.steps ?? DEMO_STEPS;
      const family = learnerFamily(name);
      const lr = o.perLearner?.[name]?.lr ?? (family === 'prompt' ? o.lr : undefined) ?? DEMO_FAMILY_LR[family];
      const epochs = Math.max(1, Math.ceil(steps / stepsPerEpoch));
      const entry = learnerEntry(name);
      // No vision prompts (CoOp, CoCoOp; the shallow adapter): the frozen per-image vision outputs are
      // cached where they are sound (the segmenter skips the cache for hooked or trained towers).
      // Prompt settings go to the learners that have them.
      const textOnly = !entry.vision;
      const prompt = 'depth' in entry.schema.shape ? { numContext: o.numContext ?? 4, depth: o.depth ?? 1 } : {};
      const config: TrainConfigInput = {
        name,
        runsDir: path.join(runDir, 'tuning'),
        seed,
        model: await fittedModelOptions(
          {
            model: modelDir,
            learner: name,
            ...prompt,
            quirks: o.quirks ?? 'fixed',
            ...demoLearnerOptions(name),
            ...(textOnly ? { frozenCacheMb: 64 } : {}),
            ...o.modelConfig,
          },
          log,
        ),
        data: { dir: targetDir, promptKey: 'p1', workers },
        batchSize,
        effectiveBatchSize: batchSize,
        evalBatchSize: 50,
        minEpochs: epochs,
        maxEpochs: epochs,
        lr,
        weightDecay: 0,
        earlyStopping: { enabled: false },
        progress: 'lines',
      };
      log(`[${i + 1}/${learners.length}] ${title(name)}: ${epochs} epochs x ${stepsPerEpoch} steps of ${batchSize}, lr ${lr}`);
      const ts = performance.now();
      const summary: TrainSummary = await train(config, {
        buildSegmenter: (m) => buildSegmenter(m),
        overwrite: false,
        log: (l) => log(`  ${title(name)} ${l}`),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      const seconds = (performance.now() - ts) / 1000;
      await writeLearnerPredictions(summary.runDir, targetDir, workers);
      results[name] = {
        test_dice: summary.test?.dice ?? Number.NaN,
        val_dice: summary.val.dice,
        seconds,
        steps: summary.globalSteps,
        epochs: summary.epochs,
        trainable_params: summary.trainableParams,
      };
      log(
        `  ${title(name)}: test Dice ${f3(results[name].test_dice)} (${seconds.toFixed(1)} s, ${summary.trainableParams} trainable parameters)`,
      );
    }
    const tuningSeconds = (performance.now() - tuneStart) / 1000;

    // 4. Summary.
    const summary: DemoSummary = {
      run_dir: runDir,
      model_dir: modelDir,
      source_dice: sourceDice,
      text_blind_dice: blind.dice,
      source_samples: sourceSamples,
      zero_shot_dice: zeroShot,
      trivial_dice: trivial.dice,
      target_samples: { train: tgt.splits.train.entries, val: tgt.splits.val.entries, test: tgt.splits.test.entries },
      learners: results,
      tuning_seconds: tuningSeconds,
      total_seconds: (performance.now() - t0) / 1000,
      settings: {
        steps: o.steps ?? DEMO_STEPS,
        lr: o.lr ?? DEMO_LR,
        perLearner: o.perLearner ?? {},
        batchSize,
        numContext: o.numContext ?? 4,
        depth: o.depth ?? 1,
        weightDecay: 0,
        quirks: o.quirks ?? 'fixed',
        seed,
        workers,
        learnerOrder: learners,
      },
      threads,
    };
    const file = path.join(runDir, 'demo-summary.json');
    writeFileSync(file, `${JSON.stringify(summary, null, 1)}\n`);
    log('');
    for (const line of formatDemoTable(summary).split('\n')) log(line);
    log('');
    log(`summary: ${file}`);
    log(`run folder: ${runDir}`);
    log(
      `checkpoints: ${learnerRunDir(runDir, '<learner>')}/checkpoints/best.safetensors for ${Object.keys(results).join(', ')} ` +
        '(export, predict and eval take the run folder tuning/<learner> itself)',
    );
    return summary;
  } finally {
    setNumThreads(prevThreads);
  }
}
