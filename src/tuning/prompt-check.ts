/**
 * Warnings about prompts the model will not see as written, once per prompt per process:
 *
 * - a word the tokenizer maps to its unknown token (a vocabulary without byte fallback, or a
 *   character outside it): the model sees `<unk>` instead of the word;
 * - a prompt longer than the text context: its tail is cut (77 CLIP positions, CRIS's
 *   `maxLength`, minus the learner's context tokens when they go into the text).
 *
 * Neither stops a run (the reference behaves the same), but a silently cut prompt changes the
 * task, so the user is told.
 */
import type { ClipTokenizer } from '../models/clip/tokenizer.js';

export interface PromptLimit {
  /** Text positions, BOS and EOS included. */
  maxLength: number;
  /** Positions taken by learned context tokens inserted into the text (0: none). */
  contextTokens: number;
}

const warned = new Set<string>();
let sink: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

/** Where the warnings go (default stderr); returns the previous sink (tests). */
export function setPromptWarningSink(fn: (line: string) => void): (line: string) => void {
  const prev = sink;
  sink = fn;
  return prev;
}

/** What is wrong with one prompt for this tokenizer and limit (empty: nothing). */
export function promptProblems(tokenizer: ClipTokenizer, prompt: string, limit: PromptLimit): string[] {
  const out: string[] = [];
  const tokens = tokenizer.bpeTokens(prompt);
  const unknown = tokens.filter((t) => t !== tokenizer.unkToken && tokenizer.tokenToId(t) === tokenizer.unkId);
  if (unknown.length > 0) {
    const shown = [...new Set(unknown)]
      .slice(0, 5)
      .map((t) => JSON.stringify(t.replace('</w>', '')))
      .join(', ');
    out.push(`the tokenizer does not know ${shown}: the model sees its unknown token ${JSON.stringify(tokenizer.unkToken)} there`);
  }
  const room = limit.maxLength - 2 - limit.contextTokens;
  if (tokens.length > room) {
    out.push(
      `${tokens.length} tokens, more than the ${room} that fit (${limit.maxLength} positions` +
        `${limit.contextTokens > 0 ? ` - ${limit.contextTokens} context tokens` : ''} - BOS/EOS): the rest is cut`,
    );
  }
  return out;
}

/** Warns (once per prompt and problem) about the prompts of a batch. */
export function warnAboutPrompts(tokenizer: ClipTokenizer, prompts: readonly string[], limit: PromptLimit): void {
  for (const p of new Set(prompts)) {
    const key = `${limit.maxLength}:${limit.contextTokens}:${p}`;
    if (warned.has(key)) continue;
    warned.add(key);
    for (const problem of promptProblems(tokenizer, p, limit)) sink(`warning: prompt ${JSON.stringify(p)}: ${problem}`);
  }
}
