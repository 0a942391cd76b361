// `tunevlseg train`: a YAML/JSON config file plus a flag for every config key, validated with
// zod (errors name the key and where its value came from); `--resume <run>` continues an
// interrupted run. Thin over src/train (docs/train.md).
import path from 'node:path';
import type { Command } from 'commander';
import { RUN_FILES } from '../train/run-folder.js';
import { stringifyJson } from '../util/json.js';
import { DEFAULT_LEARNER } from '../learners/registry.js';
import { factoryOf, printerOf, type CommandDeps } from './deps.js';
import { collect, examples, flag, option } from './flags.js';
import { addConfigKeyFlags, trainConfigOf, type TrainFlags } from './train-flags.js';

/** The base model a config gets when it names none (src/tuning/config.ts). */
const DEFAULT_MODEL = 'clipseg';

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
  const leafOptions = addConfigKeyFlags(cmd);
  examples(cmd, [
    'tunevlseg train --dataset data/kvasir --model learner=maple --name k1',
    'tunevlseg train -c kvasir.yaml --model depth=3 --lr 1e-3',
    'tunevlseg train --resume k1',
  ]);
  cmd.action(async (flags: TrainFlags) => {
    const print = printerOf(deps);
    const { config, resume } = trainConfigOf(flags, leafOptions);
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
