/**
 * Splits without published annotations: the paper's train/val/test ratios, drawn with a seed,
 * whole groups (a patient's frames) kept in one split so that no patient leaks into test.
 */
import type { Split } from '../format.js';
import { hashSeed, Rng } from '../rng.js';
import type { RawSample } from './types.js';

const ORDER: readonly Split[] = ['train', 'val', 'test'];

/**
 * The split of every sample. A sample the raw layout fixes keeps its split; the others are
 * shuffled by group (seeded) and cut at the cumulative ratios of `sizes` restricted to the
 * splits each sample may go to (`candidates`, default all three).
 */
export function assignSplits(samples: readonly RawSample[], sizes: Readonly<Record<Split, number>>, seed: number): Split[] {
  const out: Split[] = new Array(samples.length);
  // Samples with the same candidate set are split together.
  const pools = new Map<string, number[]>();
  samples.forEach((s, i) => {
    if (s.split !== undefined) {
      out[i] = s.split;
      return;
    }
    const cands = ORDER.filter((sp) => (s.candidates ?? ORDER).includes(sp));
    const key = cands.join(',');
    let p = pools.get(key);
    if (p === undefined) pools.set(key, (p = []));
    p.push(i);
  });
  for (const [key, idx] of pools) {
    const cands = key.split(',') as Split[];
    const groups = new Map<string, number[]>();
    for (const i of idx) {
      const g = samples[i]?.group ?? `\0${i}`;
      let list = groups.get(g);
      if (list === undefined) groups.set(g, (list = []));
      list.push(i);
    }
    // Sorted before shuffling so the result depends on the seed, not on directory order.
    const names = [...groups.keys()].sort();
    new Rng(hashSeed(seed, 0x5b1)).shuffle(names);
    const weights = cands.map((c) => Math.max(0, sizes[c]));
    const sum = weights.reduce((a, b) => a + b, 0) || 1;
    const bounds: number[] = [];
    let acc = 0;
    for (const w of weights) bounds.push((acc += w) / sum);
    let done = 0;
    const bySplit = new Map<Split, string[]>(cands.map((c) => [c, []]));
    for (const g of names) {
      const members = groups.get(g) as number[];
      // The group goes where its first sample's position falls.
      const pos = (done + 0.5) / idx.length;
      const k = bounds.findIndex((b) => pos < b);
      bySplit.get(cands[k === -1 ? cands.length - 1 : k] as Split)!.push(g);
      done += members.length;
    }
    // A split the paper gives a size must not come out empty (training needs train and val):
    // with few groups, it takes the last group of the largest split that can spare one.
    cands.forEach((c, ci) => {
      if (weights[ci]! <= 0 || bySplit.get(c)!.length > 0) return;
      const donor = [...bySplit.entries()].filter(([, gs]) => gs.length > 1).sort((a, b) => b[1].length - a[1].length)[0];
      if (donor) bySplit.get(c)!.push(donor[1].pop()!);
    });
    for (const [split, gs] of bySplit) for (const g of gs) for (const i of groups.get(g)!) out[i] = split;
  }
  return out;
}
