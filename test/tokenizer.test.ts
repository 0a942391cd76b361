import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

import { ClipTokenizer } from '../src/models/clip/tokenizer.js';

import { repoRoot } from './helpers.js';
/** Walk up from this file to the folder whose package.json is named "tunevlseg". */

const FIXTURES = join(repoRoot(), '..', 'shared', 'fixtures', 'tokenizer');

interface Case {
  text: string;
  bpe_tokens: string[];
  input_ids: number[];
  attention_mask: number[];
  input_ids_padded_77: number[];
  attention_mask_padded_77: number[];
  truncated: boolean;
}
interface Cases {
  special_ids: { bos: number; eos: number; pad: number; unk: number };
  vocab_size: number;
  context_initializer: { text: string; ids_no_special_tokens: number[] };
  batch_padded_to_longest: { texts: string[]; input_ids: number[][]; attention_mask: number[][] };
  cases: Case[];
}

const cases = JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as Cases;
const tok = ClipTokenizer.fromFiles(join(FIXTURES, 'vocab.json'), join(FIXTURES, 'merges.txt'));

test('special ids and vocabulary size match the fixtures', () => {
  assert.equal(tok.bosId, cases.special_ids.bos);
  assert.equal(tok.eosId, cases.special_ids.eos);
  assert.equal(tok.padId, cases.special_ids.pad);
  assert.equal(tok.unkId, cases.special_ids.unk);
  assert.equal(tok.vocabSize, cases.vocab_size);
  assert.equal(cases.cases.length, 50);
});

for (const [i, c] of cases.cases.entries()) {
  test(`case ${i}: ${JSON.stringify(c.text.slice(0, 40))}`, () => {
    assert.deepEqual(tok.bpeTokens(c.text), c.bpe_tokens, 'bpe_tokens');
    const enc = tok.encode(c.text);
    assert.deepEqual(enc.inputIds, c.input_ids, 'input_ids (truncation=True, max_length=77)');
    assert.deepEqual(enc.attentionMask, c.attention_mask, 'attention_mask');
    assert.equal(enc.inputIds.length === 77 && c.bpe_tokens.length > 75, c.truncated);
    const padded = tok.encode(c.text, { padding: 'max_length' });
    assert.deepEqual(padded.inputIds, c.input_ids_padded_77, 'input_ids_padded_77');
    assert.deepEqual(padded.attentionMask, c.attention_mask_padded_77, 'attention_mask_padded_77');
  });
}

test('batch padded to the longest row', () => {
  const b = cases.batch_padded_to_longest;
  const out = tok.encodeBatch(b.texts);
  assert.deepEqual(out.inputIds, b.input_ids);
  assert.deepEqual(out.attentionMask, b.attention_mask);
});

test('batch padded to max_length equals the per-case padded-77 rows', () => {
  const texts = cases.cases.map((c) => c.text);
  const out = tok.encodeBatch(texts, { padding: 'max_length' });
  assert.deepEqual(
    out.inputIds,
    cases.cases.map((c) => c.input_ids_padded_77),
  );
  assert.deepEqual(
    out.attentionMask,
    cases.cases.map((c) => c.attention_mask_padded_77),
  );
});

test('context initializer without special tokens', () => {
  const ci = cases.context_initializer;
  const enc = tok.encode(ci.text, { addSpecialTokens: false });
  assert.deepEqual(enc.inputIds, ci.ids_no_special_tokens);
  assert.deepEqual(enc.attentionMask, [1, 1, 1, 1]);
});

test('truncation keeps EOS last; addSpecialTokens=false truncates to maxLength', () => {
  const long = 'polyp '.repeat(50);
  const enc = tok.encode(long, { maxLength: 10 });
  assert.equal(enc.inputIds.length, 10);
  assert.equal(enc.inputIds[0], tok.bosId);
  assert.equal(enc.inputIds[9], tok.eosId);
  assert.equal(tok.encode(long, { addSpecialTokens: false, maxLength: 7 }).inputIds.length, 7);
  assert.equal(tok.encode(long, { truncation: false }).inputIds.length, 102);
  assert.throws(() => tok.encode('polyp', { maxLength: 1 }), /maxLength must be an integer >= 2/);
});

test('decode round trip for plain ASCII prompts', () => {
  const plain = cases.cases.filter((c) => /^[A-Za-z ,.!?]*$/.test(c.text) && !c.truncated);
  assert.ok(plain.length >= 15, `only ${plain.length} plain prompts`);
  for (const c of plain) {
    const expected = c.text.toLowerCase().trim().split(/ +/).filter(Boolean).join(' ');
    assert.equal(tok.decode(c.input_ids, { skipSpecialTokens: true }), expected, JSON.stringify(c.text));
    assert.deepEqual(tok.encode(tok.decode(c.input_ids, { skipSpecialTokens: true })).inputIds, c.input_ids);
  }
});

test('decode keeps special tokens as text and applies HF clean-up of spaces', () => {
  const ids = tok.encode('A photo of a polyp.').inputIds;
  assert.equal(tok.decode(ids), '<|startoftext|>a photo of a polyp. <|endoftext|>');
  // clean_up_tokenization only knows " n't", " 's", " 'm", " 've", " 're" (not " 't").
  const c = tok.encode("the patient's lesion isn't benign").inputIds;
  assert.equal(tok.decode(c, { skipSpecialTokens: true }), "the patient's lesion isn 't benign");
  // Non-ASCII bytes are reassembled into UTF-8.
  assert.equal(tok.decode(tok.encode('café 肺').inputIds, { skipSpecialTokens: true }), 'café 肺');
  assert.throws(() => tok.decode([49408]), /id 49408 is not in the vocabulary/);
});

test('special-token strings: exact match splits, other spellings go through the CLIP regex', () => {
  // The added-token trie splits before cleaning, so punctuation does not swallow "<|".
  assert.deepEqual(tok.bpeTokens('x.<|endoftext|>y'), ['x</w>', '.</w>', '<|endoftext|>', 'y</w>']);
  // Upper case is lowercased by the BasicTokenizer, then matched by the regex and the seeded BPE cache.
  assert.deepEqual(tok.bpeTokens('<|ENDOFTEXT|>'), ['<|endoftext|>']);
  assert.deepEqual(tok.encode('a <|ENDOFTEXT|> b').inputIds, [49406, 320, 49407, 321, 49407]);
});

test('BasicTokenizer cleaning: \\v and \\f are dropped (Cc), U+2028 splits words', () => {
  assert.deepEqual(tok.bpeTokens('skin\vlesion'), tok.bpeTokens('skinlesion'));
  assert.deepEqual(tok.bpeTokens('skin\u2028lesion'), tok.bpeTokens('skin lesion'));
  assert.deepEqual(tok.bpeTokens('skin\u3000lesion'), tok.bpeTokens('skin lesion'));
  assert.deepEqual(tok.bpeTokens('SKIN\uFEFF LESION\uFFFD'), tok.bpeTokens('skin lesion'));
});

test('fromDir reads vocab.json + merges.txt and model_max_length', () => {
  const t = ClipTokenizer.fromDir(FIXTURES);
  assert.equal(t.modelMaxLength, 77);
  assert.deepEqual(t.encode('a photo of a polyp.').inputIds, cases.cases[14]!.input_ids);
});

test('fromDir falls back to a fast tokenizer.json when vocab.json is absent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tok-fast-'));
  try {
    const vocab = JSON.parse(readFileSync(join(FIXTURES, 'vocab.json'), 'utf8')) as Record<string, number>;
    const lines = readFileSync(join(FIXTURES, 'merges.txt'), 'utf8').trim().split('\n').slice(1);
    // Mix the two tokenizer.json merge spellings: "a b" and ["a", "b"].
    const merges = lines.map((l, i) => (i % 2 === 0 ? l : l.split(' ')));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab, merges } }));
    copyFileSync(join(FIXTURES, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    const t = ClipTokenizer.fromDir(dir);
    for (const c of cases.cases) assert.deepEqual(t.encode(c.text).inputIds, c.input_ids, JSON.stringify(c.text));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing vocab file: the error names the path', () => {
  const missing = join(tmpdir(), 'no-such-dir-tunevlseg', 'vocab.json');
  assert.throws(
    () => ClipTokenizer.fromFiles(missing, join(FIXTURES, 'merges.txt')),
    (e: Error) => e.message.includes(missing) && /vocabulary file not found/.test(e.message),
  );
  const empty = mkdtempSync(join(tmpdir(), 'tok-empty-'));
  try {
    assert.throws(
      () => ClipTokenizer.fromDir(empty),
      (e: Error) => e.message.includes(join(empty, 'vocab.json')) && e.message.includes(join(empty, 'tokenizer.json')),
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('malformed merges line: the error names the file and line number', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tok-bad-'));
  try {
    const merges = join(dir, 'merges.txt');
    writeFileSync(merges, '#version: 0.2\ni n\nt h e\na b\n');
    assert.throws(
      () => ClipTokenizer.fromFiles(join(FIXTURES, 'vocab.json'), merges),
      (e: Error) => e.message.includes(`${merges}:3`) && /malformed merge/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
