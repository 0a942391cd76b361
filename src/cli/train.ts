// `tunevlseg train`: a YAML/JSON config file plus a flag for every config key, validated with
// zod (errors name the key and where its value came from); `--resume <run>` continues an
// interrupted run. Thin over src/train (docs/train.md).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import {
  train, readRunConfig, TrainingInterruptedError, type BuildSegmenter, type TrainSummary,
} from '../train/trainer.js';
import { runDirOf, RUN_FILES } from '../train/run-folder.js';
import {
  configLeaves, parseFlagValue, parseAssignments, readConfigFile, applyOverrides, keyPaths, parseTrainConfig,
  ConfigError, type ConfigSources, type TrainConfig,
} from '../train/config.js';
import { stringifyJson } from '../util/json.js';
import { modelFlagAssignments, checkModelKeys } from './model-flag.js';
import { DEFAULT_LEARNER } from '../learners/registry.js';
import { FLAGS, collect, examples, flag, option, type FlagName } from './flags.js';

/** The base model a config gets when it names none (src/tuning/config.ts). */
const DEFAULT_MODEL = 'clipseg';

/** The segmenter factory of src/tuning, loaded only when a command needs a model. */
export async function loadDefaultFactory(): Promise<BuildSegmenter> {
  const mod = await import('../tuning/factory.js');
  return (model) => {
    checkModelKeys(model, 'model config');
    return mod.buildSegmenter(model as Parameters<typeof mod.buildSegmenter>[0]);
  };
}

export interface CommandDeps {
  /** Replaces the factory of src/tuning (tests, embedding applications). */
  buildSegmenter?: BuildSegmenter;
  /** Where results/JSON go (default console.log). */
  print?: (line: string) => void;
  /** Progress bar stream (default stderr). */
  stream?: NodeJS.WritableStream;
}

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
 * Resolves a configuration from a file (optional) and flags: defaults < file < key flags <
 * --model k=v < --set k=v. Returns it with the source of every key (for error messages).
 */
export function resolveTrainConfig(flags: TrainFlags, leafValues: [string, string, string][]): { config: TrainConfig; sources: ConfigSources } {
  const sources: ConfigSources = new Map();
  let base: Record<string, unknown> = {};
  if (flags.config) {
    base = readConfigFile(flags.config);
    for (const k of keyPaths(base)) sources.set(k, flags.config);
  }
  const leaves = new Map(configLeaves().map((l) => [l.key, l]));
  const overrides: [string, unknown][] = [];
  for (const [key, raw, flag] of leafValues) {
    overrides.push([key, parseFlagValue(leaves.get(key), raw)]);
    sources.set(key, flag);
  }
  const modelSets = modelFlagAssignments(flags.model).map(([k, v, from]): [string, unknown, string] => [`model.${k}`, v, from]);
  for (const [k, v, from] of [...modelSets, ...parseAssignments(flags.set, '--set')]) {
    overrides.push([k, v]);
    sources.set(k, from);
  }
  if (flags.quiet) overrides.push(['progress', 'lines']);
  const merged = applyOverrides(base, overrides);
  return { config: parseTrainConfig(merged, sources), sources };
}

/** A run given as a folder, or as a name under runsDir. */
function locateRun(run: string, runsDir: string): string {
  if (existsSync(path.join(run, RUN_FILES.config))) return path.resolve(run);
  const under = path.join(runsDir, run);
  if (existsSync(path.join(under, RUN_FILES.config))) return path.resolve(under);
  throw new Error(`--resume ${run}: no run folder there (looked for ${path.resolve(run, RUN_FILES.config)} and ${path.resolve(under, RUN_FILES.config)})`);
}

function printSummary(s: TrainSummary, print: (l: string) => void, json: boolean): void {
  if (json) print(stringifyJson(s));
}

/**
 * Config keys whose flag is a shared concept of the grammar (docs/cli.md) rather than the key's
 * dotted path: `--dataset`, not `--data-dir` (the old spellings stay accepted).
 */
const CONCEPT_FLAGS: Readonly<Record<string, FlagName>> = {
  'data.dir': 'dataset', 'data.imageSize': 'imageSize', 'data.workers': 'loaderThreads', seed: 'seed', device: 'device', batchSize: 'batchSize',
};

const shownDefault = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : typeof v === 'string' ? v : JSON.stringify(v));

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
    const print = deps.print ?? ((l: string) => console.log(l));
    const given: [string, string, string][] = leafOptions
      .filter((o) => flags[o.attr] !== undefined)
      .map((o) => [o.key, String(flags[o.attr]), o.flag]);
    let config: TrainConfig;
    let resume = false;
    if (flags.resume !== undefined) {
      const extra = [...given.map(([, , f]) => f).filter((f) => f !== '--progress' && f !== '--runs-dir'),
        ...(flags.config ? ['--config'] : []), ...(flags.set.length ? ['--set'] : []), ...(flags.model.length ? ['--model'] : [])];
      if (extra.length > 0) {
        throw new ConfigError(`--resume continues a run with its saved config.json; config flags are not allowed with it (got ${extra.join(', ')})`);
      }
      const runsDir = given.find(([k]) => k === 'runsDir')?.[1] ?? 'runs';
      const dir = locateRun(flags.resume, runsDir);
      const saved = readRunConfig(dir);
      const progress = flags.quiet ? 'lines' : (given.find(([k]) => k === 'progress')?.[1] as TrainConfig['progress'] | undefined) ?? saved.progress;
      config = parseTrainConfig({ ...saved, runsDir: path.dirname(dir), name: path.basename(dir), progress });
      resume = true;
    } else {
      config = resolveTrainConfig(flags, given).config;
    }
    if (flags.printConfig) {
      print(stringifyJson(config, 2));
      return;
    }
    const buildSegmenter = deps.buildSegmenter ?? (await loadDefaultFactory());
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
        buildSegmenter, resume, overwrite: flags.overwrite === true, signal: controller.signal,
        ...(deps.stream ? { stream: deps.stream } : {}), log: print,
      });
      printSummary(summary, print, flags.json === true);
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

export { runDirOf };
