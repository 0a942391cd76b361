// The train command's flags: one per config key (zod checks the values), the shared concepts by
// their own flag (docs/cli.md), and the config they resolve to, a new run's or a resumed one's.
import type { Command } from 'commander';
import { configLeaves, ConfigError, type TrainConfig } from '../train/config.js';
import { locateRun, resolveTrainConfig, resumeConfig } from '../train/run-config.js';
import { modelFlagAssignments } from './model-flag.js';
import { FLAGS, flag, option, type FlagName } from './flags.js';

export interface TrainFlags {
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

/** A config key's flag as commander holds it. */
export interface ConfigKeyFlag {
  key: string;
  flag: string;
  attr: string;
}

/** A flag for every config key (a shared concept's own flag where it has one); what each set. */
export function addConfigKeyFlags(cmd: Command): ConfigKeyFlag[] {
  const leafOptions: ConfigKeyFlag[] = [];
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
  return leafOptions;
}

/** The run's config from the flags: a new run's (defaults < file < key flags < --model < --set), or a resumed run's own. */
export function trainConfigOf(flags: TrainFlags, leafOptions: readonly ConfigKeyFlag[]): { config: TrainConfig; resume: boolean } {
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
  return { config, resume };
}
