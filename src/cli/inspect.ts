// `tunevlseg inspect`: the trainable tensors of a model + learner configuration (names as in
// checkpoints, shapes, element counts, weight-decay group) and their total. Counts need no
// weights: presets are built with random weights, folders from their config.json alone.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { InspectResult } from '../tuning/inspect.js';
import { modelFlagConfig, checkModelKeys } from './model-flag.js';
import { MODEL_FLAG_HELP, collect, examples, flag, learnerName, option } from './flags.js';
import { DEFAULT_LEARNER, LEARNER_NAMES, learnersFor, learnersWithOption } from '../learners/registry.js';

export interface InspectFlags {
  /** `--model` values (repeatable): a base model and/or key=value model config keys. */
  model?: string | string[];
  learner?: string;
  depth?: string;
  numContext?: string;
  quirks?: string;
  tokenizer?: string;
  set?: string[];
  weights?: boolean;
  json?: boolean;
  all?: boolean;
}

function parseValue(raw: string): unknown {
  try {
    return parseYaml(raw) as unknown;
  } catch {
    return raw;
  }
}

/** Why `--weights` did nothing, per built config (a note printed beside the table). */
const weightsNotes = new WeakMap<Record<string, unknown>, string>();

/** The model config `inspect` builds (flags -> factory config). */
export function inspectConfig(f: InspectFlags): Record<string, unknown> {
  const fromFlag = modelFlagConfig(typeof f.model === 'string' ? [f.model] : (f.model ?? []));
  const model = typeof fromFlag.model === 'string' ? fromFlag.model : 'clipseg';
  const isFolder = existsSync(resolve(model)) && statSync(resolve(model)).isDirectory();
  const cfg: Record<string, unknown> = { model, learner: f.learner ?? DEFAULT_LEARNER, randomWeights: !(f.weights === true && isFolder) };
  if (f.weights === true && !isFolder) {
    weightsNotes.set(
      cfg,
      `--weights ignored: "${model}" is not a local model folder, and inspect never downloads (the counts do not need weights); ` +
        'give the folder a `tunevlseg download` wrote (its snapshot path) to load real weights',
    );
  }
  for (const [k, v] of Object.entries(fromFlag)) if (k !== 'model') cfg[k] = v;
  if (f.depth !== undefined) cfg.depth = Number(f.depth);
  if (f.numContext !== undefined) cfg.numContext = Number(f.numContext);
  if (f.quirks !== undefined) cfg.quirks = f.quirks;
  if (f.tokenizer !== undefined) cfg.tokenizer = f.tokenizer;
  for (const kv of f.set ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--set ${kv}: expected key=value`);
    cfg[kv.slice(0, i)] = parseValue(kv.slice(i + 1));
  }
  checkModelKeys(cfg, 'inspect');
  return cfg;
}

export type { InspectResult, InspectRow } from '../tuning/inspect.js';

/** What `tunevlseg inspect` does, as a function: flags in, the trainable tensors out (with a note on --weights). */
export async function runInspect(f: InspectFlags): Promise<InspectResult> {
  const cfg = inspectConfig(f);
  const { inspectModel } = await import('../tuning/inspect.js');
  const note = weightsNotes.get(cfg);
  return { ...(await inspectModel(cfg)), ...(note ? { note } : {}) };
}

export function formatInspect(r: InspectResult, all = true): string {
  const rows = all ? r.parameters : r.parameters.slice(0, 40);
  const w = Math.max(4, ...rows.map((p) => p.name.length));
  const lines = [
    `${r.model} + ${r.learner}${r.depth !== null ? ` (depth ${r.depth}, ${r.numContext} prompt tokens per layer)` : ''}, quirks ${r.quirks}`,
    `${'name'.padEnd(w)}  ${'shape'.padEnd(18)} ${'numel'.padStart(12)}  decay`,
    ...rows.map(
      (p) =>
        `${p.name.padEnd(w)}  ${`[${p.shape.join(', ')}]`.padEnd(18)} ${p.numel.toLocaleString('en-US').padStart(12)}  ${p.decay ? 'yes' : 'no'}`,
    ),
  ];
  if (rows.length < r.parameters.length) lines.push(`... ${r.parameters.length - rows.length} more tensors (--all lists every one)`);
  lines.push(
    `total trainable: ${r.total.toLocaleString('en-US')} values in ${r.parameters.length} tensors (${r.decayed.toLocaleString('en-US')} weight-decayed)`,
  );
  return lines.join('\n');
}

export function registerInspectCommand(program: Command, print: (s: string) => void = (s) => console.log(s)): Command {
  const cmd = program
    .command('inspect')
    .description('list the trainable tensors (names, shapes, counts) of a model + learner configuration');
  flag(cmd, 'model', { help: `${MODEL_FLAG_HELP}; presets: rd64-refined, rd64, cris-rn50, cris-tiny`, defaultText: 'clipseg' });
  flag(cmd, 'learner', { default: DEFAULT_LEARNER, help: `context learner: ${[...LEARNER_NAMES, 'none'].join(' | ')}` }).argParser(
    learnerName(['none']),
  );
  option(cmd, '--depth <d>', 'prompt depth (prompt learners)', { defaultText: "the learner's" });
  option(cmd, '--num-context <n>', 'prompt tokens per layer (prompt learners)', { defaultText: "the learner's" });
  flag(cmd, 'quirks', { defaultText: 'reference' });
  flag(cmd, 'tokenizer', { help: 'tokenizer folder or hub id (for a context initializer other than "a photo of a")' });
  option(cmd, '--set <key=value>', 'any other model config key (e.g. intermediateDim=32, heads=20, adapterDim=64, rank=4); repeatable', {
    repeatable: true,
    parse: collect,
  });
  option(
    cmd,
    '--weights',
    "load a model folder's weights (counts do not need them; presets and hub ids always use random weights: inspect never downloads)",
  );
  option(cmd, '--all', 'list every tensor', { defaultText: 'the first 40' });
  flag(cmd, 'json', { help: 'print one JSON object' });
  examples(cmd, [
    `tunevlseg inspect --learner ${DEFAULT_LEARNER} --depth 3`,
    `tunevlseg inspect --model cris-rn50 --learner ${learnersFor('cris')[0]} --json`,
    `tunevlseg inspect --model weights/clipseg --learner ${learnersWithOption('heads')[0]} --set heads=4 --weights`,
  ]);
  return cmd.action(async (flags: InspectFlags) => {
    const r = await runInspect(flags);
    if (r.note) process.stderr.write(`inspect: ${r.note}\n`);
    print(flags.json ? JSON.stringify(r) : formatInspect(r, flags.all === true));
  });
}
