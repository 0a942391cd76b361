// `tunevlseg sweep | worker | study show`: flags in, one call to src/experiment (sweeps and
// workers) or src/sweep (study summaries), the study table out.
import type { Command } from 'commander';
import { LEARNERS, type StudySummary } from '../sweep/index.js';
import { DEFAULT_LEARNER } from '../learners/registry.js';
import { joinStudy, readStudy, RECIPE_NAMES, runSweep, SAMPLER_CHOICES, StudyFailedError, sweepSpaceReport, SWEEP_OBJECTIVES, type SweepOptions } from '../experiment/index.js';

function printStudy(s: StudySummary, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ study: s.study.name, direction: s.study.direction, counts: s.counts, best: s.best, importances: s.importances,
      trials: s.trials.map((t) => ({ number: t.number, state: t.state, value: t.value, params: t.params, attrs: t.attrs })) }));
    return;
  }
  console.log(`study ${s.study.name} (${s.study.direction}), ${JSON.stringify(s.counts)}`);
  const names = Object.keys(s.trials[0]?.params ?? {});
  console.log(['#', 'state', 'value', ...names].join('\t'));
  for (const t of s.trials) {
    console.log([t.number, t.state, t.value === null || t.value === undefined ? '-' : t.value.toPrecision(5), ...names.map((n) => JSON.stringify(t.params?.[n] ?? null))].join('\t'));
  }
  // The whole reason, continuation lines indented (a first line alone rarely says what to fix),
  // once per distinct reason: twenty trials failing alike make one paragraph, not twenty.
  const reasons = new Map<string, number[]>();
  for (const t of s.trials) if (t.state === 'failed' && t.error) reasons.set(t.error, [...(reasons.get(t.error) ?? []), t.number]);
  for (const [error, nums] of reasons) console.log(`trial${nums.length > 1 ? 's' : ''} ${nums.join(', ')} failed: ${error.replace(/\n/g, '\n  ')}`);
  if (s.best) console.log(`best: trial ${s.best.number}, value ${String(s.best.value)}, ${JSON.stringify(s.best.params)}`);
  const imp = [...s.importances].sort((a, b) => b.importance - a.importance);
  if (imp.length) console.log(`importance: ${imp.map((i) => `${i.param} ${i.importance.toFixed(2)}`).join(', ')}`);
}

export function registerSweepCommands(program: Command): void {
  program.command('sweep')
    .description('TPE hyperparameter sweep of one model x learner x dataset (each trial a training run)')
    .requiredOption('--dataset <dir>', 'dataset folder (docs/data.md)')
    .option('--model <m>', 'base model: preset, folder or hub id', 'clipseg')
    .option('--learner <l>', `context learner (${LEARNERS.join(', ')})`, DEFAULT_LEARNER)
    .option('--trials <n>', 'trials in the study (default: the original sweep\'s n_trials, 20)')
    .option('--storage <url>', 'sqlite:<file> or postgres://...', 'sqlite:runs/studies.db')
    .option('--study <name>', 'study name (default <model>__<learner>__<dataset>)')
    .option('--workers <n>', 'local worker processes (each trial still uses the threads it is given)', '1')
    .option('--devices <list>', 'one worker process per device: cuda:0,cuda:1,... or all (every CUDA device); cpu,cpu for CPU processes')
    .option('--seed <n>', 'sampler seed (default: the original sweep\'s seed for the learner with quirks reference, else 0)')
    .option('--sampler <s>', `${SAMPLER_CHOICES.join(', ')}: optuna is the original\'s (Optuna 2.10 TPE on Optuna\'s streams), tunevlseg ours (docs/sweep.md); auto: optuna with quirks reference, tunevlseg with fixed`, 'auto')
    .option('--recipe <r>', `the original run scripts\' overrides (batch, accumulation, 16-mixed, TF32, upsampler, half-epoch validation): ${RECIPE_NAMES.join(', ')}`)
    .option('--print-space', 'print the search space, sampler and number of trials as one JSON object, and exit')
    .option('--objective <o>', 'auto, val_loss (last epoch, minimised: the reference), best_val_loss (best checkpoint\'s), val_dice (best checkpoint\'s, maximised) or last_val_dice (last validation\'s, maximised); auto: what the learner\'s original optimised (the adapters: last_val_dice reference, val_dice fixed), else val_loss with quirks reference, best_val_loss with fixed', 'auto')
    .option('--pruner <p>', 'none, median or halving (stops bad trials early, on per-epoch values)', 'none')
    .option('--max-depth <n>', 'largest prompt depth sampled (default: the space\'s own, 11 reference / 10 fixed, within the encoders\' layers)')
    .option('-c, --config <file>', 'base training config (YAML/JSON, docs/train.md)')
    .option('--runs-dir <dir>', 'trial run folders go to <dir>/<study>-<key>/trial-NNN (key: the study\'s identity in its storage)', 'runs/sweeps')
    .option('--max-epochs <n>', 'override the training config\'s maxEpochs')
    .option('-q, --quiet', 'no per-epoch lines')
    .action(async (o: SweepOptions & { printSpace?: boolean }) => {
      if (o.objective !== 'auto' && !SWEEP_OBJECTIVES.includes(o.objective)) throw new Error(`--objective must be auto or one of ${SWEEP_OBJECTIVES.join(', ')}, got "${o.objective}"`);
      if (o.printSpace) {
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
  program.command('worker')
    .description('join a sweep study from any machine and run its trials until it has enough')
    .requiredOption('--storage <url>', 'the study storage (postgres://... for many machines)')
    .requiredOption('--study <name>', 'study name')
    .option('--trials <n>', 'total trials of the study (default: what the study was created with)')
    .option('--pruner <p>', 'override the study\'s pruner')
    .option('--worker-id <id>', 'name in the trials table (default host:pid)')
    .option('--device <d>', 'train this worker\'s trials on this device (cpu, cuda, cuda:<n>) whatever the study\'s config says')
    .option('-q, --quiet', 'no per-trial lines')
    .action(async (o: { storage: string; study: string; trials?: string; pruner?: string; workerId?: string; device?: string; quiet?: boolean }) => {
      if (o.device !== undefined && !/^(cpu|cuda(:\d+)?)$/.test(o.device)) throw new Error(`--device: "${o.device}" is not a device (expected cpu, cuda or cuda:<n>)`);
      const ran = await joinStudy(o.storage, o.study, {
        nTrials: o.trials ? Number.parseInt(o.trials, 10) : undefined, pruner: o.pruner, quiet: o.quiet, workerId: o.workerId, ...(o.device !== undefined ? { device: o.device } : {}),
      });
      if (!o.quiet) console.log(`worker ran ${ran} trial(s)`);
    });
  const study = program.command('study').description('inspect sweep studies');
  study.command('show <name>')
    .description('trials table, best parameters and the importance of each parameter')
    .option('--storage <url>', 'the study storage', 'sqlite:runs/studies.db')
    .option('--json', 'one JSON object')
    .action(async (name: string, o: { storage: string; json?: boolean }) => {
      printStudy(await readStudy(o.storage, name), o.json === true);
    });
}

