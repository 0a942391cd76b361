// `tunevlseg bench`: the paper's grid (src/experiment/grid.ts, run-grid.ts) into a bench folder
// that `tunevlseg report` reads. Flags in, one call, the result out.
import type { Command } from 'commander';
import { shellCommand } from '../util/shell-quote.js';
import { LEARNER_NAMES, learnerFamily, learnersFor } from '../learners/registry.js';
import { ABLATIONS, GRID_DEFAULT_MODELS } from '../experiment/grid.js';
import { RECIPE_NAMES } from '../experiment/recipes.js';
import { SAMPLER_CHOICES } from '../experiment/sweep-plan.js';
import type { GridOptions } from '../experiment/index.js';
import { examples, flag, oneOf, option } from './flags.js';

export function registerBenchCommand(program: Command): void {
  const cmd = program
    .command('bench')
    .description(
      'run the benchmark grid (one TPE sweep per model x learner x dataset cell, plus ablations) into a bench folder for `tunevlseg report`',
    );
  flag(cmd, 'datasets', {
    required: true,
    help: 'comma-separated dataset folders, each optionally name=folder (e.g. kvasir=data/Kvasir-SEG)',
  });
  flag(cmd, 'models', {
    default: GRID_DEFAULT_MODELS,
    help: 'comma-separated base models (preset, folder, hub id; each optionally name=spec); the default is the model (and tokenizer) the original experiment configs load, not -refined',
  });
  flag(cmd, 'learners', {
    default: LEARNER_NAMES.filter((l) => learnerFamily(l) === 'prompt').join(','),
    help: `comma-separated learners (${LEARNER_NAMES.join(', ')}), or all; CRIS gets only ${learnersFor('cris').join(', ')}; the default: the paper's prompt learners`,
  });
  option(cmd, '--trials <n>', 'TPE trials per cell', { defaultText: "the original sweep's n_trials, 20" });
  flag(cmd, 'out', { default: 'bench', help: 'bench folder' });
  flag(cmd, 'storage', { defaultText: 'sqlite:<bench>/studies.db; postgres://... to share cells with workers' });
  option(cmd, '--ablate <list>', `ablations: ${Object.keys(ABLATIONS).join(', ')} (Tables 4 and 5)`);
  flag(cmd, 'config', { help: 'base training config (docs/train.md)' });
  option(cmd, '--max-epochs <n>', 'override maxEpochs of every trial');
  option(cmd, '--max-depth <n>', 'largest prompt depth sampled', { defaultText: "the space's own, within the encoders' layers" });
  flag(cmd, 'seed', {
    help: 'sampler seed of every cell',
    defaultText: "the original sweep's seed for each learner with quirks reference, else 0",
  });
  option(cmd, '--sampler <s>', `${SAMPLER_CHOICES.join(' | ')} (docs/sweep.md); auto: optuna with quirks reference, tunevlseg with fixed`, {
    default: 'auto',
    parse: oneOf(SAMPLER_CHOICES),
  });
  option(cmd, '--recipe <r>', `the original run scripts\' overrides per cell: ${RECIPE_NAMES.join(', ')}`);
  option(cmd, '--no-predictions', "skip writing test-set predictions (the report's gallery)");
  option(cmd, '--no-embeddings', "skip the CLIP embeddings of each dataset (the report's t-SNE figure)");
  flag(cmd, 'devices', {
    help: 'one worker process per device for each cell: cuda:0,cuda:1,... or all (every CUDA device); cpu,cpu for CPU processes',
  });
  flag(cmd, 'quiet', { help: 'less output' });
  examples(cmd, [
    'tunevlseg bench --datasets kvasir=data/kvasir,busi=data/busi --learners coop,maple --trials 5',
    'tunevlseg bench --datasets data/kvasir --models rd64 --ablate no-upsampler --devices all',
  ]);
  cmd.action(async (o: Omit<GridOptions, 'seed'> & { seed?: number }) => {
    const { seed, ...rest } = o;
    const { runGrid } = await import('../experiment/run-grid.js');
    const r = await runGrid({ ...rest, ...(seed !== undefined ? { seed: String(seed) } : {}) });
    console.log(
      `bench: ${r.ran.length} cell(s) run, ${r.skipped.length} already finished${r.failed.length ? `, ${r.failed.length} failed` : ''}; tables and figures: ${shellCommand(['tunevlseg', 'report', r.dir])}`,
    );
    console.log(r.dir);
    if (r.failed.length > 0) {
      throw new Error(
        `bench: ${r.failed.length} cell(s) completed no trial and stay empty (the next run into ${r.dir} sweeps them again):\n` +
          r.failed.map((f) => `  ${f.cell}: ${f.reason.replace(/\n/g, '\n    ')}`).join('\n'),
      );
    }
  });
}
