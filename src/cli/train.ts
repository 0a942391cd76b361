// `tunevlseg train`: a YAML/JSON config file plus a flag for every config key, validated with
// zod (errors name the key and where its value came from); `--resume <run>` continues an
// interrupted run. Thin over src/train (docs/train.md).
import path from 'node:path';
import type { Command } from 'commander';
import { RUN_FILES } from '../train/run-folder.js';
import { configLeaves, ConfigError, type TrainConfig } from '../train/config.js';
import { locateRun, resolveTrainConfig, resumeConfig } from '../train/run-config.js';
import { stringifyJson } from '../util/json.js';
import { modelFlagAssignments } from './model-flag.js';
import { DEFAULT_LEARNER } from '../learners/registry.js';
import { factoryOf, printerOf, type CommandDeps } from './deps.js';
import { FLAGS, collect, examples, flag, option, type FlagName } from './flags.js';

/** The base model a config gets when it names none (src/tuning/config.ts). */
const DEFAULT_MODEL = 'clipseg';

interface TrainFlags {
  config?: string;
  resume?: string;
  overwrite?: boolean;
  quiet?: boolean;
  json?: boolean;
  printConfig?: boolean;
  set: string[];
  model: string[];
  [k: string]: unknown;
}

/**
 * Config keys whose flag is a shared concept of the grammar (docs/cli.md) rather than the key's
 * dotted path: `--dataset`, not `--data-dir` (the old spellings stay accepted).
 */
const CONCEPT_FLAGS: Readonly<Record<string, FlagName>> = {
  'data.dir': 'dataset',
  'data.imageSize': 'imageSize',
  'data.workers': 'loaderThreads',
  seed: 'seed',
  device: 'device',
  batchSize: 'batchSize',
  precision: 'precision',
  tf32: 'tf32',
  threshold: 'threshold',
};

const shownDefault = (v: unknown): string | undefined =>
  v === undefined || v === null ? undefined : typeof v === 'string' ? v : JSON.stringify(v);

export function registerTrainCommand(program: Command, deps: CommandDeps = {}): Command {
  const cmd = program
    .command('train')
    .description('tune a segmenter on a dataset (config file + flags; --resume continues an interrupted run)');
  flag(cmd, 'config');
  option(cmd, '--resume <run>', 'continue an interrupted run (its folder, or its name under --runs-dir)');
  flag(cmd, 'overwrite', { help: 'replace an existing run folder of the same name' });
  flag(cmd, 'quiet', { help: 'one line per epoch instead of a progress bar (= --progress lines)' });
  flag(cmd, 'json', { help: 'print the summary as one JSON line at the end' });
  option(cmd, '--print-config', 'print the resolved configuration and exit');
  flag(cmd, 'model', { defaultText: `${DEFAULT_MODEL}, learner ${DEFAULT_LEARNER}, quirks reference` });
  option(cmd, '--set <key=value>', 'set any config key by its dotted path; repeatable', { repeatable: true, parse: collect });
  const leafOptions: { key: string; flag: string; attr: string }[] = [];
  for (const leaf of configLeaves()) {
    if (leaf.kind === 'record') continue; // model: --model key=value
    const choices = leaf.choices ? `: ${leaf.choices.join(' | ')}` : '';
    const help = `config key ${leaf.key}${choices}`;
    const def = shownDefault(leaf.defaultValue);
    const concept = CONCEPT_FLAGS[leaf.key];
    // Concept flags keep their own value check; the config's zod schema checks the rest.
    const opt = concept
      ? flag(cmd, concept, { help: `${FLAGS[concept].help}; ${help}`, ...(def !== undefined ? { defaultText: def } : {}) })
      : option(cmd, `${leaf.flag} <value>`, help, def !== undefined ? { defaultText: def } : {});
    leafOptions.push({ key: leaf.key, flag: opt.long!, attr: opt.attributeName() });
  }
  examples(cmd, [
    'tunevlseg train --dataset data/kvasir --model learner=maple --name k1',
    'tunevlseg train -c kvasir.yaml --model depth=3 --lr 1e-3',
    'tunevlseg train --resume k1',
  ]);
  cmd.action(async (flags: TrainFlags) => {
    const print = printerOf(deps);
    const given: [string, string, string][] = leafOptions
      .filter((o) => flags[o.attr] !== undefined)
      .map((o) => [o.key, String(flags[o.attr]), o.flag]);
    let config: TrainConfig;
    let resume = false;
    if (flags.resume !== undefined) {
      const extra = [
        ...given.map(([, , f]) => f).filter((f) => f !== '--progress' && f !== '--runs-dir'),
        ...(flags.config ? ['--config'] : []),
        ...(flags.set.length ? ['--set'] : []),
        ...(flags.model.length ? ['--model'] : []),
      ];
      if (extra.length > 0) {
        throw new ConfigError(
          `--resume continues a run with its saved config.json; config flags are not allowed with it (got ${extra.join(', ')})`,
        );
      }
      const runsDir = given.find(([k]) => k === 'runsDir')?.[1] ?? 'runs';
      const progress = flags.quiet ? 'lines' : (given.find(([k]) => k === 'progress')?.[1] as TrainConfig['progress'] | undefined);
      config = resumeConfig(locateRun(flags.resume, runsDir), progress);
      resume = true;
    } else {
      config = resolveTrainConfig({
        file: flags.config,
        leaves: given,
        model: modelFlagAssignments(flags.model),
        set: flags.set,
        quiet: flags.quiet,
      }).config;
    }
    if (flags.printConfig) {
      print(stringifyJson(config, 2));
      return;
    }
    const buildSegmenter = await factoryOf(deps);
    const { train, TrainingInterruptedError } = await import('../train/trainer.js');
    const controller = new AbortController();
    let interrupts = 0;
    const onSigint = (): void => {
      interrupts++;
      if (interrupts === 1) {
        process.stderr.write('\ninterrupt: stopping after the current step (a resume state is written); Ctrl-C again to quit now\n');
        controller.abort();
      } else process.exit(130);
    };
    process.on('SIGINT', onSigint);
    try {
      const summary = await train(config, {
        buildSegmenter,
        resume,
        overwrite: flags.overwrite === true,
        signal: controller.signal,
        ...(deps.stream ? { stream: deps.stream } : {}),
        log: print,
      });
      if (flags.json) print(stringifyJson(summary));
      if (summary.diverged) {
        // The run is complete and scored as the original would score it, but it diverged: a
        // script must not take it for a good run (docs/reliability.md, "Divergence").
        process.stderr.write(`error: training diverged: ${summary.diverged}; summary: ${path.join(summary.runDir, RUN_FILES.summary)}\n`);
        process.exitCode = 1;
      }
    } catch (e) {
      if (e instanceof TrainingInterruptedError) {
        process.stderr.write(`${e.message}\n`);
        process.exitCode = 130;
        return;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
  });
  return cmd;
}
