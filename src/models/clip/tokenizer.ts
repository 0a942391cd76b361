/**
 * CLIP byte-level BPE tokenizer, reproducing the Hugging Face *slow* `CLIPTokenizer`
 * (transformers 4.38.2, `models/clip/tokenization_clip.py`) on the path it takes when `ftfy`
 * is not installed: a BERT-style `BasicTokenizer(strip_accents=False, do_split_on_punc=False)`
 * cleans the text, then the CLIP regex and OpenAI's byte-level BPE run on it.
 * See docs/tokenizer.md for why this is not the fast (`tokenizer.json`) pipeline.
 *
 * Pipeline of `encode(text)`:
 *  1. split the raw text on exact occurrences of the special-token strings (HF's added-token
 *     trie); those pieces map straight to their ids;
 *  2. every other piece: drop U+0000, U+FFFD and every character of general category C*
 *     (Cc, Cf, Cs, Co, Cn) except \t \n \r; turn \t \n \r and Zs into a space; surround CJK
 *     ideographs with spaces; NFC; split on whitespace; lowercase each word; rejoin with " ";
 *  3. the CLIP regex (case-insensitive); each match -> UTF-8 bytes -> GPT-2 byte-to-unicode
 *     characters -> BPE with `</w>` glued to the last character (cached per word);
 *  4. ids from vocab.json (unknown -> unk id), truncation to `maxLength - 2`, then BOS/EOS,
 *     then right padding with the pad id.
 *
 * Why one file over 450 lines: one algorithm (text cleaning, the CLIP regex, byte-level BPE,
 * special tokens, padding) whose steps only make sense together, as in the upstream file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Encoding {
  inputIds: number[];
  attentionMask: number[];
}

export interface EncodeOptions {
  /** Add BOS/EOS around the tokens (default true). */
  addSpecialTokens?: boolean;
  /** Length limit for truncation and `padding: 'max_length'` (default: the model max length, 77). */
  maxLength?: number;
  /** Cut the tokens so the result fits `maxLength`, keeping EOS last (default true). */
  truncation?: boolean;
  /** Right-pad with the pad id up to `maxLength` (default 'none'). */
  padding?: 'max_length' | 'none';
}

export interface EncodeBatchOptions {
  /** Truncation length and, for `padding: 'max_length'`, the padded length (default 77). */
  maxLength?: number;
  /** 'longest' (default): pad every row to the longest row; 'max_length': pad to `maxLength`. */
  padding?: 'longest' | 'max_length';
}

export interface DecodeOptions {
  /** Drop BOS/EOS/PAD/UNK ids before decoding (default false). */
  skipSpecialTokens?: boolean;
}

export interface ClipTokenizerOptions {
  /** Default `maxLength` of `encode`/`encodeBatch` (HF `model_max_length`; default 77). */
  modelMaxLength?: number;
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  unkToken?: string;
}

const DEFAULT_BOS = '<|startoftext|>';
const DEFAULT_EOS = '<|endoftext|>';
const DEFAULT_MODEL_MAX_LENGTH = 77;
/** HF reads at most `49152 - 256 - 2` merges from merges.txt (`[1 : 49152 - 256 - 2 + 1]`). */
const MAX_MERGES = 49152 - 256 - 2;
const WORD_END = '</w>';
const CACHE_LIMIT = 200_000;

/** The CLIP pre-tokenization regex of `CLIPTokenizer` (compiled there with `re.IGNORECASE`). */
const CLIP_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;
const CONTROL_CATEGORY = /^\p{C}$/u;
const SPACE_SEPARATOR = /^\p{Zs}$/u;
/** Python's `str.split()` / `str.strip()` whitespace set (Py_UNICODE_ISSPACE). */
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
/** Fast path: text made only of these characters needs no cleaning, CJK splitting or NFC. */
const PLAIN_ASCII = /^[\x20-\x7e]*$/;

/** GPT-2's reversible byte -> printable unicode character table (`bytes_to_unicode`). */
function bytesToUnicode(): string[] {
  const table: string[] = new Array<string>(256);
  const direct = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (direct(b)) table[b] = String.fromCodePoint(b);
  }
  for (let b = 0; b < 256; b++) {
    if (!direct(b)) table[b] = String.fromCodePoint(256 + n++);
  }
  return table;
}

const BYTE_ENCODER: readonly string[] = bytesToUnicode();
const BYTE_DECODER: ReadonlyMap<string, number> = new Map(BYTE_ENCODER.map((c, b) => [c, b]));

/** `BasicTokenizer._is_chinese_char` (transformers): the CJK ideograph blocks only. */
function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Python's `text.split()` (which also strips). */
function pySplit(text: string): string[] {
  return text.split(PY_WHITESPACE).filter((w) => w.length > 0);
}

/**
 * `BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize(text)` joined with
 * single spaces, as `CLIPTokenizer._tokenize` does without ftfy.
 */
function basicClean(text: string): string {
  if (PLAIN_ASCII.test(text)) {
    // Printable ASCII: nothing to drop, no CJK, NFC is the identity; only split + lowercase.
    return text
      .split(' ')
      .filter((w) => w.length > 0)
      .join(' ')
      .toLowerCase();
  }
  // _clean_text, then _tokenize_chinese_chars (one pass; the two commute).
  let cleaned = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\t' || ch === '\n' || ch === '\r') {
      cleaned += ' ';
    } else if (cp === 0 || cp === 0xfffd || CONTROL_CATEGORY.test(ch)) {
      continue;
    } else if (ch === ' ' || SPACE_SEPARATOR.test(ch)) {
      cleaned += ' ';
    } else if (isCjkIdeograph(cp)) {
      cleaned += ' ' + ch + ' ';
    } else {
      cleaned += ch;
    }
  }
  const words = pySplit(cleaned.normalize('NFC')).map((w) => w.toLowerCase());
  return pySplit(words.join(' ')).join(' ');
}

function readTextFile(path: string, what: string): string {
  if (!existsSync(path)) throw new Error(`CLIP tokenizer: ${what} not found: ${path}`);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`CLIP tokenizer: cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

function parseJsonFile(path: string, what: string): unknown {
  const text = readTextFile(path, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`CLIP tokenizer: ${what} ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function vocabFromObject(obj: unknown, source: string): Map<string, number> {
  if (!isRecord(obj)) throw new Error(`CLIP tokenizer: ${source}: expected an object mapping token -> id`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(obj)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new Error(
        `CLIP tokenizer: ${source}: id of token ${JSON.stringify(token)} must be a non-negative integer, got ${JSON.stringify(id)}`,
      );
    }
    vocab.set(token, id);
  }
  return vocab;
}

/** Parse merges.txt as HF's slow tokenizer does: skip the `#version` header, keep at most 48894 merges. */
function parseMergesTxt(text: string, path: string): Array<[string, string]> {
  const lines = text.trim().split('\n');
  const merges: Array<[string, string]> = [];
  for (let i = 0; i < lines.length && merges.length < MAX_MERGES; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    // HF drops line 0 unconditionally; we drop it only when it is the `#version` header.
    if (i === 0 && line.startsWith('#version')) continue;
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2 || parts[0] === '') {
      throw new Error(
        `CLIP tokenizer: malformed merge at ${path}:${i + 1}: expected two space-separated symbols, got ${JSON.stringify(line)}`,
      );
    }
    merges.push([parts[0]!, parts[1]!]);
  }
  return merges;
}

/** Merges of a HF fast `tokenizer.json`: strings "a b" or pairs ["a", "b"]. */
function parseTokenizerJsonMerges(raw: unknown, path: string): Array<[string, string]> {
  if (!Array.isArray(raw)) throw new Error(`CLIP tokenizer: ${path}: model.merges must be an array`);
  return raw.map((m: unknown, i): [string, string] => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return [parts[0]!, parts[1]!];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return [m[0], m[1]];
    }
    throw new Error(`CLIP tokenizer: ${path}: malformed merge at model.merges[${i}]: ${JSON.stringify(m)}`);
  });
}

/** A special-token entry of tokenizer_config.json: a string or `{ content: string, ... }`. */
function tokenContent(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (isRecord(x) && typeof x.content === 'string') return x.content;
  return undefined;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly vocabSize: number;
  readonly modelMaxLength: number;
  readonly bosToken: string;
  readonly eosToken: string;
  readonly padToken: string;
  readonly unkToken: string;

  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  /** Merge ranks keyed by `first + ' ' + second` (symbols never contain a space). */
  private readonly ranks: Map<string, number>;
  /** Special-token strings matched verbatim in the raw text (HF's added-token trie). */
  private readonly specialTokens: Map<string, number>;
  private readonly specialIds: Set<number>;
  /** Byte-encoded word -> its BPE symbols (HF's `self.cache`). */
  private readonly cache = new Map<string, readonly string[]>();

  constructor(vocab: Map<string, number>, merges: ReadonlyArray<readonly [string, string]>, opts: ClipTokenizerOptions = {}) {
    this.encoder = vocab;
    this.decoder = new Map();
    for (const [token, id] of vocab) this.decoder.set(id, token);
    this.vocabSize = vocab.size;
    this.ranks = new Map();
    // dict(zip(merges, range(n))): a duplicated merge keeps its last rank.
    merges.forEach(([a, b], rank) => this.ranks.set(`${a} ${b}`, rank));

    this.bosToken = opts.bosToken ?? DEFAULT_BOS;
    this.eosToken = opts.eosToken ?? DEFAULT_EOS;
    this.padToken = opts.padToken ?? DEFAULT_EOS;
    this.unkToken = opts.unkToken ?? DEFAULT_EOS;
    const idOf = (token: string, role: string): number => {
      const id = vocab.get(token);
      if (id === undefined) throw new Error(`CLIP tokenizer: the ${role} token ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    this.bosId = idOf(this.bosToken, 'BOS');
    this.eosId = idOf(this.eosToken, 'EOS');
    this.padId = idOf(this.padToken, 'pad');
    this.unkId = idOf(this.unkToken, 'unk');
    this.specialTokens = new Map([
      [this.bosToken, this.bosId],
      [this.eosToken, this.eosId],
      [this.padToken, this.padId],
      [this.unkToken, this.unkId],
    ]);
    this.specialIds = new Set(this.specialTokens.values());

    const maxLen = opts.modelMaxLength ?? DEFAULT_MODEL_MAX_LENGTH;
    if (!Number.isInteger(maxLen) || maxLen < 2) {
      throw new Error(`CLIP tokenizer: modelMaxLength must be an integer >= 2, got ${maxLen}`);
    }
    this.modelMaxLength = maxLen;
  }

  /** Load HF/OpenAI-style `vocab.json` and `merges.txt`. */
  static fromFiles(vocabJsonPath: string, mergesTxtPath: string, opts: ClipTokenizerOptions = {}): ClipTokenizer {
    const vocab = vocabFromObject(parseJsonFile(vocabJsonPath, 'vocabulary file'), vocabJsonPath);
    const merges = parseMergesTxt(readTextFile(mergesTxtPath, 'merges file'), mergesTxtPath);
    return new ClipTokenizer(vocab, merges, opts);
  }

  /**
   * Load a HF tokenizer folder: `vocab.json` + `merges.txt`, or, when `vocab.json` is absent,
   * the fast `tokenizer.json` (`model.vocab`, `model.merges`). `tokenizer_config.json`, if
   * present, supplies `model_max_length` and the special-token strings.
   */
  static fromDir(dir: string): ClipTokenizer {
    const opts: ClipTokenizerOptions = {};
    const configPath = join(dir, 'tokenizer_config.json');
    if (existsSync(configPath)) {
      const cfg = parseJsonFile(configPath, 'tokenizer config');
      if (!isRecord(cfg)) throw new Error(`CLIP tokenizer: ${configPath}: expected a JSON object`);
      const mml = cfg.model_max_length;
      if (mml !== undefined && mml !== null) {
        if (typeof mml !== 'number' || !Number.isInteger(mml) || mml < 2) {
          throw new Error(`CLIP tokenizer: ${configPath}: model_max_length must be an integer >= 2, got ${JSON.stringify(mml)}`);
        }
        // HF writes a huge sentinel (int(1e30)) when the length is unknown: keep our default then.
        if (mml <= 1_000_000) opts.modelMaxLength = mml;
      }
      const bos = tokenContent(cfg.bos_token);
      const eos = tokenContent(cfg.eos_token);
      const pad = tokenContent(cfg.pad_token);
      const unk = tokenContent(cfg.unk_token);
      if (bos !== undefined) opts.bosToken = bos;
      if (eos !== undefined) opts.eosToken = eos;
      if (pad !== undefined) opts.padToken = pad;
      if (unk !== undefined) opts.unkToken = unk;
    }
    const vocabPath = join(dir, 'vocab.json');
    const mergesPath = join(dir, 'merges.txt');
    if (existsSync(vocabPath)) return ClipTokenizer.fromFiles(vocabPath, mergesPath, opts);

    const fastPath = join(dir, 'tokenizer.json');
    if (!existsSync(fastPath)) {
      throw new Error(`CLIP tokenizer: no vocabulary in ${dir}: neither ${vocabPath} nor ${fastPath} exists`);
    }
    const fast = parseJsonFile(fastPath, 'tokenizer file');
    if (!isRecord(fast) || !isRecord(fast.model)) throw new Error(`CLIP tokenizer: ${fastPath}: missing "model" object`);
    if (fast.model.type !== undefined && fast.model.type !== 'BPE') {
      throw new Error(`CLIP tokenizer: ${fastPath}: model.type must be "BPE", got ${JSON.stringify(fast.model.type)}`);
    }
    const vocab = vocabFromObject(fast.model.vocab, `${fastPath} model.vocab`);
    const merges = parseTokenizerJsonMerges(fast.model.merges, fastPath);
    return new ClipTokenizer(vocab, merges, opts);
  }

  /** BPE of one byte-encoded word; `</w>` is glued to its last character. */
  private bpe(word: string): readonly string[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    let symbols = Array.from(word);
    symbols[symbols.length - 1] += WORD_END;
    while (symbols.length > 1) {
      let bestRank = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          first = symbols[i]!;
          second = symbols[i + 1]!;
        }
      }
      if (bestRank === Infinity) break;
      // Merge every non-overlapping occurrence of (first, second), left to right.
      const merged: string[] = [];
      for (let i = 0; i < symbols.length;) {
        if (i + 1 < symbols.length && symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(symbols[i]!);
          i += 1;
        }
      }
      symbols = merged;
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, symbols);
    return symbols;
  }

  /** `CLIPTokenizer._tokenize` of a piece of text that contains no special-token string. */
  private tokenizePiece(text: string, out: string[]): void {
    const clean = basicClean(text);
    if (clean.length === 0) return;
    for (const m of clean.matchAll(CLIP_PATTERN)) {
      const token = m[0];
      // HF seeds its BPE cache with the two CLIP specials: they come out unchanged (no </w>).
      if (token === DEFAULT_BOS || token === DEFAULT_EOS) {
        out.push(token);
        continue;
      }
      let encoded = '';
      if (/^[\x21-\x7e]+$/.test(token)) {
        encoded = token; // printable ASCII bytes map to themselves
      } else {
        for (const b of Buffer.from(token, 'utf8')) encoded += BYTE_ENCODER[b]!;
      }
      for (const s of this.bpe(encoded)) out.push(s);
    }
  }

  /** Split raw text around exact special-token strings, like HF's added-token trie. */
  private splitSpecial(text: string): Array<{ special: boolean; text: string }> {
    const pieces: Array<{ special: boolean; text: string }> = [];
    let start = 0;
    while (start < text.length) {
      let best = -1;
      let bestToken = '';
      for (const tok of this.specialTokens.keys()) {
        const at = text.indexOf(tok, start);
        if (at !== -1 && (best === -1 || at < best || (at === best && tok.length > bestToken.length))) {
          best = at;
          bestToken = tok;
        }
      }
      if (best === -1) break;
      if (best > start) pieces.push({ special: false, text: text.slice(start, best) });
      pieces.push({ special: true, text: bestToken });
      start = best + bestToken.length;
    }
    if (start < text.length) pieces.push({ special: false, text: text.slice(start) });
    return pieces;
  }

  /** The BPE token strings of `text`, without BOS/EOS (HF `tokenizer.tokenize(text)`). */
  bpeTokens(text: string): string[] {
    const out: string[] = [];
    if (!text.includes('<')) {
      this.tokenizePiece(text, out);
      return out;
    }
    for (const piece of this.splitSpecial(text)) {
      if (piece.special) out.push(piece.text);
      else this.tokenizePiece(piece.text, out);
    }
    return out;
  }

  /** Ids of a token string; unknown tokens map to the unk id (HF `_convert_token_to_id`). */
  tokenToId(token: string): number {
    return this.encoder.get(token) ?? this.unkId;
  }

  /** Token string of an id; throws on an id outside the vocabulary. */
  idToToken(id: number): string {
    const token = this.decoder.get(id);
    if (token === undefined) throw new Error(`CLIP tokenizer: id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    return token;
  }

  encode(text: string, opts: EncodeOptions = {}): Encoding {
    const addSpecial = opts.addSpecialTokens ?? true;
    const maxLength = opts.maxLength ?? this.modelMaxLength;
    const truncation = opts.truncation ?? true;
    const padding = opts.padding ?? 'none';
    const reserved = addSpecial ? 2 : 0;
    if ((truncation || padding === 'max_length') && (!Number.isInteger(maxLength) || maxLength < Math.max(reserved, 1))) {
      throw new Error(
        `CLIP tokenizer: maxLength must be an integer >= ${Math.max(reserved, 1)}${addSpecial ? ' (BOS and EOS need two positions)' : ''}, got ${maxLength}`,
      );
    }
    let ids = this.bpeTokens(text).map((t) => this.tokenToId(t));
    if (truncation && ids.length > maxLength - reserved) ids = ids.slice(0, maxLength - reserved);
    if (addSpecial) ids = [this.bosId, ...ids, this.eosId];
    const attentionMask = ids.map(() => 1);
    if (padding === 'max_length') {
      while (ids.length < maxLength) {
        ids.push(this.padId);
        attentionMask.push(0);
      }
    }
    return { inputIds: ids, attentionMask };
  }

  /** Encode with special tokens and truncation, then right-pad every row to the same length. */
  encodeBatch(texts: string[], opts: EncodeBatchOptions = {}): { inputIds: number[][]; attentionMask: number[][] } {
    const maxLength = opts.maxLength ?? this.modelMaxLength;
    const padding = opts.padding ?? 'longest';
    const rows = texts.map((t) => this.encode(t, { maxLength, truncation: true }));
    const target = padding === 'max_length' ? maxLength : Math.max(0, ...rows.map((r) => r.inputIds.length));
    for (const r of rows) {
      while (r.inputIds.length < target) {
        r.inputIds.push(this.padId);
        r.attentionMask.push(0);
      }
    }
    return { inputIds: rows.map((r) => r.inputIds), attentionMask: rows.map((r) => r.attentionMask) };
  }

  /**
   * HF slow `decode` with `clean_up_tokenization_spaces=True`: bytes of all tokens (special
   * tokens included as text unless skipped), `</w>` -> space, trimmed, spaces before
   * punctuation/contractions removed. Invalid UTF-8 becomes U+FFFD (`errors="replace"`).
   */
  decode(ids: number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? false;
    const bytes: number[] = [];
    for (const id of ids) {
      if (skip && this.specialIds.has(id)) continue;
      for (const ch of this.idToToken(id)) {
        const b = BYTE_DECODER.get(ch);
        if (b === undefined)
          throw new Error(`CLIP tokenizer: token of id ${id} has a character outside the byte alphabet: ${JSON.stringify(ch)}`);
        bytes.push(b);
      }
    }
    const text = new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
    return cleanUpTokenization(text.replaceAll(WORD_END, ' ').trim());
  }
}

/** `PreTrainedTokenizerBase.clean_up_tokenization`. */
function cleanUpTokenization(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
