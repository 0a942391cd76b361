import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { type CheckReport, checkDataset, formatCheckReport, type ProblemCode } from '../src/data/check.js';

import { repoRoot } from './helpers.js';
const KVASIR = path.join(repoRoot(), '..', 'shared', 'datasets', 'kvasir-sample');
let tmp: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-check-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

interface Entry {
  img_name: unknown;
  mask_name?: unknown;
  prompts: Record<string, unknown>;
}

const W = 40;
const H = 30;

async function writeImage(file: string, seed: number, w = W, h = H, format: 'png' | 'jpeg' = 'jpeg'): Promise<void> {
  const rgb = Buffer.alloc(w * h * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * (seed + 3) + (i >> 7)) % 256;
  const s = sharp(rgb, { raw: { width: w, height: h, channels: 3 } });
  await (format === 'png' ? s.png() : s.jpeg({ quality: 90 })).toFile(file);
}

async function writeMask(file: string, value: (x: number, y: number) => number, w = W, h = H): Promise<void> {
  const m = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) m[y * w + x] = value(x, y);
  await sharp(m, { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(file);
}

const square = (x: number, y: number): number => (x >= 10 && x < 30 && y >= 5 && y < 20 ? 255 : 0);

/** A valid dataset: 4 train, 2 val, 2 test entries, JPEG images and PNG masks. */
async function makeDataset(dir: string): Promise<Record<'train' | 'val' | 'test', Entry[]>> {
  await fs.mkdir(path.join(dir, 'images'), { recursive: true });
  await fs.mkdir(path.join(dir, 'masks'), { recursive: true });
  await fs.mkdir(path.join(dir, 'anns'), { recursive: true });
  const splits = { train: [] as Entry[], val: [] as Entry[], test: [] as Entry[] };
  const names = { train: [0, 1, 2, 3], val: [4, 5], test: [6, 7] };
  for (const [split, ids] of Object.entries(names) as ['train' | 'val' | 'test', number[]][]) {
    for (const i of ids) {
      await writeImage(path.join(dir, 'images', `im${i}.jpg`), i);
      await writeMask(path.join(dir, 'masks', `im${i}.png`), square);
      splits[split].push({
        img_name: `im${i}.jpg`,
        mask_name: `im${i}.png`,
        prompts: { p0: '', p1: 'blob', p2: ['a blob', 'round blob'] },
      });
    }
  }
  await writeSplits(dir, splits);
  return splits;
}

async function writeSplits(dir: string, splits: Partial<Record<'train' | 'val' | 'test', Entry[]>>): Promise<void> {
  for (const [split, entries] of Object.entries(splits)) {
    await fs.writeFile(path.join(dir, 'anns', `${split}.json`), JSON.stringify(entries, null, 1));
  }
}

function only(report: CheckReport, expected: Partial<Record<ProblemCode, number>>): void {
  assert.deepEqual(report.counts, expected, formatCheckReport(report));
}

describe('data check', () => {
  it('kvasir-sample has no problems; summary counts splits, sizes and prompt keys', async () => {
    const r = await checkDataset(KVASIR);
    assert.equal(r.ok, true, formatCheckReport(r));
    assert.equal(r.errors, 0);
    assert.equal(r.warnings, 0);
    assert.deepEqual(r.problems, []);
    assert.deepEqual([r.splits.train?.entries, r.splits.val?.entries, r.splits.test?.entries], [40, 10, 10]);
    assert.equal(r.images.checked, 60);
    assert.equal(r.images.readable, 60);
    assert.equal(r.images.distinctSizes, 33);
    assert.deepEqual(r.images.formats, { jpeg: 60 });
    assert.equal(r.masks.readable, 60);
    // JPEG masks: a few near-0/255 values from compression, no mid-grey.
    assert.ok(r.masks.maxMidGreyFraction < r.rules.nonBinaryFraction);
    assert.ok(r.masks.meanForeground > 0.05 && r.masks.meanForeground < 0.4);
    const p0 = r.prompts.find((p) => p.key === 'p0');
    assert.deepEqual(p0, { key: 'p0', nonEmpty: 0, empty: 60, lists: 0, missing: 0 });
    assert.equal(r.prompts.find((p) => p.key === 'p7')?.lists, 60);
    const text = formatCheckReport(r);
    assert.match(text, /train +40 entries/);
    assert.match(text, /empty in every entry \(do not select\): p0/);
    assert.match(text, /Result: OK/);
  });

  it('a clean generated dataset passes', async () => {
    const dir = path.join(tmp, 'clean');
    await makeDataset(dir);
    const r = await checkDataset(dir);
    only(r, {});
    assert.equal(r.ok, true);
  });

  type Breaker = (dir: string, splits: Record<'train' | 'val' | 'test', Entry[]>) => Promise<void>;
  const cases: [string, Breaker, Partial<Record<ProblemCode, number>>, RegExp][] = [
    [
      'missing image',
      async (dir) => fs.rm(path.join(dir, 'images', 'im1.jpg')),
      { missing_image: 1 },
      /images\/im1\.jpg not found \(train entry 1\)/,
    ],
    [
      'missing mask',
      async (dir) => fs.rm(path.join(dir, 'masks', 'im5.png')),
      { missing_mask: 1 },
      /masks\/im5\.png not found \(val entry 1\)/,
    ],
    [
      'corrupt JPEG bytes',
      async (dir) => {
        const f = path.join(dir, 'images', 'im2.jpg');
        const b = await fs.readFile(f);
        await fs.writeFile(f, b.subarray(0, Math.floor(b.length * 0.6)));
        await fs.writeFile(path.join(dir, 'images', 'im3.jpg'), Buffer.from('not a jpeg, just text'));
      },
      { unreadable_image: 2 },
      /images\/im2\.jpg: cannot decode image/,
    ],
    [
      'unreadable mask',
      async (dir) => fs.writeFile(path.join(dir, 'masks', 'im0.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])),
      { unreadable_mask: 1 },
      /masks\/im0\.png: /,
    ],
    [
      'size mismatch',
      async (dir) => writeMask(path.join(dir, 'masks', 'im6.png'), square, W + 2, H),
      { size_mismatch: 1 },
      /image images\/im6\.jpg is 40x30 but mask masks\/im6\.png is 42x30/,
    ],
    [
      'non-binary mask',
      async (dir) => writeMask(path.join(dir, 'masks', 'im4.png'), (x) => Math.round((x / (W - 1)) * 255)),
      { non_binary_mask: 1 },
      /masks\/im4\.png: \d+\.\d+% of pixels are mid-grey/,
    ],
    [
      '0/1 mask',
      async (dir) => writeMask(path.join(dir, 'masks', 'im7.png'), (x, y) => (square(x, y) > 0 ? 1 : 0)),
      { mask_values_low: 1 },
      /largest value is 1/,
    ],
    ['empty mask (warning)', async (dir) => writeMask(path.join(dir, 'masks', 'im7.png'), () => 0), { empty_mask: 1 }, /all background/],
    [
      'empty prompt',
      async (dir, s) => {
        s.train[2]!.prompts.p1 = '';
        await writeSplits(dir, s);
      },
      { empty_prompt: 1 },
      /train entry 2: field "prompts\.p1": prompt "p1" is empty/,
    ],
    [
      'entry with no prompt at all',
      async (dir, s) => {
        s.val[0]!.prompts = { p0: '' };
        await writeSplits(dir, s);
      },
      { empty_prompt: 1 },
      /no non-empty prompt/,
    ],
    [
      'duplicate entry',
      async (dir, s) => {
        s.train.push({ ...s.train[1]! });
        await writeSplits(dir, s);
      },
      { duplicate_entry: 1 },
      /train entry 4: duplicates entry 1/,
    ],
    [
      '../ escape',
      async (dir, s) => {
        await writeImage(path.join(dir, 'secret.jpg'), 9);
        s.train[0]!.img_name = '../secret.jpg';
        s.test[1]!.mask_name = '/etc/hostname';
        await writeSplits(dir, s);
      },
      { path_escape: 2 },
      /"\.\.\/secret\.jpg" escapes the dataset folder/,
    ],
    [
      'symlink escaping the folder',
      async (dir) => {
        const outside = path.join(path.dirname(dir), `${path.basename(dir)}-outside.jpg`);
        await fs.rename(path.join(dir, 'images', 'im0.jpg'), outside);
        await fs.symlink(outside, path.join(dir, 'images', 'im0.jpg'));
      },
      { path_escape: 1 },
      /symlink escaping the images\/ folder/,
    ],
    [
      'malformed JSON',
      async (dir) => fs.writeFile(path.join(dir, 'anns', 'val.json'), '[{"img_name": "im4.jpg",'),
      { malformed_json: 1 },
      /malformed JSON/,
    ],
    [
      'invalid entry',
      async (dir, s) => {
        delete s.train[3]!.mask_name;
        s.train[1]!.prompts.p2 = ['ok', 7];
        await writeSplits(dir, s);
      },
      { invalid_entry: 2 },
      /train entry 3: field "mask_name"/,
    ],
    [
      'missing split file',
      async (dir) => fs.rm(path.join(dir, 'anns', 'val.json')),
      { missing_split: 1 },
      /val\.json: split file not found/,
    ],
    [
      'image in two splits (warning)',
      async (dir, s) => {
        s.test.push({ ...s.train[0]! });
        await writeSplits(dir, s);
      },
      { split_overlap: 1 },
      /images\/im0\.jpg is used in train and test/,
    ],
  ];

  for (const [name, breakIt, expected, text] of cases) {
    it(`detects: ${name}`, async () => {
      const dir = path.join(tmp, name.replace(/[^a-z0-9]+/gi, '-'));
      const splits = await makeDataset(dir);
      await breakIt(dir, splits);
      const r = await checkDataset(dir);
      only(r, expected);
      const warningsOnly = name.includes('(warning)');
      assert.equal(r.ok, warningsOnly);
      assert.equal(
        r.errors + r.warnings,
        Object.values(expected).reduce((a, b) => a + b, 0),
      );
      const out = formatCheckReport(r);
      assert.match(out, text);
      assert.match(out, warningsOnly ? /Result: OK \(\d+ warning/ : /Result: FAILED/);
    });
  }

  it('a missing test split is only a warning; a missing folder is an error', async () => {
    const dir = path.join(tmp, 'no-test');
    await makeDataset(dir);
    await fs.rm(path.join(dir, 'anns', 'test.json'));
    let r = await checkDataset(dir);
    only(r, { missing_split: 1 });
    assert.equal(r.ok, true);
    assert.equal(r.problems[0]?.severity, 'warning');
    await fs.rm(path.join(dir, 'masks'), { recursive: true });
    r = await checkDataset(dir);
    only(r, { missing_folder: 1, missing_split: 1 });
    assert.equal(r.ok, false);
  });

  it('does not stop at the first problem: everything at once, each counted', async () => {
    const dir = path.join(tmp, 'everything');
    const s = await makeDataset(dir);
    await fs.rm(path.join(dir, 'images', 'im1.jpg'));
    const f = path.join(dir, 'images', 'im2.jpg');
    await fs.writeFile(f, (await fs.readFile(f)).subarray(0, 200));
    await writeMask(path.join(dir, 'masks', 'im6.png'), square, W, H + 4);
    await writeMask(path.join(dir, 'masks', 'im4.png'), () => 128);
    s.train[3]!.prompts.p1 = '   ';
    s.train.push({ ...s.train[0]! });
    s.val.push({ img_name: '../../etc/passwd', mask_name: 'im4.png', prompts: { p1: 'x' } });
    await writeSplits(dir, s);
    const r = await checkDataset(dir);
    only(r, {
      missing_image: 1,
      unreadable_image: 1,
      size_mismatch: 1,
      non_binary_mask: 1,
      empty_prompt: 1,
      duplicate_entry: 1,
      path_escape: 1,
    });
    assert.equal(r.errors, 7);
    const out = formatCheckReport(r);
    assert.match(out, /Problems: 7 error\(s\), 0 warning\(s\)/);
  });

  it('formatCheckReport caps long lists per problem type', async () => {
    const dir = path.join(tmp, 'many');
    const s = await makeDataset(dir);
    for (let i = 0; i < 15; i++) s.train.push({ img_name: `gone${i}.jpg`, mask_name: 'im0.png', prompts: { p1: 'x' } });
    await writeSplits(dir, s);
    const r = await checkDataset(dir);
    only(r, { missing_image: 15 });
    const out = formatCheckReport(r, { maxPerCode: 4 });
    assert.match(out, /missing_image \(15\)/);
    assert.match(out, /\.\.\. and 11 more/);
  });
});
