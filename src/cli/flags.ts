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
import { Command, Option } from 'commander';
import { FLAGS, type FlagName, type FlagSpec } from './flag-table.js';
import type { Parse } from './flag-values.js';

export { FLAGS, MODEL_FLAG_HELP, type FlagName } from './flag-table.js';
export { collect, learnerList, learnerName, oneOf, probability } from './flag-values.js';

/** The `(default: X)` suffix: the one way a default is printed. */
export const defaultNote = (shown: string | number | boolean): string => `(default: ${String(shown)})`;

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
  constructor(
    flags: string,
    private readonly target: string,
  ) {
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
export function option(
  cmd: Command,
  flags: string,
  help: string,
  use: Omit<FlagUse, 'help' | 'old'> & { parse?: Parse; repeatable?: boolean } = {},
): Option {
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
  return help
    .slice(i + 11)
    .split('\n')
    .filter((l) => l.startsWith('  $ '))
    .map((l) => l.slice(4));
}
