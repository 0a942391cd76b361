/**
 * The flag grammar of every command (docs/cli.md), declared once. A command takes a shared
 * concept with `flag(cmd, 'dataset', ...)` and gets the same spelling, help text, value check and
 * old spellings everywhere; its own flags go through `option(cmd, ...)`, which prints a default
 * the one way (`(default: X)`), and `examples(cmd, ...)` adds the `Examples:` block every
 * `--help` ends with. test/cli-help.test.ts walks every command's help against these rules.
 *
 * Old spellings (`--data`, `--data-dir`, `--img-size`, ...) stay accepted: a hidden option that
 * writes the canonical flag's value, and one line on stderr naming the new spelling.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { didYouMeanSuffix } from '../util/suggest.js';
import { LEARNER_NAMES, unknownLearnerMessage } from '../learners/registry.js';

/** Help text of `--model`, the same in every command (src/cli/model-flag.ts parses its values). */
export const MODEL_FLAG_HELP = 'base model (preset, folder or hub id org/name[@rev]) or key=value for any model config key; repeatable';

type Parse = (value: string, previous: unknown) => unknown;

interface FlagSpec {
  /** Commander flags, e.g. `--dataset <dir>`. */
  flags: string;
  help: string;
  parse?: Parse;
  /** Repeatable: values collect into an array (`[]` when not given; never printed as a default). */
  repeatable?: boolean;
  /** Old spellings still accepted (hidden, with a deprecation note). */
  old?: readonly string[];
}

/** The `(default: X)` suffix: the one way a default is printed. */
export const defaultNote = (shown: string | number | boolean): string => `(default: ${String(shown)})`;

const positiveInt = (flag: string): Parse => (v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected an integer >= 1, got ${JSON.stringify(v)} (${flag})`);
  return n;
};
const nonNegativeInt = (flag: string): Parse => (v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer >= 0, got ${JSON.stringify(v)} (${flag})`);
  return n;
};

/** A value among `choices`, with "did you mean" for a near miss. */
export const oneOf = (choices: readonly string[]): Parse => (v) => {
  if (!choices.includes(v)) throw new InvalidArgumentError(`expected ${choices.join(' | ')}, got ${JSON.stringify(v)}${didYouMeanSuffix(v, choices)}`);
  return v;
};

/** A learner name of the registry (read live: learners registered later count), or `extra` ('none'). */
export const learnerName = (extra: readonly string[] = []): Parse => (v) => {
  if (!(LEARNER_NAMES as readonly string[]).includes(v) && !extra.includes(v)) throw new InvalidArgumentError(unknownLearnerMessage(v, extra));
  return v;
};

/** A comma-separated list of registered learners, or `all` (kept as is: each command says what all means to it). */
export const learnerList: Parse = (v) => {
  const names = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of learners (${LEARNER_NAMES.join(', ')}), got ${JSON.stringify(v)}`);
  if (names.length === 1 && names[0] === 'all') return 'all';
  for (const n of names) learnerName()(n, undefined);
  return names.join(',');
};

/** Parser of a repeatable flag: each value appended. */
export const collect: Parse = (v, prev) => [...((prev as string[] | undefined) ?? []), v];

/** Every shared concept, its one spelling and its help (docs/cli.md lists them). */
export const FLAGS = {
  dataset: { flags: '--dataset <dir>', help: 'dataset folder (images/, masks/, anns/; docs/data.md)', old: ['--data', '--data-dir'] },
  datasets: { flags: '--datasets <list>', help: 'comma-separated dataset folders, each optionally name=folder' },
  model: { flags: '--model <m>', help: MODEL_FLAG_HELP, parse: collect, repeatable: true },
  models: { flags: '--models <list>', help: 'comma-separated base models (preset, folder or hub id), each optionally name=spec' },
  learner: { flags: '--learner <name>', help: 'context learner (the registry: docs/learners.md)', parse: learnerName() },
  learners: { flags: '--learners <list>', help: 'comma-separated learners, or all', parse: learnerList },
  imageSize: { flags: '--image-size <n>', help: 'model input side in pixels', parse: positiveInt('--image-size'), old: ['--img-size', '--data-image-size'] },
  loaderThreads: {
    flags: '--loader-threads <n>', help: 'data-loader threads that decode and resize images (0: on the main thread)',
    parse: nonNegativeInt('--loader-threads'), old: ['--workers', '--data-workers'],
  },
  workers: { flags: '--workers <n>', help: 'worker processes on this machine, each running trials', parse: positiveInt('--workers') },
  devices: { flags: '--devices <list>', help: 'one worker process per device: cuda:0,cuda:1,... or all (every CUDA device); cpu,cpu for CPU processes' },
  device: { flags: '--device <d>', help: 'cpu, cuda or cuda:<n>' },
  threads: { flags: '--threads <n>', help: 'libtorch threads (TUNEVLSEG_THREADS sets it for every command)', parse: positiveInt('--threads') },
  quirks: {
    flags: '--quirks <mode>', help: 'reference (the original code\'s behaviour, docs/quirks.md) | fixed (what the paper says)',
    parse: oneOf(['reference', 'fixed']),
  },
  config: { flags: '-c, --config <file>', help: 'YAML or JSON training config (keys as in docs/train.md)' },
  out: { flags: '--out <dir>', help: 'output folder' },
  overwrite: { flags: '--overwrite', help: 'replace an earlier output of this command in the same place' },
  seed: { flags: '--seed <n>', help: 'seed', parse: nonNegativeInt('--seed') },
  batchSize: { flags: '--batch-size <n>', help: 'images per forward pass', parse: positiveInt('--batch-size') },
  tokenizer: { flags: '--tokenizer <dir>', help: 'tokenizer folder (vocab.json + merges.txt) or hub id, when the model folder has none' },
  storage: { flags: '--storage <url>', help: 'study storage: sqlite:<file> or postgres://...' },
  quiet: { flags: '-q, --quiet', help: 'less output: no progress bars' },
  json: { flags: '--json', help: 'print the result as one JSON object' },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;

export interface FlagUse {
  /** Help text for this command (default: the concept's). */
  help?: string;
  required?: boolean;
  /** A default value, printed as `(default: X)`. */
  default?: string | number | boolean;
  /** A default that is not a value ("the run's"), printed the same way. */
  defaultText?: string;
  /** Extra old spellings this command accepted. */
  old?: readonly string[];
}

/** Old spelling -> canonical flag, per command (filled by `flag`); read by the help test. */
const OLD_SPELLINGS = new WeakMap<Command, Map<string, string>>();

/** The old spellings a command accepts, old -> canonical (for tests and docs). */
export function oldSpellings(cmd: Command): ReadonlyMap<string, string> {
  return OLD_SPELLINGS.get(cmd) ?? new Map();
}

/** A hidden option that stores into another option's attribute (an old spelling). */
class OldSpelling extends Option {
  constructor(flags: string, private readonly target: string) {
    super(flags);
    this.hideHelp();
  }
  override attributeName(): string {
    return this.target;
  }
}

function longOf(flags: string): string {
  const m = /--[a-z0-9-]+/.exec(flags);
  if (!m) throw new Error(`flags ${flags}: no long flag`);
  return m[0];
}

/** Adds an option with the grammar's default display to `cmd`. */
export function option(cmd: Command, flags: string, help: string, use: Omit<FlagUse, 'help' | 'old'> & { parse?: Parse; repeatable?: boolean } = {}): Option {
  const shown = use.default !== undefined ? use.default : use.defaultText;
  const o = new Option(flags, shown !== undefined && use.default === undefined ? `${help} ${defaultNote(shown)}` : help);
  if (use.parse) o.argParser(use.parse as (v: string, p: unknown) => unknown);
  // Commander prints the description given with a default: the value as typed, never JSON-quoted.
  if (use.default !== undefined) o.default(use.default, String(use.default));
  if (use.required) o.makeOptionMandatory();
  cmd.addOption(o);
  // A repeatable flag's empty start ([]) is set before the action, not as a default: help would print it.
  if (use.repeatable) {
    cmd.hook('preAction', (self) => {
      if (self.getOptionValue(o.attributeName()) === undefined) self.setOptionValueWithSource(o.attributeName(), [], 'default');
    });
  }
  return o;
}

/** Adds a shared concept's flag (and its old spellings) to `cmd`. */
export function flag(cmd: Command, name: FlagName, use: FlagUse = {}): Option {
  const spec: FlagSpec = FLAGS[name];
  const o = option(cmd, spec.flags, use.help ?? spec.help, {
    ...(use.required ? { required: true } : {}),
    ...(use.default !== undefined ? { default: use.default } : {}),
    ...(use.defaultText !== undefined ? { defaultText: use.defaultText } : {}),
    ...(spec.parse ? { parse: spec.parse } : {}),
    ...(spec.repeatable ? { repeatable: true } : {}),
  });
  const canonical = longOf(spec.flags);
  const taken = new Set(cmd.options.flatMap((x) => [x.long, x.short]).filter(Boolean));
  const arg = spec.flags.includes('<') ? spec.flags.slice(spec.flags.indexOf('<')) : '';
  let olds = OLD_SPELLINGS.get(cmd);
  if (!olds) OLD_SPELLINGS.set(cmd, (olds = new Map()));
  for (const old of [...(spec.old ?? []), ...(use.old ?? [])]) {
    // A command whose own flag has that name (sweep --workers: processes) keeps it.
    if (taken.has(old)) continue;
    const alias = new OldSpelling(`${old}${arg ? ` ${arg}` : ''}`, o.attributeName());
    if (spec.parse) alias.argParser(spec.parse as (v: string, p: unknown) => unknown);
    cmd.addOption(alias);
    olds.set(old, canonical);
    cmd.on(`option:${alias.name()}`, () => {
      process.stderr.write(`tunevlseg: ${old} is an old spelling: use ${canonical} (docs/cli.md)\n`);
    });
  }
  return o;
}

/** Adds the `Examples:` block to `cmd`'s help; each line is a full command starting `tunevlseg`. */
export function examples(cmd: Command, lines: readonly string[]): Command {
  for (const l of lines) if (!l.startsWith('tunevlseg')) throw new Error(`example "${l}" must start with "tunevlseg"`);
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

/** The examples a command's help shows (parsed back from its help text; for the help test). */
export function examplesOf(help: string): string[] {
  const i = help.indexOf('\nExamples:\n');
  if (i < 0) return [];
  return help.slice(i + 11).split('\n').filter((l) => l.startsWith('  $ ')).map((l) => l.slice(4));
}
