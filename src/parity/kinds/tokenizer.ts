// Parity kind for tokenizer fixtures: a folder with vocab.json + merges.txt + cases.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipTokenizer } from '../../models/clip/tokenizer.js';
import type { CaseKind, CaseResult } from '../runner.js';
import type { TensorReport } from '../compare.js';

interface TokCase {
  text: string;
  bpe_tokens?: string[];
  input_ids: number[];
  attention_mask: number[];
  input_ids_padded_77?: number[];
  attention_mask_padded_77?: number[];
}
interface TokFile {
  cases: TokCase[];
  context_initializer?: { text: string; ids_no_special_tokens: number[] };
  batch_padded_to_longest?: { texts: string[]; input_ids: number[][]; attention_mask: number[][] };
}

function exact(name: string, a: unknown, b: unknown, out: Record<string, TensorReport>): void {
  const same = JSON.stringify(a) === JSON.stringify(b);
  out[name] = {
    pass: same,
    max_abs: same ? 0 : 1,
    max_rel: same ? 0 : 1,
    ...(same ? {} : { error: `got ${JSON.stringify(a)}, expected ${JSON.stringify(b)}` }),
  };
}

export const tokenizerKind: CaseKind = {
  name: 'clip-tokenizer',
  matches: (dir) => existsSync(join(dir, 'cases.json')) && existsSync(join(dir, 'vocab.json')),
  run(dir): CaseResult {
    const tok = ClipTokenizer.fromDir(dir);
    const f = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as TokFile;
    const out: Record<string, TensorReport> = {};
    f.cases.forEach((c, i) => {
      const e = tok.encode(c.text);
      if (c.bpe_tokens) exact(`case${i}.bpe_tokens`, tok.bpeTokens(c.text), c.bpe_tokens, out);
      exact(`case${i}.input_ids`, e.inputIds, c.input_ids, out);
      exact(`case${i}.attention_mask`, e.attentionMask, c.attention_mask, out);
      if (c.input_ids_padded_77) {
        const p = tok.encode(c.text, { padding: 'max_length' });
        exact(`case${i}.input_ids_padded_77`, p.inputIds, c.input_ids_padded_77, out);
        exact(`case${i}.attention_mask_padded_77`, p.attentionMask, c.attention_mask_padded_77, out);
      }
    });
    if (f.context_initializer) {
      exact(
        'context_initializer',
        tok.encode(f.context_initializer.text, { addSpecialTokens: false }).inputIds,
        f.context_initializer.ids_no_special_tokens,
        out,
      );
    }
    if (f.batch_padded_to_longest) {
      const b = tok.encodeBatch(f.batch_padded_to_longest.texts, { padding: 'longest' });
      exact('batch.input_ids', b.inputIds, f.batch_padded_to_longest.input_ids, out);
      exact('batch.attention_mask', b.attentionMask, f.batch_padded_to_longest.attention_mask, out);
    }
    return { tensors: out };
  },
};
