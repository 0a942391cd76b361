// `tunevlseg sweep | worker | study show`: flags in, one call to src/experiment (sweeps and
// workers) or src/sweep (study summaries), the study table out.
import type { Command } from 'commander';
import type { StudySummary } from '../sweep/index.js';
import { DEFAULT_LEARNER } from '../learners/registry.js';
import { checkModelKeys, modelFlagConfig } from './model-flag.js';
import { examples, flag, oneOf, option } from './flags.js';
import { RECIPE_NAMES } from '../experiment/recipes.js';
import { SAMPLER_CHOICES } from '../experiment/sweep-plan.js';
import { SWEEP_OBJECTIVES } from '../experiment/trial.js';
import type { SweepOptions } from '../experiment/index.js';

/** The sweep library, loaded when a command runs (it loads libtorch). */
const experiment = (): Promise<typeof import('../experiment/index.js')> => import('../experiment/index.js');

function printStudy(s: StudySummary, json: boolean): void {
  if (json) {
    console.log(
      JSON.stringify({
        study: s.study.name,
        direction: s.study.direction,
        counts: s.counts,
        best: s.best,
        importances: s.importances,
        trials: s.trials.map((t) => ({ number: t.number, state: t.state, value: t.value, params: t.params, attrs: t.attrs })),
      }),
    );
    return;
  }
  console.log(`study ${s.study.name} (${s.study.direction}), ${JSON.stringify(s.counts)}`);
  const names = Object.keys(s.trials[0]?.params ?? {});
  console.log(['#', 'state', 'value', ...names].join('\t'));
  for (const t of s.trials) {
    console.log(
      [
        t.number,
        t.state,
        t.value === null || t.value === undefined ? '-' : t.value.toPrecision(5),
        ...names.map((n) => JSON.stringify(t.params?.[n] ?? null)),
      ].join('\t'),
    );
  }
  // The whole reason, continuation lines indented (a first line alone rarely says what to fix),
  // once per distinct reason: twenty trials failing alike make one paragraph, not twenty.
  const reasons = new Map<string, number[]>();
  for (const t of s.trials) if (t.state === 'failed' && t.error) reasons.set(t.error, [...(reasons.get(t.error) ?? []), t.number]);
  for (const [error, nums] of reasons)
    console.log(`trial${nums.length > 1 ? 's' : ''} ${nums.join(', ')} failed: ${error.replace(/\n/g, '\n  ')}`);
  if (s.best) console.log(`best: trial ${s.best.number}, value ${String(s.best.value)}, ${JSON.stringify(s.best.params)}`);
  const imp = [...s.importances].sort((a, b) => b.importance - a.importance);
  if (imp.length) console.log(`importance: ${imp.map((i) => `${i.param} ${i.importance.toFixed(2)}`).join(', ')}`);
}

interface SweepFlags extends Omit<SweepOptions, 'model' | 'modelConfig' | 'workers' | 'seed'> {
  model: string[];
  workers: number;
  seed?: number;
  printSpace?: boolean;
}

export function registerSweepCommands(program: Command): void {
  const sweep = program
    .command('sweep')
    .description('TPE hyperparameter sweep of one model x learner x dataset (each trial a training run)');
  flag(sweep, 'dataset', { required: true });
  flag(sweep, 'model', { defaultText: 'clipseg' });
  flag(sweep, 'learner', { default: DEFAULT_LEARNER });
  option(sweep, '--trials <n>', 'trials in the study', { defaultText: "the original sweep's n_trials, 20" });
  flag(sweep, 'storage', { default: 'sqlite:runs/studies.db' });
  option(sweep, '--study <name>', 'study name', { defaultText: '<model>__<learner>__<dataset>' });
  flag(sweep, 'workers', {
    default: 1,
    help: 'worker processes on this machine, each running trials (each trial uses the threads it is given)',
  });
  flag(sweep, 'devices');
  flag(sweep, 'seed', { help: 'sampler seed', defaultText: "the original sweep's seed for the learner with quirks reference, else 0" });
  option(
    sweep,
    '--sampler <s>',
    `${SAMPLER_CHOICES.join(' | ')}: optuna is the original\'s (Optuna 2.10 TPE on Optuna\'s streams), tunevlseg ours (docs/sweep.md); auto: optuna with quirks reference, tunevlseg with fixed`,
    { default: 'auto', parse: oneOf(SAMPLER_CHOICES) },
  );
  option(
    sweep,
    '--recipe <r>',
    `the original run scripts\' overrides (batch, accumulation, 16-mixed, TF32, upsampler, half-epoch validation): ${RECIPE_NAMES.join(', ')}`,
  );
  option(sweep, '--print-space', 'print the search space, sampler and number of trials as one JSON object, and exit');
  option(
    sweep,
    '--objective <o>',
    "auto | val_loss (last epoch, minimised: the reference) | best_val_loss (best checkpoint's) | val_dice (best checkpoint's, maximised) | last_val_dice (last validation's, maximised); auto: what the learner's original optimised (the adapters: last_val_dice reference, val_dice fixed), else val_loss with quirks reference, best_val_loss with fixed",
    { default: 'auto', parse: oneOf(['auto', ...SWEEP_OBJECTIVES]) },
  );
  option(sweep, '--pruner <p>', 'none | median | halving (stops bad trials early, on per-epoch values)', { default: 'none' });
  option(sweep, '--max-depth <n>', 'largest prompt depth sampled', {
    defaultText: "the space's own, 11 reference / 10 fixed, within the encoders' layers",
  });
  flag(sweep, 'config', { help: 'base training config (YAML/JSON, docs/train.md)' });
  option(sweep, '--runs-dir <dir>', "trial run folders go to <dir>/<study>-<key>/trial-NNN (key: the study's identity in its storage)", {
    default: 'runs/sweeps',
  });
  option(sweep, '--max-epochs <n>', "override the training config's maxEpochs");
  flag(sweep, 'quiet', { help: 'no per-epoch lines' });
  examples(sweep, [
    'tunevlseg sweep --dataset data/kvasir --learner maple --trials 20',
    'tunevlseg sweep --dataset data/kvasir --model rd64 --model quirks=fixed --learner vpt --workers 2',
    'tunevlseg sweep --dataset data/kvasir --learner coop --storage postgres://user@db/tvs --devices all',
    'tunevlseg sweep --dataset data/kvasir --learner maple --print-space',
  ]);
  sweep.action(async (f: SweepFlags) => {
    const { model: base, learner: learnerKey, ...modelConfig } = modelFlagConfig(f.model);
    checkModelKeys(modelConfig, '--model');
    // `--model learner=x` is the same as `--learner x`
    const learner = learnerKey !== undefined && sweep.getOptionValueSource('learner') !== 'cli' ? String(learnerKey) : f.learner;
    const { printSpace, seed, model: _m, ...rest } = f;
    const o: SweepOptions = {
      ...rest,
      model: base === undefined ? 'clipseg' : String(base),
      modelConfig,
      learner,
      workers: String(f.workers),
      ...(seed !== undefined ? { seed: String(seed) } : {}),
    };
    const { runSweep, StudyFailedError, sweepSpaceReport } = await experiment();
    if (printSpace) {
      console.log(JSON.stringify(await sweepSpaceReport(o)));
      return;
    }
    try {
      printStudy(await runSweep(o), false);
    } catch (e) {
      // A study whose trials all failed still shows its table (every reason, in full) before the error.
      if (e instanceof StudyFailedError) printStudy(e.summary, false);
      throw e;
    }
  });
  const worker = program.command('worker').description('join a sweep study from any machine and run its trials until it has enough');
  flag(worker, 'storage', { required: true, help: 'the study storage (postgres://... for many machines)' });
  option(worker, '--study <name>', 'study name', { required: true });
  option(worker, '--trials <n>', 'total trials of the study', { defaultText: 'what the study was created with' });
  option(worker, '--pruner <p>', "override the study's pruner");
  option(worker, '--worker-id <id>', 'name in the trials table', { defaultText: 'host:pid' });
  flag(worker, 'device', { help: "train this worker's trials on this device (cpu, cuda, cuda:<n>) whatever the study's config says" });
  flag(worker, 'quiet', { help: 'no per-trial lines' });
  examples(worker, [
    'tunevlseg worker --storage postgres://user@db/tvs --study clipseg__maple__kvasir',
    'tunevlseg worker --storage postgres://user@db/tvs --study clipseg__maple__kvasir --device cuda:1',
  ]);
  worker.action(
    async (o: {
      storage: string;
      study: string;
      trials?: string;
      pruner?: string;
      workerId?: string;
      device?: string;
      quiet?: boolean;
    }) => {
      if (o.device !== undefined && !/^(cpu|cuda(:\d+)?)$/.test(o.device))
        throw new Error(`--device: "${o.device}" is not a device (expected cpu, cuda or cuda:<n>)`);
      const { joinStudy } = await experiment();
      const ran = await joinStudy(o.storage, o.study, {
        nTrials: o.trials ? Number.parseInt(o.trials, 10) : undefined,
        pruner: o.pruner,
        quiet: o.quiet,
        workerId: o.workerId,
        ...(o.device !== undefined ? { device: o.device } : {}),
      });
      if (!o.quiet) console.log(`worker ran ${ran} trial(s)`);
    },
  );
  const study = program.command('study').description('inspect sweep studies');
  examples(study, ['tunevlseg study show clipseg__maple__kvasir']);
  const show = study.command('show <name>').description('trials table, best parameters and the importance of each parameter');
  flag(show, 'storage', { default: 'sqlite:runs/studies.db', help: 'the study storage' });
  flag(show, 'json', { help: 'one JSON object' });
  examples(show, [
    'tunevlseg study show clipseg__maple__kvasir',
    'tunevlseg study show clipseg__vpt__kvasir --storage postgres://user@db/tvs --json',
  ]);
  show.action(async (name: string, o: { storage: string; json?: boolean }) => {
    const { readStudy } = await experiment();
    printStudy(await readStudy(o.storage, name), o.json === true);
  });
}
