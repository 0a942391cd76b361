// `tunevlseg bench`: the paper's grid (src/experiment/grid.ts, run-grid.ts) into a bench folder
// that `tunevlseg report` reads. Flags in, one call, the result out.
import type { Command } from 'commander';
import { shellCommand } from '../hub/shell-quote.js';
import { LEARNERS } from '../sweep/index.js';
import { learnerFamily, learnersFor } from '../learners/registry.js';
import { ABLATIONS, GRID_DEFAULT_MODELS, RECIPE_NAMES, runGrid, SAMPLER_CHOICES, type GridOptions } from '../experiment/index.js';

export function registerBenchCommand(program: Command): void {
  program.command('bench')
    .description('run the benchmark grid (one TPE sweep per model x learner x dataset cell, plus ablations) into a bench folder for `tunevlseg report`')
    .requiredOption('--datasets <list>', 'comma-separated dataset folders, optionally name=folder (e.g. kvasir=data/Kvasir-SEG)')
    .option('--models <list>', 'comma-separated base models (preset, folder, hub id; optionally name=spec). Default: CIDAS/clipseg-rd64, the model (and tokenizer) the original experiment configs load, not -refined', GRID_DEFAULT_MODELS)
    .option('--learners <list>', `comma-separated learners (${LEARNERS.join(', ')}), or all; CRIS gets only ${learnersFor('cris').join(', ')}. Default: the paper's prompt learners`,
      LEARNERS.filter((l) => learnerFamily(l) === 'prompt').join(','))
    .option('--trials <n>', 'TPE trials per cell (default: the original sweep\'s n_trials, 20)')
    .option('--out <dir>', 'bench folder', 'bench')
    .option('--storage <url>', 'study storage (default sqlite:<bench>/studies.db; postgres://... to share cells with workers)')
    .option('--ablate <list>', `ablations: ${Object.keys(ABLATIONS).join(', ')} (Tables 4 and 5)`)
    .option('-c, --config <file>', 'base training config (docs/train.md)')
    .option('--max-epochs <n>', 'override maxEpochs of every trial')
    .option('--max-depth <n>', 'largest prompt depth sampled (default: the space\'s own, within the encoders\' layers)')
    .option('--seed <n>', 'sampler seed of every cell (default: the original sweep\'s seed for each learner with quirks reference, else 0)')
    .option('--sampler <s>', `${SAMPLER_CHOICES.join(', ')} (docs/sweep.md); auto: optuna with quirks reference, tunevlseg with fixed`, 'auto')
    .option('--recipe <r>', `the original run scripts\' overrides per cell: ${RECIPE_NAMES.join(', ')}`)
    .option('--no-predictions', 'skip writing test-set predictions (the report\'s gallery)')
    .option('--no-embeddings', 'skip the CLIP embeddings of each dataset (the report\'s t-SNE figure)')
    .option('--devices <list>', 'one worker process per device for each cell: cuda:0,cuda:1,... or all (every CUDA device); cpu,cpu for CPU processes')
    .option('-q, --quiet', 'less output')
    .action(async (o: GridOptions) => {
      const r = await runGrid(o);
      console.log(`bench: ${r.ran.length} cell(s) run, ${r.skipped.length} already finished${r.failed.length ? `, ${r.failed.length} failed` : ''}; tables and figures: ${shellCommand(['tunevlseg', 'report', r.dir])}`);
      console.log(r.dir);
      if (r.failed.length > 0) {
        throw new Error(`bench: ${r.failed.length} cell(s) completed no trial and stay empty (the next run into ${r.dir} sweeps them again):\n` +
          r.failed.map((f) => `  ${f.cell}: ${f.reason.replace(/\n/g, '\n    ')}`).join('\n'));
      }
    });
}
