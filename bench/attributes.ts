/**
 * How often the attribute prompts of `data import --attributes` (src/data/attributes.ts) say
 * what the published medvlsm prompts say, on a dataset that has them (default: the shared
 * kvasir-sample). Compared per entry: the count word (p5's first word), the size words (p4
 * before p3), the position list (p6's "located in ... of the image") and the `bbox` field;
 * colour and shape are shown too, though medvlsm took those from a VQA model, not the mask.
 *
 *   node dist/bench/attributes.js [--data <dataset dir>] [--verbose]
 *
 * Last stdout line: one JSON object with the agreement rates.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { attributePrompts, maskAttributes } from '../src/data/attributes.js';
import { binarizeGray, readPixels } from '../src/data/convert/masks.js';
import { SPLITS } from '../src/data/format.js';

const i = process.argv.indexOf('--data');
const dir = i >= 0 ? (process.argv[i + 1] as string) : path.join(process.cwd(), '..', 'shared', 'datasets', 'kvasir-sample');
const verbose = process.argv.includes('--verbose');

type Entry = { img_name: string; mask_name: string; prompts: Record<string, string>; bbox?: number[] };
const tally = { entries: 0, count: 0, size: 0, position: 0, positionSet: 0, bbox: 0, colour: 0, shape: 0 };
const t0 = performance.now();
for (const split of SPLITS) {
  const text = await fs.readFile(path.join(dir, 'anns', `${split}.json`), 'utf8').catch(() => null);
  if (text === null) continue;
  for (const e of JSON.parse(text) as Entry[]) {
    const p = e.prompts;
    const className = p.p1 as string;
    const { mask, gray } = binarizeGray(await readPixels(path.join(dir, 'masks', e.mask_name)));
    const img = await readPixels(path.join(dir, 'images', e.img_name));
    const a = maskAttributes(mask, img, undefined, gray);
    const ours = attributePrompts(className, a);
    const pubCount = (p.p5 as string).split(' ')[0];
    const pubSizes = (p.p4 as string)
      .slice(0, (p.p4 as string).length - (p.p3 as string).length)
      .trim()
      .split(/,\s*/);
    const pubPos = /located in (.*) of the image/.exec(p.p6 as string)?.[1]?.split(/,\s*/) ?? [];
    const pubColour = (p.p3 as string).split(' ')[0];
    const pubShape = (p.p2 as string).slice(0, -className.length).trim();
    tally.entries++;
    if (pubCount === a.countWord) tally.count++;
    if (pubSizes.join(',') === a.sizes.join(',')) tally.size++;
    if (pubPos.join(',') === a.positions.join(',')) tally.position++;
    if ([...new Set(pubPos)].sort().join(',') === [...new Set(a.positions)].sort().join(',')) tally.positionSet++;
    if (e.bbox !== undefined && a.bbox !== null && e.bbox.join(',') === a.bbox.join(',')) tally.bbox++;
    if (pubColour === a.colour) tally.colour++;
    if (pubShape === a.shape) tally.shape++;
    if (verbose)
      console.log(`${e.img_name}\n  published: ${p.p6} ${JSON.stringify(e.bbox)}\n  ours:      ${ours.p6} ${JSON.stringify(a.bbox)}`);
  }
}
const rate = (k: keyof typeof tally) => tally[k] / Math.max(1, tally.entries);
console.log(`${tally.entries} entries of ${dir} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
for (const k of ['count', 'size', 'position', 'positionSet', 'bbox', 'colour', 'shape'] as const) {
  console.log(`  ${k.padEnd(12)} ${(100 * rate(k)).toFixed(1)}% agree (${tally[k]}/${tally.entries})`);
}
console.log(
  JSON.stringify({
    bench: 'attributes',
    data: dir,
    entries: tally.entries,
    count_agreement: rate('count'),
    size_agreement: rate('size'),
    position_agreement: rate('position'),
    position_set_agreement: rate('positionSet'),
    bbox_agreement: rate('bbox'),
    colour_agreement: rate('colour'),
    shape_agreement: rate('shape'),
  }),
);
