/**
 * Prompt selection of a dataset entry. Mirrors the reference `ImageTextMaskDataset.get_curr_prompt`
 * with `insert_stop_at_last: true`; the differences are documented in docs/data.md. (Split out
 * of format.ts, which re-exports it.)
 */
import { hashSeed, Rng } from './rng.js';

export type PromptValue = string | string[];

export interface PromptOptions {
  /** A prompt key such as `p1`, or `random` (a random non-empty key per sample). Default `p1`. */
  promptKey?: string;
  /** When set, every sample gets this prompt (the keys are ignored). */
  overridePrompt?: string;
  /** Append "." when the prompt does not end with one (reference `insert_stop_at_last`). Default true. */
  appendFullStop?: boolean;
}

/** Prompt settings as configs and flags hold them: null or undefined means "not set here". */
export interface PromptSettings {
  promptKey?: string | null | undefined;
  overridePrompt?: string | null | undefined;
  appendFullStop?: boolean | null | undefined;
}

/**
 * The prompt options that layers of settings give (a run's `data` section, then flags): each
 * key from the last layer that sets it. The one place prompt options are assembled, so training,
 * evaluation and prediction read a split's prompts alike.
 */
export function promptOptions(...layers: readonly (PromptSettings | null | undefined)[]): PromptOptions {
  const out: PromptOptions = {};
  for (const l of layers) {
    if (!l) continue;
    if (l.promptKey !== undefined && l.promptKey !== null) out.promptKey = l.promptKey;
    if (l.overridePrompt !== undefined && l.overridePrompt !== null) out.overridePrompt = l.overridePrompt;
    if (l.appendFullStop !== undefined && l.appendFullStop !== null) out.appendFullStop = l.appendFullStop;
  }
  return out;
}

/** The reference's `prompt_index`: `p<i>` for i >= 0, `random` for a negative index. */
export function promptKeyFromIndex(index: number): string {
  return index >= 0 ? `p${index}` : 'random';
}

function nonEmpty(value: PromptValue | undefined): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  return list.filter((s) => s.trim() !== '');
}

/** Keys sorted like the reference (by the number after `p`), then by name. */
export function sortPromptKeys(keys: Iterable<string>): string[] {
  const num = (k: string): number => {
    const m = /^p(\d+)$/.exec(k);
    return m ? Number(m[1]) : Number.POSITIVE_INFINITY;
  };
  return [...keys].sort((a, b) => num(a) - num(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Keys of an entry whose value has at least one non-empty prompt, in sorted order. */
export function usablePromptKeys(prompts: Readonly<Record<string, PromptValue>>): string[] {
  return sortPromptKeys(Object.keys(prompts)).filter((k) => nonEmpty(prompts[k]).length > 0);
}

export function withFullStop(prompt: string): string {
  const p = prompt.trimEnd();
  return p.endsWith('.') ? p : `${p}.`;
}

/**
 * Why `opts` cannot give this entry a prompt, or null. Used to validate a whole split before a
 * run starts, so that a missing key fails with the entry named rather than mid-epoch.
 */
export function promptUnavailableReason(prompts: Readonly<Record<string, PromptValue>>, opts: PromptOptions): string | null {
  if (opts.overridePrompt !== undefined) {
    return opts.overridePrompt.trim() === '' ? 'the override prompt is empty' : null;
  }
  const key = opts.promptKey ?? 'p1';
  if (key === 'random') {
    return usablePromptKeys(prompts).length === 0 ? 'has no non-empty prompt to pick at random' : null;
  }
  if (!(key in prompts)) return `has no prompt "${key}" (keys: ${sortPromptKeys(Object.keys(prompts)).join(', ')})`;
  if (nonEmpty(prompts[key]).length === 0) return `prompt "${key}" is empty`;
  return null;
}

/**
 * Picks the prompt of one sample. `random` picks a key among the non-empty ones; a list value
 * gives a random element in training and its first (non-empty) element in evaluation. `rng`
 * must be seeded per sample (see `promptRng`) so the choice is independent of batch order.
 * Throws with the reason when the entry has no usable prompt for these options.
 */
export function selectPrompt(prompts: Readonly<Record<string, PromptValue>>, opts: PromptOptions & { train: boolean }, rng: Rng): string {
  const finish = (p: string): string => ((opts.appendFullStop ?? true) ? withFullStop(p) : p);
  if (opts.overridePrompt !== undefined) {
    if (opts.overridePrompt.trim() === '') throw new Error('the override prompt is empty');
    return finish(opts.overridePrompt);
  }
  const reason = promptUnavailableReason(prompts, opts);
  if (reason !== null) throw new Error(reason);
  let key = opts.promptKey ?? 'p1';
  if (key === 'random') key = rng.pick(usablePromptKeys(prompts));
  const choices = nonEmpty(prompts[key]);
  const chosen = opts.train ? rng.pick(choices) : (choices[0] as string);
  return finish(chosen);
}

/** The per-sample generator used for prompt choices: deterministic in (seed, epoch, entry). */
export function promptRng(seed: number, epoch: number, sampleKey: number): Rng {
  return new Rng(hashSeed(seed, epoch, sampleKey, 0x9f0));
}
