// `data import` (any images + masks folder) and the attribute prompts behind --attributes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attributePrompts, colourWord, connectedComponents, maskAttributes, positionWord, sizeWord } from '../src/data/attributes.js';
import type { AnnEntry } from '../src/data/convert/build.js';
import { binarizeGray, readPixels } from '../src/data/convert/masks.js';
import type { BinaryMask } from '../src/data/convert/types.js';
import { importDataset, parseLabels } from '../src/data/import.js';
import { pngPalette } from '../src/data/indexed-png.js';
import { repoRoot } from './helpers.js';
import { grayImage, palettePng, put, rgbImage } from './raw-fixtures.js';

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tvs-import-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const W = 30;
const H = 20;

function mask(w: number, h: number, fn: (x: number, y: number) => boolean): BinaryMask {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = fn(x, y) ? 255 : 0;
  return { data, width: w, height: h };
}

async function readAnns(dir: string): Promise<AnnEntry[]> {
  const out: AnnEntry[] = [];
  for (const s of ['train', 'val', 'test']) {
    const f = path.join(dir, 'anns', `${s}.json`);
    if (existsSync(f)) out.push(...(JSON.parse(await fs.readFile(f, 'utf8')) as AnnEntry[]));
  }
  return out;
}

describe('attributes', () => {
  it("counts 4-connected components (scipy's default, as medvlsm) in raster order; 8 on request", () => {
    const m = mask(10, 10, (x, y) => (x < 2 && y < 2) || (x === 5 && y === 5) || (x === 6 && y === 6) || (x > 7 && y > 7));
    assert.deepEqual(
      connectedComponents(m).map((c) => c.area),
      [4, 1, 1, 4],
    );
    assert.deepEqual(
      connectedComponents(m, 8).map((c) => c.area),
      [4, 2, 4],
    );
    // grid cells cut at int(10/3) = 3 and int(20/3) = 6: the first block is top left, the last bottom right
    assert.deepEqual(connectedComponents(m)[0]?.cells, [4, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(connectedComponents(m)[3]?.cells, [0, 0, 0, 0, 0, 0, 0, 0, 4]);
  });

  it("size, position and colour words follow medvlsm's rules", () => {
    assert.equal(sizeWord(0.00005), '', 'at or below 0.0001 of the image: no size word');
    assert.equal(sizeWord(0.0005), 'tiny');
    assert.equal(sizeWord(0.05), 'small');
    assert.equal(sizeWord(0.08), 'small', 'medium only above 0.08');
    assert.equal(sizeWord(0.1), 'medium');
    assert.equal(sizeWord(0.3), 'medium');
    assert.equal(sizeWord(0.35), 'large');
    // Box centres: rows and columns both cut at thirds of the height (300 here), bands inclusive.
    assert.equal(positionWord(150, 150, 300), 'center');
    assert.equal(positionWord(200, 100, 300), 'center', '2h/3 and h/3 belong to the centre band');
    assert.equal(positionWord(210, 150, 300), 'right', 'x = 210 of a 400-wide image is right: columns are cut at thirds of the HEIGHT');
    assert.equal(positionWord(250, 50, 300), 'top right');
    assert.equal(positionWord(20, 280, 300), 'bottom left');
    assert.equal(colourWord(250, 250, 245), 'white');
    assert.equal(colourWord(10, 10, 10), 'black');
    assert.equal(colourWord(200, 40, 40), 'red');
    assert.equal(colourWord(110, 60, 30), 'brown');
    assert.equal(colourWord(230, 180, 180), 'pink');
    assert.equal(colourWord(220, 200, 40), 'yellow');
  });

  it('builds p0..p6 in the medvlsm structure', () => {
    // Two discs: a small one top left and a medium one bottom right, red under the mask.
    const m = mask(100, 100, (x, y) => (x - 15) ** 2 + (y - 15) ** 2 < 36 || (x - 75) ** 2 + (y - 75) ** 2 < 400);
    const img = { data: new Uint8Array(100 * 100 * 3).map((_, i) => (i % 3 === 0 ? 200 : 40)), width: 100, height: 100, channels: 3 };
    const a = maskAttributes(m, img);
    assert.equal(a.count, 2);
    assert.deepEqual(a.sizes, ['small', 'medium']);
    assert.deepEqual(a.positions, ['top left', 'bottom right']);
    // contour boxes: one pixel out on the top/left, exclusive on the bottom/right (pixels 10..20 -> [9, 21))
    assert.deepEqual(a.bbox, [9, 9, 95, 95]);
    assert.equal(a.shape, 'round');
    assert.deepEqual(attributePrompts('polyp', a), {
      p0: '',
      p1: 'polyp',
      p2: 'round polyp',
      p3: 'red round polyp',
      p4: 'small, medium red round polyp',
      p5: 'two small, medium red round polyp',
      p6: 'two small, medium red round polyp, located in top left, bottom right of the image',
    });
    const oval = maskAttributes(
      mask(100, 100, (x, y) => ((x - 50) / 40) ** 2 + ((y - 50) / 12) ** 2 < 1),
      null,
    );
    assert.equal(oval.shape, 'oval');
    assert.equal(oval.colour, '');
    assert.equal(
      attributePrompts(
        'tumor',
        maskAttributes(
          mask(10, 10, () => false),
          null,
        ),
      ).p5,
      'no tumor',
    );
  });
});

describe('data import', () => {
  it('matches masks by stem (with _mask suffixes), accepts 0/1, 0/255 and palette masks, splits by ratio with a seed', async () => {
    const images = path.join(tmp, 'own', 'imgs');
    const masks = path.join(tmp, 'own', 'labels');
    for (let i = 0; i < 10; i++) await rgbImage(path.join(images, `case${i}.jpg`), W, H, i);
    for (let i = 0; i < 4; i++) await grayImage(path.join(masks, `case${i}.png`), W, H, (x) => (x < 10 ? 255 : 0));
    for (let i = 4; i < 7; i++) await grayImage(path.join(masks, `case${i}_mask.png`), W, H, (x) => (x < 10 ? 1 : 0));
    for (let i = 7; i < 9; i++)
      await palettePng(
        path.join(masks, `case${i}.png`),
        W,
        H,
        [
          [0, 0, 0],
          [40, 0, 0],
        ],
        (x) => (x < 10 ? 1 : 0),
      );
    await grayImage(path.join(masks, 'orphan.png'), W, H, () => 255);
    const out = path.join(tmp, 'own-out');
    const r = await importDataset({ images, masks, className: 'lesion', out, split: [0.6, 0.2, 0.2], seed: 1 });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    assert.deepEqual([r.counts.train.images, r.counts.val.images, r.counts.test.images], [5, 2, 2]);
    assert.ok(r.skipped.some((s) => s.includes('case9.jpg') && /no mask/.test(s)));
    assert.ok(r.skipped.some((s) => s.includes('orphan.png')));
    const all = await readAnns(out);
    assert.equal(all.length, 9);
    assert.deepEqual(all.find((e) => e.img_name === 'case5.jpg')?.prompts, { p0: '', p1: 'lesion' });
    for (const n of ['case0', 'case5', 'case8']) {
      const m = binarizeGray(await readPixels(path.join(out, 'masks', `${n}.png`))).mask.data;
      assert.equal(m[5 * W + 3], 255, n);
      assert.equal(m[5 * W + 20], 0, n);
    }
  });

  it('--attributes writes p0..p6; --classes turns label maps into one entry per label present', async () => {
    const images = path.join(tmp, 'lab', 'images');
    const masks = path.join(tmp, 'lab', 'masks');
    for (let i = 0; i < 5; i++) {
      await rgbImage(path.join(images, `f${i}.png`), W, H, i);
      await grayImage(path.join(masks, `f${i}.png`), W, H, (x, y) => (y < 5 ? 0 : x < 10 ? 1 : x < 20 ? (i === 0 ? 0 : 2) : 3));
    }
    const labels = path.join(tmp, 'lab', 'labels.txt');
    await put(labels, '0 background\n1 left ventricle\n2 myocardium\n');
    const out = path.join(tmp, 'lab-out');
    const r = await importDataset({ images, masks, classesFile: labels, out, attributes: true, split: [0.6, 0.2, 0.2] });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    const all = await readAnns(out);
    assert.equal(all.length, 9, 'f0 has no myocardium; label 3 is not listed');
    const myo = all.find((e) => e.mask_name === 'myocardium/f1.png') as AnnEntry;
    assert.equal(myo.prompts.p1, 'myocardium');
    // Columns 10-19 of a 30x20 image: its box centre x = 14.5 is past 2/3 of the HEIGHT (13.3), so "right", as medvlsm's code says.
    assert.match(myo.prompts.p6 as string, /^one medium \w+ \w+ myocardium, located in right of the image$/);
    const m = binarizeGray(await readPixels(path.join(out, 'masks', 'myocardium', 'f1.png'))).mask.data;
    assert.equal(m[10 * W + 15], 255);
    assert.equal(m[10 * W + 5], 0);
  });

  it('labels files: "<value> <name>" or one name per line; palette chunks are read', () => {
    assert.deepEqual(parseLabels('background\npolyp\n', 'l.txt'), [{ value: 1, name: 'polyp' }]);
    assert.deepEqual(parseLabels('3: car\n7 road # comment\n', 'l.txt'), [
      { value: 3, name: 'car' },
      { value: 7, name: 'road' },
    ]);
    assert.throws(() => parseLabels('1 a\n1 b\n', 'l.txt'), /l\.txt: line 2: label value 1 is listed twice/);
    assert.deepEqual(pngPalette(Buffer.from('not a png')), []);
  });

  it('the CLI: data import and an unknown data convert layout (exit 1, expected layouts listed)', async () => {
    const bin = path.join(repoRoot(), 'bin', 'tunevlseg.js');
    const out = path.join(tmp, 'cli-out');
    const ok = spawnSync(
      process.execPath,
      [
        bin,
        'data',
        'import',
        '--images',
        path.join(tmp, 'own', 'imgs'),
        '--masks',
        path.join(tmp, 'own', 'labels'),
        '--class',
        'lesion',
        '--out',
        out,
        '--attributes',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /Wrote .*cli-out: train \d+ images/);
    assert.match(ok.stdout, /Result: OK/);
    assert.match((await readAnns(out))[0]?.prompts.p6 as string, /lesion, located in/);
    const bad = spawnSync(process.execPath, [bin, 'data', 'convert', 'busi', tmp, '--out', path.join(tmp, 'cli-bad')], {
      encoding: 'utf8',
    });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /busi: .*no benign\/, malignant\/ or normal\/ folder found/);
    assert.match(bad.stderr, /Dataset_BUSI_with_GT\/\{benign,malignant,normal\}/);
  });
});
