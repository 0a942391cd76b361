// Real downloads read as what they hold (issue 21): CVC-ClinicDB's TIFF whose header says grey
// over RGB samples (built byte by byte), masks whose foreground is not where a naive reading
// puts it (inverted palette, alpha, colour), photos given as masks, `data check` warnings,
// staging and refusals of `data import`/`data convert`, and splits by video sequence/group.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { checkDataset } from '../src/data/check.js';
import type { AnnEntry } from '../src/data/convert/build.js';
import { clinicDbSequence, SEQUENCE_STARTS } from '../src/data/convert/cvc-clinicdb.js';
import { convertDataset } from '../src/data/convert/index.js';
import { readBinaryMask } from '../src/data/convert/mask-reading.js';
import { loadSplit } from '../src/data/format.js';
import { decodeImage, imageInfo, readMaskGray, readRawPixels } from '../src/data/image.js';
import { importDataset, parseGroups } from '../src/data/import.js';
import { BatchLoader } from '../src/data/loader.js';
import { checkTrainingPairs } from '../src/data/preflight.js';
import { setRepairWarningSink, warnAboutRepairs } from '../src/data/repairs.js';
import { greyTaggedRgbTiff, grayImage, palettePng, put, rawPng, rgbImage } from './raw-fixtures.js';

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tvs-real-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const S = 12;
/** A polyp-coloured gradient: R, G and B all differ, as in ClinicDB's frames (means 110/69/40 on 1.tif). */
const photo =
  (seed: number) =>
  (x: number, y: number): number[] => [100 + 10 * x + seed, 40 + 5 * y + seed, 20 + 2 * x + 3 * y, 255 - 10 * x];
const disc = (cx: number, cy: number, r: number) => (x: number, y: number) => ((x - cx) ** 2 + (y - cy) ** 2 <= r * r ? 255 : 0);

async function anns(dir: string): Promise<Record<string, AnnEntry[]>> {
  const out: Record<string, AnnEntry[]> = {};
  for (const s of ['train', 'val', 'test']) {
    const f = path.join(dir, 'anns', `${s}.json`);
    if (existsSync(f)) out[s] = JSON.parse(await fs.readFile(f, 'utf8')) as AnnEntry[];
  }
  return out;
}

async function noLeftovers(parent: string): Promise<void> {
  assert.deepEqual(
    (await fs.readdir(parent)).filter((n) => n.includes('.partial-')),
    [],
  );
}

const PROBLEM =
  /TIFF header says PhotometricInterpretation 1 \(BlackIsZero, grey\) but holds SamplesPerPixel 3 of 8 bits and no ExtraSamples: read by its samples as RGB/;

describe('a TIFF whose header says grey over RGB samples (CVC-ClinicDB)', () => {
  const file = (): string => path.join(tmp, 'clinic-1.tif');
  before(async () => {
    await put(file(), greyTaggedRgbTiff(S, S, photo(0)));
  });

  it('libvips alone refuses it under failOn (what every command used to report)', async () => {
    await assert.rejects(sharp(file(), { failOn: 'warning' }).raw().toBuffer(), /failOn/);
  });

  it('is read by its samples: R, G, B pinned, the mend reported, the file untouched', async () => {
    const before = await fs.readFile(file());
    const px = await readRawPixels(file());
    assert.equal(px.channels, 3);
    assert.match(px.repair ?? '', PROBLEM);
    for (const [x, y] of [
      [0, 0],
      [5, 3],
      [11, 11],
    ] as const) {
      const [r, g, b] = photo(0)(x, y);
      assert.deepEqual([...px.data.subarray((y * S + x) * 3, (y * S + x) * 3 + 3)], [r, g, b], `pixel ${x},${y}`);
    }
    const info = await imageInfo(file());
    assert.deepEqual([info.width, info.height, info.gray, info.format], [S, S, false, 'tiff']);
    assert.deepEqual(await fs.readFile(file()), before, 'the mend works on a copy');
  });

  it("the model input (train/eval/predict decoder): three different planes, the photo's values", async () => {
    const d = await decodeImage(file(), { size: S, mean: [0, 0, 0], std: [1, 1, 1] });
    for (const [x, y] of [
      [1, 2],
      [7, 9],
    ] as const) {
      const [r, g, b] = photo(0)(x, y);
      for (const [c, v] of [r, g, b].entries())
        assert.ok(Math.abs((d.data[c * S * S + y * S + x] as number) * 255 - (v as number)) < 1e-3, `plane ${c} at ${x},${y}`);
    }
    // a mask reader gets OpenCV's gray of the RGB, not the red channel
    const g = await readMaskGray(file());
    const [r, gg, b] = photo(0)(4, 4) as [number, number, number];
    assert.equal(g.gray[4 * S + 4], Math.round(0.299 * r + 0.587 * gg + 0.114 * b));
  });

  it('well-formed TIFFs (grey, RGB, RGBA, 16-bit, CMYK, EXIF-rotated) are not touched', async () => {
    const rgb = Buffer.alloc(S * S * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 37) % 251;
    const base = () => sharp(rgb, { raw: { width: S, height: S, channels: 3 } });
    const cases: [string, () => Promise<Buffer>][] = [
      ['grey', () => base().toColourspace('b-w').tiff().toBuffer()],
      ['rgb', () => base().tiff().toBuffer()],
      ['rgba', () => base().ensureAlpha(0.5).tiff().toBuffer()],
      ['rgb16', () => base().toColourspace('rgb16').tiff().toBuffer()],
      ['cmyk', () => base().toColourspace('cmyk').tiff().toBuffer()],
      [
        'rotated',
        () =>
          sharp(Buffer.alloc(S * 2 * S * 3, 90), { raw: { width: 2 * S, height: S, channels: 3 } })
            .tiff()
            .withMetadata({ orientation: 6 })
            .toBuffer(),
      ],
    ];
    for (const [name, make] of cases) {
      const buf = await make();
      const px = await readRawPixels(buf, { file: name });
      assert.equal(px.repair, undefined, name);
      const ref = await sharp(buf, { autoOrient: true })
        .removeAlpha()
        .toColourspace(name === 'grey' ? 'b-w' : 'srgb')
        .raw({ depth: 'uchar' })
        .toBuffer();
      assert.deepEqual(Buffer.from(px.data), ref, name);
      if (name === 'rotated') assert.deepEqual([px.width, px.height], [S, 2 * S]);
    }
  });

  it('four samples without ExtraSamples are RGBA', async () => {
    const f = path.join(tmp, 'clinic-rgba.tif');
    await put(f, greyTaggedRgbTiff(S, S, photo(0), 4));
    const px = await readRawPixels(f, { alpha: true });
    assert.deepEqual([px.channels, px.alpha], [4, true]);
    assert.deepEqual([...px.data.subarray(0, 4)], photo(0)(0, 0));
    assert.match(px.repair ?? '', /SamplesPerPixel 4 of 8 bits and no ExtraSamples: read by its samples as RGBA/);
  });

  it('the batch loader (worker threads) and the training preflight read it; the warning is said once per dataset with the count', async () => {
    const ds = path.join(tmp, 'tiff-ds');
    for (const n of [1, 2, 3]) {
      await put(path.join(ds, 'images', `${n}.tif`), greyTaggedRgbTiff(S, S, photo(n)));
      await grayImage(path.join(ds, 'masks', `${n}.png`), S, S, disc(6, 6, 3));
    }
    const entry = (n: number) => ({ img_name: `${n}.tif`, mask_name: `${n}.png`, prompts: { p1: 'polyp' } });
    await put(path.join(ds, 'anns', 'train.json'), JSON.stringify([entry(1), entry(2)]));
    await put(path.join(ds, 'anns', 'val.json'), JSON.stringify([entry(3)]));
    const train = await loadSplit(ds, 'train');
    assert.deepEqual(await checkTrainingPairs(train), []);
    const loader = new BatchLoader(train, { size: S, batchSize: 2, shuffle: false, workers: 1 });
    try {
      for await (const b of loader.epoch(0)) {
        const [r, g] = photo(1)(3, 3) as [number, number];
        assert.ok(Math.abs((b.images[3 * S + 3] as number) * 255 - r) < 1e-3);
        assert.ok(Math.abs((b.images[S * S + 3 * S + 3] as number) * 255 - g) < 1e-3);
      }
    } finally {
      await loader.close();
    }
    const said: string[] = [];
    const prev = setRepairWarningSink((l) => said.push(l));
    try {
      const files = [...train, ...(await loadSplit(ds, 'val'))].map((s) => s.imagePath);
      await warnAboutRepairs(files, { root: ds });
      await warnAboutRepairs(files, { root: ds }); // a second reader in the same process says nothing new
    } finally {
      setRepairWarningSink(prev);
    }
    assert.equal(said.length, 1, said.join('\n'));
    assert.match(said[0] as string, /^warning: 3 file\(s\): TIFF header says .* \(e\.g\. images\/1\.tif\)$/);
  });
});

describe('data convert cvc-clinicdb on the distributed TIFFs', () => {
  const raw = (): string => path.join(tmp, 'clinic-raw');
  // Two frames from each of five video sequences (1-25, 26-50, 51-67, 68-78, 79-103).
  const frames = [1, 2, 30, 31, 55, 56, 70, 71, 90, 91];
  before(async () => {
    for (const n of frames) {
      await put(path.join(raw(), 'Original', `${n}.tif`), greyTaggedRgbTiff(S, S, photo(n)));
      await grayImage(path.join(raw(), 'Ground Truth', `${n}.tif`), S, S, disc(4 + (n % 4), 6, 3));
    }
  });

  it("the README's frame ranges: 29 sequences over frames 1-612", () => {
    assert.equal(SEQUENCE_STARTS.length, 29);
    assert.deepEqual([1, 25, 26, 67, 68, 205, 206, 591, 592, 612].map(clinicDbSequence), [1, 1, 2, 3, 4, 10, 11, 28, 29, 29]);
    assert.equal(clinicDbSequence(613), null);
  });

  it("writes 3-channel RGB PNGs with the photo's channels, splits by video sequence, and says once what it mended", async () => {
    const out = path.join(tmp, 'clinic-out');
    const r = await convertDataset('cvc-clinicdb', raw(), { out, seed: 1 });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    assert.equal(r.check.counts.identical_channels, undefined);
    const meta = await sharp(path.join(out, 'images', '30.png')).metadata();
    assert.deepEqual([meta.format, meta.channels, meta.hasAlpha], ['png', 3, false]);
    const { data } = await sharp(path.join(out, 'images', '30.png'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.deepEqual([...data.subarray((2 * S + 5) * 3, (2 * S + 5) * 3 + 3)], photo(30)(5, 2).slice(0, 3));
    const notes = r.notes.filter((n) => PROBLEM.test(n));
    assert.equal(notes.length, 1, r.notes.join('\n'));
    assert.match(notes[0] as string, /^10 file\(s\): /);
    // every sequence in one split
    const A = await anns(out);
    const splitOf = new Map<number, Set<string>>();
    for (const [split, list] of Object.entries(A)) {
      for (const e of list) {
        const seq = clinicDbSequence(Number(e.img_name.replace('.png', ''))) as number;
        if (!splitOf.has(seq)) splitOf.set(seq, new Set());
        splitOf.get(seq)!.add(split);
      }
    }
    assert.equal(splitOf.size, 5);
    for (const [seq, s] of splitOf) assert.equal(s.size, 1, `sequence ${seq} is in ${[...s].join(' and ')}`);
    assert.deepEqual(r.groups && r.groups.train + r.groups.val + r.groups.test, 5);
    // colour words see colour: the old reading (grey frames) could only say gray or white
    assert.ok(
      A.train!.every((e) => !/^(gray|white) /.test(e.prompts.p3 as string)),
      JSON.stringify(A.train!.map((e) => e.prompts.p3)),
    );
  });

  it('with --anns the published split is kept, and its leak across sequences is noted', async () => {
    const pub = path.join(tmp, 'clinic-anns');
    const entry = (n: number) => ({ img_name: `${n}.png`, mask_name: `${n}.png`, prompts: { p0: '', p1: 'polyp' } });
    await put(path.join(pub, 'train.json'), JSON.stringify([1, 30, 55, 70, 90].map(entry)));
    await put(path.join(pub, 'val.json'), JSON.stringify([2, 31].map(entry)));
    await put(path.join(pub, 'test.json'), JSON.stringify([56, 71, 91].map(entry)));
    const out = path.join(tmp, 'clinic-pub');
    const r = await convertDataset('cvc-clinicdb', raw(), { out, anns: pub });
    assert.equal(r.check.ok, true);
    assert.equal(await fs.readFile(path.join(out, 'anns', 'test.json'), 'utf8'), await fs.readFile(path.join(pub, 'test.json'), 'utf8'));
    assert.ok(
      r.notes.some((n) =>
        /published split puts 5 of 5 video sequences in more than one split \(e\.g\. video sequence 1: train, val;/.test(n),
      ),
      r.notes.join('\n'),
    );
  });

  it('refuses an --out inside the raw folder, naming both, and writes nothing there', async () => {
    const before = (await fs.readdir(raw())).sort();
    await assert.rejects(
      convertDataset('cvc-clinicdb', raw(), { out: path.join(raw(), 'converted') }),
      /data convert: the output .*clinic-raw\/converted would be written inside the raw folder .*clinic-raw/,
    );
    assert.deepEqual((await fs.readdir(raw())).sort(), before);
  });
});

describe('data import', () => {
  it('takes the raw ClinicDB TIFF photos and masks: PNG images with the colours, one note', async () => {
    const images = path.join(tmp, 'imp-tiff', 'Original');
    const masks = path.join(tmp, 'imp-tiff', 'Ground Truth');
    for (const n of [1, 2, 3, 4, 5]) {
      await put(path.join(images, `${n}.tif`), greyTaggedRgbTiff(S, S, photo(n)));
      await grayImage(path.join(masks, `${n}.tif`), S, S, disc(6, 6, 3));
    }
    const out = path.join(tmp, 'imp-tiff-out');
    const r = await importDataset({ images, masks, className: 'polyp', out, split: [0.6, 0.2, 0.2] });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    assert.deepEqual((await fs.readdir(path.join(out, 'images'))).sort(), ['1.png', '2.png', '3.png', '4.png', '5.png']);
    const { data, info } = await sharp(path.join(out, 'images', '4.png'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 3);
    assert.deepEqual([...data.subarray(0, 3)], photo(4)(0, 0).slice(0, 3));
    assert.equal(r.notes.filter((n) => PROBLEM.test(n)).length, 1, r.notes.join('\n'));
  });

  it('reads masks as meant: inverted palette, mask in alpha, colour-coded; says so once per kind', async () => {
    const images = path.join(tmp, 'imp-masks', 'images');
    const masks = path.join(tmp, 'imp-masks', 'masks');
    const inside = (x: number, y: number): boolean => x < 5 && y < 4; // 20 of 144 pixels
    for (let i = 0; i < 6; i++) await rgbImage(path.join(images, `m${i}.png`), S, S, i);
    // palette entry 0 is white and is the foreground (sharp writes mostly-black masks so)
    await palettePng(
      path.join(masks, 'm0.png'),
      S,
      S,
      [
        [255, 255, 255],
        [0, 0, 0],
      ],
      (x, y) => (inside(x, y) ? 0 : 1),
    );
    await palettePng(
      path.join(masks, 'm1.png'),
      S,
      S,
      [
        [0, 0, 0],
        [255, 255, 255],
      ],
      (x, y) => (inside(x, y) ? 1 : 0),
    );
    // RGBA: colour constant, the mask in alpha
    await rawPng(path.join(masks, 'm2.png'), S, S, 4, (x, y) => [0, 0, 0, inside(x, y) ? 255 : 0]);
    await rawPng(path.join(masks, 'm3.png'), S, S, 4, (x, y) => [255, 255, 255, inside(x, y) ? 255 : 0]);
    // colour-coded (BKAI style): pure red is gray 76, which a gray reading calls background
    await rawPng(path.join(masks, 'm4.png'), S, S, 3, (x, y) => (inside(x, y) ? [255, 0, 0] : [0, 0, 0]));
    await rawPng(path.join(masks, 'm5.png'), S, S, 1, (x, y) => [inside(x, y) ? 255 : 0]);
    const out = path.join(tmp, 'imp-masks-out');
    const r = await importDataset({ images, masks, className: 'lesion', out, split: [0.6, 0.2, 0.2] });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    for (let i = 0; i < 6; i++) {
      const m = await readMaskGray(path.join(out, 'masks', `m${i}.png`));
      const fg = [...m.gray].filter((v) => v > 127).length;
      assert.equal(fg, 20, `m${i}: ${fg} foreground pixels`);
      assert.equal(m.gray[0], 255, `m${i}: the corner is foreground`);
    }
    assert.ok(
      r.notes.some((n) => /^1 palette mask\(s\) have their foreground colour at index 0/.test(n)),
      r.notes.join('\n'),
    );
    assert.ok(
      r.notes.some((n) => /^2 mask\(s\) hold the mask in their alpha channel/.test(n)),
      r.notes.join('\n'),
    );
    assert.ok(
      r.notes.some((n) => /^1 colour mask\(s\)/.test(n)),
      r.notes.join('\n'),
    );
  });

  it('refuses a photo given as a mask (non_binary_mask, naming the file and why), leaving nothing behind; --mask-mode forces a reading', async () => {
    const images = path.join(tmp, 'imp-photo', 'images');
    const masks = path.join(tmp, 'imp-photo', 'masks');
    for (let i = 0; i < 4; i++) {
      await rgbImage(path.join(images, `p${i}.jpg`), S, S, i);
      await grayImage(path.join(masks, `p${i}.png`), S, S, disc(5, 5, 3));
    }
    await rgbImage(path.join(masks, 'p3.jpg'), S, S, 9); // the photo itself, as the mask of p3
    await fs.rm(path.join(masks, 'p3.png'));
    const out = path.join(tmp, 'imp-photo-out');
    await assert.rejects(importDataset({ images, masks, className: 'x', out, split: [0.5, 0.25, 0.25] }), (e: Error) => {
      assert.match(
        e.message,
        /masks\/p3\.jpg: non_binary_mask: a colour image with [\d.]+% of its pixels at mid levels .*looks like a photo/,
      );
      return true;
    });
    assert.equal(existsSync(out), false);
    await noLeftovers(tmp);
    // the same photo alone: a gray photo is refused for its mid-grey levels
    await assert.rejects(readBinaryMask(path.join(images, 'p1.jpg')), /p1\.jpg: non_binary_mask: .*looks like a photo|mid levels/);
    const forced = await importDataset({ images, masks, className: 'x', out, split: [0.5, 0.25, 0.25], maskMode: 'gray' });
    assert.equal(forced.counts.train.images + forced.counts.val.images + forced.counts.test.images, 4);
  });

  it('a 0..5 class-index map read as binary is refused as mask_values_low; alpha mode on a file without alpha is refused', async () => {
    const f = path.join(tmp, 'idx.png');
    await grayImage(f, S, S, (x) => Math.min(5, x));
    await assert.rejects(readBinaryMask(f), /idx\.png: mask_values_low: largest value is 5/);
    assert.equal([...(await readBinaryMask(f, 'nonzero')).mask.data].filter((v) => v === 255).length, S * S - S);
    await assert.rejects(readBinaryMask(f, 'alpha'), /mask_mode: --mask-mode alpha, but the file has no alpha channel/);
  });

  it('stages its output: a result failing its check is not moved into place', async () => {
    // Masks of the wrong size pass reading but fail the check (size_mismatch).
    const images = path.join(tmp, 'imp-size', 'images');
    const masks = path.join(tmp, 'imp-size', 'masks');
    for (let i = 0; i < 4; i++) {
      await rgbImage(path.join(images, `s${i}.png`), S, S, i);
      await grayImage(path.join(masks, `s${i}.png`), i === 2 ? S + 2 : S, S, disc(5, 5, 3));
    }
    const out = path.join(tmp, 'imp-size-out');
    await assert.rejects(importDataset({ images, masks, className: 'x', out, split: [0.5, 0.25, 0.25] }), (e: Error) => {
      assert.match(e.message, /the result fails its check \(1 error\(s\)\), so nothing was written to .*imp-size-out/);
      assert.match(e.message, /size_mismatch/);
      assert.doesNotMatch(e.message, /\.partial-/, 'messages name the output, not the staging folder');
      return true;
    });
    assert.equal(existsSync(out), false);
    await noLeftovers(tmp);
  });

  it('refuses an --out inside --images or --masks', async () => {
    const images = path.join(tmp, 'imp-masks', 'images');
    const masks = path.join(tmp, 'imp-masks', 'masks');
    await assert.rejects(
      importDataset({ images, masks, className: 'x', out: path.join(images, 'ds') }),
      /data import: the output .*images\/ds would be written inside the --images folder/,
    );
    await assert.rejects(importDataset({ images, masks, className: 'x', out: masks }), /would be written inside the --masks folder/);
    assert.equal(existsSync(path.join(images, 'ds')), false);
  });

  it('--groups and --group-pattern keep a group in one split; images without a group are named', async () => {
    const images = path.join(tmp, 'imp-groups', 'images');
    const masks = path.join(tmp, 'imp-groups', 'masks');
    const names: string[] = [];
    for (let p = 0; p < 8; p++) {
      for (let k = 0; k < 3; k++) {
        const n = `patient${p}_frame${k}`;
        names.push(n);
        await rgbImage(path.join(images, `${n}.png`), S, S, p * 3 + k);
        await grayImage(path.join(masks, `${n}.png`), S, S, disc(5, 5, 3));
      }
    }
    const check = async (r: Awaited<ReturnType<typeof importDataset>>, out: string): Promise<void> => {
      assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
      const where = new Map<string, Set<string>>();
      for (const [split, list] of Object.entries(await anns(out))) {
        for (const e of list) {
          const g = e.img_name.split('_')[0] as string;
          if (!where.has(g)) where.set(g, new Set());
          where.get(g)!.add(split);
        }
      }
      assert.equal(where.size, 8);
      for (const [g, s] of where) assert.equal(s.size, 1, `${g} is in ${[...s].join(' and ')}`);
      assert.deepEqual(r.groups && r.groups.train + r.groups.val + r.groups.test, 8);
    };
    const byPattern = path.join(tmp, 'imp-groups-pattern');
    await check(
      await importDataset({ images, masks, className: 'x', out: byPattern, groupPattern: '^(patient\\d+)_', split: [0.5, 0.25, 0.25] }),
      byPattern,
    );
    const file = path.join(tmp, 'groups.txt');
    await put(file, `# image, group\n${names.map((n) => `${n}.png,${n.split('_')[0]}`).join('\n')}\n`);
    const byFile = path.join(tmp, 'imp-groups-file');
    await check(await importDataset({ images, masks, className: 'x', out: byFile, groupsFile: file, split: [0.5, 0.25, 0.25] }), byFile);
    await put(
      file,
      names
        .slice(1)
        .map((n) => `${n} ${n.split('_')[0]}`)
        .join('\n'),
    );
    await assert.rejects(
      importDataset({ images, masks, className: 'x', out: path.join(tmp, 'g3'), groupsFile: file }),
      /1 image\(s\) have no group \(not listed in .*groups\.txt\): patient0_frame0\.png/,
    );
    await assert.rejects(
      importDataset({ images, masks, className: 'x', out: path.join(tmp, 'g4'), groupPattern: '^case' }),
      /24 image\(s\) have no group \(its name does not match --group-pattern \^case\)/,
    );
    assert.deepEqual(
      [...parseGroups('benign (1).png\tp7\nb.png, p8\nc d.png p9\n', 'g.txt')],
      [
        ['benign (1).png', 'p7'],
        ['b.png', 'p8'],
        ['c d.png', 'p9'],
      ],
    );
  });
});

describe('data check as the safety net', () => {
  it('warns about what the old ClinicDB converter wrote: RGBA PNGs with R = G = B (red) and alpha (green)', async () => {
    const ds = path.join(tmp, 'old-clinic');
    for (const n of [1, 2, 3]) {
      // what `sharp(tif).png()` made of the mis-tagged TIFF: grey (the red samples) + alpha (the green)
      await rawPng(path.join(ds, 'images', `${n}.png`), S, S, 4, (x, y) => {
        const [r, g] = photo(n)(x, y) as [number, number];
        return [r, r, r, g];
      });
      await grayImage(path.join(ds, 'masks', `${n}.png`), S, S, disc(5, 5, 3));
    }
    const entry = (n: number) => ({ img_name: `${n}.png`, mask_name: `${n}.png`, prompts: { p1: 'polyp' } });
    await put(path.join(ds, 'anns', 'train.json'), JSON.stringify([entry(1), entry(2)]));
    await put(path.join(ds, 'anns', 'val.json'), JSON.stringify([entry(3)]));
    await put(path.join(ds, 'anns', 'test.json'), '[]');
    const r = await checkDataset(ds);
    assert.equal(r.counts.identical_channels, 3, JSON.stringify(r.problems));
    assert.equal(r.counts.translucent_alpha, 3);
    assert.match(
      r.problems.find((p) => p.code === 'identical_channels')!.message,
      /images\/1\.png: a colour file whose R, G and B are equal in every pixel/,
    );
  });

  it('warns about files the decoder mended and about masks held in alpha, with counts', async () => {
    const ds = path.join(tmp, 'raw-tiffs');
    for (const n of [1, 2]) {
      await put(path.join(ds, 'images', `${n}.tif`), greyTaggedRgbTiff(S, S, photo(n)));
      await rawPng(path.join(ds, 'masks', `${n}.png`), S, S, 2, (x) => [255, x < 4 ? 255 : 0]);
    }
    await put(path.join(ds, 'anns', 'train.json'), JSON.stringify([{ img_name: '1.tif', mask_name: '1.png', prompts: { p1: 'a' } }]));
    await put(path.join(ds, 'anns', 'val.json'), JSON.stringify([{ img_name: '2.tif', mask_name: '2.png', prompts: { p1: 'a' } }]));
    const r = await checkDataset(ds);
    assert.equal(r.counts.repaired_file, 2);
    assert.match(r.problems.find((p) => p.code === 'repaired_file')!.message, PROBLEM);
    assert.equal(r.counts.mask_in_alpha, 2);
    assert.equal(r.counts.unreadable_image, undefined);
  });
});

describe('the CLI', () => {
  it('data import --mask-mode / --group-pattern print notes and groups; a bad mode and an --out inside the input are refused', async () => {
    const { spawnSync } = await import('node:child_process');
    const { repoRoot } = await import('./helpers.js');
    const bin = path.join(repoRoot(), 'bin', 'tunevlseg.js');
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'data', ...args], { encoding: 'utf8' });
    const images = path.join(tmp, 'cli-imp', 'images');
    const masks = path.join(tmp, 'cli-imp', 'masks');
    for (let p = 0; p < 6; p++) {
      await put(path.join(images, `patient${p}_a.tif`), greyTaggedRgbTiff(S, S, photo(p)));
      await rawPng(path.join(masks, `patient${p}_a.png`), S, S, 4, (x, y) => [0, 0, 0, x < 5 && y < 6 ? 255 : 0]);
    }
    const out = path.join(tmp, 'cli-imp-out');
    const ok = run(
      'import',
      '--images',
      images,
      '--masks',
      masks,
      '--class',
      'polyp',
      '--out',
      out,
      '--group-pattern',
      '^(patient\\d+)_',
      '--split',
      '0.5,0.25,0.25',
    );
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /note: 6 file\(s\): TIFF header says PhotometricInterpretation 1/);
    assert.match(ok.stdout, /note: 6 mask\(s\) hold the mask in their alpha channel/);
    assert.match(ok.stdout, /Groups per split \(kept whole without --anns\): train \d, val \d, test \d/);
    assert.match(ok.stdout, /Result: OK/);
    const bad = run(
      'import',
      '--images',
      images,
      '--masks',
      masks,
      '--class',
      'polyp',
      '--out',
      path.join(tmp, 'cli-x'),
      '--mask-mode',
      'invert',
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--mask-mode.*invert.*(auto|choices)/s);
    const inside = run('import', '--images', images, '--masks', masks, '--class', 'polyp', '--out', path.join(masks, 'out'));
    assert.equal(inside.status, 1);
    assert.match(inside.stderr, /would be written inside the --masks folder/);
  });
});
