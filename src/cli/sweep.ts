// `tunevlseg sweep`: flags in, one call to src/experiment (a sweep on this machine), the study
// table out. `worker` (worker.ts) joins a study from anywhere; `study show` (study.ts) reads one.
import type { Command } from 'commander';
import { DEFAULT_LEARNER } from '../learners/registry.js';
import { checkModelKeys, modelFlagConfig } from './model-flag.js';
import { examples, flag, oneOf, option } from './flags.js';
import { RECIPE_NAMES } from '../experiment/recipes.js';
import { SAMPLER_CHOICES } from '../experiment/sweep-plan.js';
import { SWEEP_OBJECTIVES } from '../experiment/trial.js';
import type { SweepOptions } from '../experiment/index.js';
import { printStudy } from './study.js';

/** The sweep library, loaded when a command runs (it loads libtorch). */
const experiment = (): Promise<typeof import('../experiment/index.js')> => import('../experiment/index.js');

interface SweepFlags extends Omit<SweepOptions, 'model' | 'modelConfig' | 'workers' | 'seed'> {
  model: string[];
  workers: number;
  seed?: number;
  printSpace?: boolean;
}

export function registerSweepCommand(program: Command): void {
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
}
