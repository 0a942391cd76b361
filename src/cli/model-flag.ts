/**
 * `--model` means one thing in every command (train, eval, predict, inspect, sweep): it is
 * repeatable, and each value is either
 *
 *   - a base model: a preset (clipseg, rd64, cris-tiny, ...), a local folder or a hub id
 *     (`--model rd64`, `--model weights/clipseg`, `--model CIDAS/clipseg-rd64@main`), or
 *   - `key=value` for any model config key (`--model learner=vpt --model depth=3`);
 *     `--model model=rd64` is the same as `--model rd64`.
 *
 * Keys are those of the model config's schema (src/tuning/config.ts); an unknown key is an error
 * that lists the valid ones and suggests the nearest.
 */
import YAML from 'yaml';
import { learnerOptionKeys, segmenterConfigSchema } from '../tuning/config.js';
import { didYouMean } from '../util/suggest.js';

/** Every key of the model config (its schema, src/tuning/config.ts). */
export const MODEL_CONFIG_KEYS: readonly string[] = Object.keys(segmenterConfigSchema.shape);

export class ModelFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFlagError';
  }
}

/** Keys that name a path or an id: their text is kept as typed (never parsed as YAML). */
const TEXT_KEYS = new Set(['model', 'tokenizer', 'device', 'quirks', 'learner', 'activation']);

/** `key=value` when the part before `=` looks like a config key, else a base-model spec. */
export function splitModelFlag(value: string): [key: string, raw: string] {
  const eq = value.indexOf('=');
  if (eq > 0 && /^[A-Za-z][A-Za-z0-9_]*$/.test(value.slice(0, eq).trim())) return [value.slice(0, eq).trim(), value.slice(eq + 1)];
  return ['model', value];
}

function parseValue(key: string, raw: string): unknown {
  if (TEXT_KEYS.has(key)) return raw;
  try {
    const v: unknown = YAML.parse(raw);
    return v === undefined || (v === null && raw.trim() !== 'null') ? raw : v;
  } catch {
    return raw;
  }
}

/** `--model` values as `[key, value]` pairs, in order (later values win). */
export function modelFlagAssignments(values: readonly string[]): [string, unknown, string][] {
  return values.map((v) => {
    const [key, raw] = splitModelFlag(v);
    return [key, parseValue(key, raw), `--model ${v}`];
  });
}

/** `--model` values as a model config (unchecked: an injected factory may take other keys). */
export function modelFlagConfig(values: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of modelFlagAssignments(values)) out[k] = v;
  return out;
}

/**
 * Throws a ModelFlagError naming each unknown model config key, the nearest valid one and the
 * list. Valid: the factory schema's keys and every registered learner's options (adapterDim, rank, ...).
 */
export function checkModelKeys(model: Record<string, unknown>, where = 'model config'): void {
  const valid = [...new Set([...MODEL_CONFIG_KEYS, ...learnerOptionKeys()])];
  const unknown = Object.keys(model).filter((k) => !valid.includes(k));
  if (unknown.length === 0) return;
  const lines = unknown.map((k) => {
    const near = didYouMean(k, valid);
    return `unknown key "${k}"${near ? ` (did you mean "${near}"?)` : ''}`;
  });
  throw new ModelFlagError(`${where}: ${lines.join('; ')}. Valid keys: ${valid.join(', ')}`);
}
