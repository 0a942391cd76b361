/**
 * The demo's tiny vocabulary: the real CLIP byte-level BPE (`ClipTokenizer`) restricted to the
 * words the demo uses, with ids remapped to 0..N-1, so that the shipped token-embedding table has
 * a few dozen rows instead of 49,408.
 *
 * How the restriction stays exact: BPE merges, at every step, the adjacent pair of lowest rank.
 * If a word's tokenisation with the full merge list fires merges m1, m2, ..., then with any
 * sub-list that contains m1, m2, ... (in their original order) the same pair has the lowest
 * rank at every step, so the word tokenises to the same token strings. `buildTinyVocab` runs
 * the full BPE on every demo word, keeps exactly the merges that fire and the token strings
 * that come out, and `ClipTokenizer` loads the result like any HF `vocab.json` + `merges.txt`.
 * Words outside the list fall apart into characters that have no id: they map to `<|unk|>`,
 * a dedicated token (CLIP's own unk is `<|endoftext|>`, which would move the pooling position
 * of a first-EOS model onto the unknown word).
 *
 * Ids: 0 `<|startoftext|>`, 1 `<|endoftext|>` (EOS and pad), 2 `<|unk|>`, then the tokens in
 * the order of their original CLIP ids. The model config says bos 0, eos 1, so pooling is at
 * the first EOS (eos_token_id != 2: not HF's legacy argmax rule).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ClipTokenizer } from '../models/clip/tokenizer.js';

export const TINY_BOS = '<|startoftext|>';
export const TINY_EOS = '<|endoftext|>';
export const TINY_UNK = '<|unk|>';
/** Positions of the demo's text tower (prompts are short; learners add 4 context tokens). */
export const TINY_MAX_LENGTH = 16;

/**
 * Every word the demo's prompts, prompt variants, context initialisers ("a photo of a") and
 * zero-shot probes use. "tumor" and the other target-domain words are in the vocabulary but
 * never appear in pretraining: their embeddings stay as initialised.
 */
export const DEMO_WORDS: readonly string[] = [
  // source domain: "<colour> <shape>", "the <colour> <shape>", "<colour> <shape> shape"
  'red',
  'green',
  'blue',
  'yellow',
  'circle',
  'square',
  'triangle',
  'the',
  'shape',
  // context initialiser of CoOp/MaPLe
  'a',
  'photo',
  'of',
  // target domain prompts and zero-shot probes
  'tumor',
  'dark',
  'with',
  'bright',
  'rim',
  'lesion',
  'mass',
  'vessel',
  'ultrasound',
  'object',
  // the full stop appended to every prompt
  '.',
];

export interface TinyVocab {
  /** token string -> new id */
  vocab: Record<string, number>;
  /** The merges that fire for the demo words, in their original order (without the header). */
  merges: [string, string][];
  /** new id -> original CLIP id (-1 for `<|unk|>`), for documentation and tests. */
  originalIds: number[];
}

/** GPT-2 byte -> unicode table (the same as the tokenizer's; ASCII letters map to themselves). */
function byteEncoder(): string[] {
  const table: string[] = new Array<string>(256);
  const direct = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) if (direct(b)) table[b] = String.fromCodePoint(b);
  for (let b = 0; b < 256; b++) if (!direct(b)) table[b] = String.fromCodePoint(256 + n++);
  return table;
}

/** BPE of one pre-tokenised word with a trace of the merges that fired. */
function bpeTrace(word: string, ranks: Map<string, number>): { symbols: string[]; fired: string[] } {
  let symbols = Array.from(word);
  symbols[symbols.length - 1] += '</w>';
  const fired: string[] = [];
  while (symbols.length > 1) {
    let best = Infinity;
    let key = '';
    for (let i = 0; i + 1 < symbols.length; i++) {
      const k = `${symbols[i]} ${symbols[i + 1]}`;
      const r = ranks.get(k);
      if (r !== undefined && r < best) {
        best = r;
        key = k;
      }
    }
    if (best === Infinity) break;
    fired.push(key);
    const [a, b] = key.split(' ') as [string, string];
    const merged: string[] = [];
    for (let i = 0; i < symbols.length;) {
      if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
        merged.push(a + b);
        i += 2;
      } else merged.push(symbols[i++]!);
    }
    symbols = merged;
  }
  return { symbols, fired };
}

/**
 * Restricts the full CLIP vocabulary (`vocab.json`, `merges.txt` of any CLIP tokenizer) to
 * `words`. Checks that the full tokenizer and the restricted one agree on every word.
 */
export function buildTinyVocab(fullVocabPath: string, fullMergesPath: string, words: readonly string[] = DEMO_WORDS): TinyVocab {
  const full = ClipTokenizer.fromFiles(fullVocabPath, fullMergesPath);
  const fullVocab = JSON.parse(readFileSync(fullVocabPath, 'utf8')) as Record<string, number>;
  const lines = readFileSync(fullMergesPath, 'utf8').trim().split('\n');
  const ranks = new Map<string, number>();
  let rank = 0;
  for (const [i, line] of lines.entries()) {
    if (i === 0 && line.startsWith('#version')) continue;
    ranks.set(line.trim(), rank++);
  }
  const enc = byteEncoder();
  const tokens = new Set<string>();
  const fired = new Set<string>();
  for (const w of words) {
    // Each demo word is one pre-tokenisation piece (letters only, or one punctuation run).
    const pieces = full.bpeTokens(w);
    const encoded = Array.from(Buffer.from(w.toLowerCase(), 'utf8'), (b) => enc[b]!).join('');
    const t = bpeTrace(encoded, ranks);
    if (t.symbols.join('|') !== pieces.join('|'))
      throw new Error(`tiny vocab: BPE trace of ${JSON.stringify(w)} disagrees with the tokenizer`);
    for (const s of t.symbols) {
      if (fullVocab[s] === undefined)
        throw new Error(`tiny vocab: token ${JSON.stringify(s)} of ${JSON.stringify(w)} is not in ${fullVocabPath}`);
      tokens.add(s);
    }
    for (const m of t.fired) fired.add(m);
  }
  const sorted = [...tokens].sort((a, b) => fullVocab[a]! - fullVocab[b]!);
  const vocab: Record<string, number> = { [TINY_BOS]: 0, [TINY_EOS]: 1, [TINY_UNK]: 2 };
  const originalIds = [fullVocab[TINY_BOS]!, fullVocab[TINY_EOS]!, -1];
  for (const s of sorted) {
    vocab[s] = originalIds.length;
    originalIds.push(fullVocab[s]!);
  }
  const merges = [...fired].sort((a, b) => ranks.get(a)! - ranks.get(b)!).map((m) => m.split(' ') as [string, string]);
  return { vocab, merges, originalIds };
}

/** Writes vocab.json, merges.txt and tokenizer_config.json (max length 16, unk `<|unk|>`) into `dir`. */
export function writeTinyVocab(dir: string, v: TinyVocab): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'vocab.json'), `${JSON.stringify(v.vocab)}\n`);
  writeFileSync(path.join(dir, 'merges.txt'), `#version: 0.2\n${v.merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`);
  writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    `${JSON.stringify(
      {
        bos_token: TINY_BOS,
        eos_token: TINY_EOS,
        pad_token: TINY_EOS,
        unk_token: TINY_UNK,
        model_max_length: TINY_MAX_LENGTH,
        do_lower_case: true,
        tokenizer_class: 'CLIPTokenizer',
        note: 'CLIP BPE restricted to the tunevlseg demo words (src/demo/vocab.ts); ids remapped',
      },
      null,
      1,
    )}\n`,
  );
}

/** The tokenizer of a folder written by `writeTinyVocab` (or any HF CLIP tokenizer folder). */
export function loadTinyTokenizer(dir: string): ClipTokenizer {
  return ClipTokenizer.fromDir(dir);
}
