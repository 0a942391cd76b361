// `data convert`: a miniature of each paper dataset's raw layout, converted and checked,
// including the awkward parts (TIFF, several BUSI masks, CAMUS labels, VOC palette,
// Cityscapes label ids, RLE JSON, missing files, masks without images, unknown layouts).
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AnnEntry } from '../src/data/convert/build.js';
import { binarizeGray, readPixels } from '../src/data/convert/masks.js';
import { decodeCocoRle } from '../src/data/convert/chexlocalize.js';
import { vocColour } from '../src/data/convert/pascal-voc-2012.js';
import { assignSplits } from '../src/data/convert/split.js';
import { convertDataset, LayoutError } from '../src/data/convert/index.js';
import { DEFAULT_LAYOUT, loadSplit, readDatasetDescription, readLayout } from '../src/data/format.js';
import { sharedDir } from './helpers.js';
import { cocoRle, colourImage, grayImage, metaImage, niftiGz, palettePng, put, rgbImage } from './raw-fixtures.js';

const KVASIR = path.join(sharedDir(), 'datasets', 'kvasir-sample');
let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tvs-convert-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const W = 24;
const H = 16;
const disc = (cx: number, cy: number, r: number) => (x: number, y: number) => ((x - cx) ** 2 + (y - cy) ** 2 <= r * r ? 255 : 0);

async function anns(dir: string): Promise<Record<string, AnnEntry[]>> {
  const out: Record<string, AnnEntry[]> = {};
  for (const s of ['train', 'val', 'test']) {
    const f = path.join(dir, 'anns', `${s}.json`);
    if (existsSync(f)) out[s] = JSON.parse(await fs.readFile(f, 'utf8')) as AnnEntry[];
  }
  return out;
}

async function maskOf(file: string): Promise<Uint8Array> {
  return binarizeGray(await readPixels(file)).mask.data;
}

/** No staging folder may be left next to the output. */
async function noLeftovers(parent: string): Promise<void> {
  const names = await fs.readdir(parent);
  assert.deepEqual(
    names.filter((n) => n.includes('.partial-')),
    [],
  );
}

describe('kvasir-seg', () => {
  it('the sample laid out as the zip, with --anns, gives back the same annotations and passes data check', async () => {
    const raw = path.join(tmp, 'kvasir-raw', 'Kvasir-SEG');
    await fs.mkdir(path.join(raw, 'images'), { recursive: true });
    await fs.mkdir(path.join(raw, 'masks'), { recursive: true });
    for (const sub of ['images', 'masks']) {
      for (const f of await fs.readdir(path.join(KVASIR, sub))) await fs.symlink(path.join(KVASIR, sub, f), path.join(raw, sub, f));
    }
    await put(path.join(raw, 'kavsir_bboxes.json'), '{}');
    const out = path.join(tmp, 'kvasir-out');
    const r = await convertDataset('kvasir-seg', path.dirname(raw), { out, anns: path.join(KVASIR, 'anns') });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems.slice(0, 3)));
    for (const s of ['train', 'val', 'test']) {
      assert.equal(
        await fs.readFile(path.join(out, 'anns', `${s}.json`), 'utf8'),
        await fs.readFile(path.join(KVASIR, 'anns', `${s}.json`), 'utf8'),
      );
    }
    assert.deepEqual(r.counts.train, { images: 40, entries: 40 });
    const samples = await loadSplit(out, 'val');
    assert.equal(samples.length, 10);
    await noLeftovers(tmp);
  });

  it('without --anns draws the paper ratios with a seed and writes p0..p6 attribute prompts', async () => {
    const raw = path.join(tmp, 'kvasir-raw');
    const a = await convertDataset('kvasir-seg', raw, { out: path.join(tmp, 'kv-a'), seed: 3 });
    await convertDataset('kvasir-seg', raw, { out: path.join(tmp, 'kv-b'), seed: 3 });
    await convertDataset('kvasir-seg', raw, { out: path.join(tmp, 'kv-c'), seed: 4 });
    assert.equal(a.check.ok, true);
    assert.deepEqual([a.counts.train.images, a.counts.val.images, a.counts.test.images], [48, 6, 6]);
    const A = await anns(path.join(tmp, 'kv-a'));
    const B = await anns(path.join(tmp, 'kv-b'));
    const C = await anns(path.join(tmp, 'kv-c'));
    assert.deepEqual(A, B);
    assert.notDeepEqual(
      A.test?.map((e) => e.img_name),
      C.test?.map((e) => e.img_name),
    );
    const e = A.train?.[0] as AnnEntry;
    assert.deepEqual(Object.keys(e.prompts), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    assert.equal(e.prompts.p1, 'polyp');
    assert.match(e.prompts.p6 as string, /^(one|two|three) .*polyp, located in .* of the image$/);
  });
});

describe('cvc-clinicdb', () => {
  it('reads Original/ and Ground Truth/ TIFFs and writes <n>.png, keeping published names', async () => {
    const raw = path.join(tmp, 'clinic-raw');
    for (const n of [1, 2, 3]) {
      await rgbImage(path.join(raw, 'Original', `${n}.tif`), W, H, n);
      await grayImage(path.join(raw, 'Ground Truth', `${n}.tif`), W, H, disc(6 * n, 8, 3));
    }
    const pub = path.join(tmp, 'clinic-anns');
    const entry = (n: number) => ({ img_name: `${n}.png`, mask_name: `${n}.png`, prompts: { p0: '', p1: 'polyp' }, bbox: [0, 0, 1, 1] });
    await put(path.join(pub, 'train.json'), JSON.stringify([entry(1)]));
    await put(path.join(pub, 'val.json'), JSON.stringify([entry(2)]));
    await put(path.join(pub, 'test.json'), JSON.stringify([entry(3)]));
    const out = path.join(tmp, 'clinic-out');
    const r = await convertDataset('cvc-clinicdb', raw, { out, anns: pub });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    assert.deepEqual((await fs.readdir(path.join(out, 'images'))).sort(), ['1.png', '2.png', '3.png']);
    const meta = await readPixels(path.join(out, 'masks', '2.png'));
    assert.equal(meta.format, 'png');
    const m = await maskOf(path.join(out, 'masks', '2.png'));
    assert.equal(m[8 * W + 12], 255);
    assert.equal(m[0], 0);
    assert.deepEqual((await anns(out)).test, [entry(3)]);
  });

  it('reads the common PNG re-pack (PNG/Original, PNG/Ground Truth), copying files that need no change', async () => {
    const raw = path.join(tmp, 'clinic-png');
    // Frames of five different video sequences (1-25, 26-50, 51-67, 68-78, 79-103).
    for (const [i, n] of [1, 30, 60, 70, 90].entries()) {
      await rgbImage(path.join(raw, 'PNG', 'Original', `${n}.png`), W, H, n);
      await grayImage(path.join(raw, 'PNG', 'Ground Truth', `${n}.png`), W, H, disc(4 * (i + 1), 8, 3));
    }
    const out = path.join(tmp, 'clinic-png-out');
    const r = await convertDataset('cvc-clinicdb', raw, { out });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    assert.deepEqual(await fs.readFile(path.join(out, 'images', '60.png')), await fs.readFile(path.join(raw, 'PNG', 'Original', '60.png')));
    assert.deepEqual(
      await fs.readFile(path.join(out, 'masks', '60.png')),
      await fs.readFile(path.join(raw, 'PNG', 'Ground Truth', '60.png')),
    );
  });

  it('fails, naming the file, when the published annotations name a frame the raw folder lacks; nothing is left behind', async () => {
    const pub = path.join(tmp, 'clinic-anns-bad');
    await put(path.join(pub, 'train.json'), JSON.stringify([{ img_name: '9.png', mask_name: '9.png', prompts: { p1: 'polyp' } }]));
    const out = path.join(tmp, 'clinic-bad');
    await assert.rejects(
      convertDataset('cvc-clinicdb', path.join(tmp, 'clinic-raw'), { out, anns: pub }),
      /images\/9\.png \(train\.json entry 0\)/,
    );
    assert.equal(existsSync(out), false);
    await noLeftovers(tmp);
  });
});

describe('bkai-igh', () => {
  it('colour-coded masks: red and green are polyp, black is not', async () => {
    const raw = path.join(tmp, 'bkai-raw');
    for (const n of ['a', 'b']) {
      await rgbImage(path.join(raw, 'train', 'train', `${n}.jpeg`), W, H);
      await colourImage(path.join(raw, 'train_gt', 'train_gt', `${n}.jpeg`), W, H, (x) =>
        x < 6 ? [255, 0, 0] : x >= 18 ? [0, 255, 0] : [0, 0, 0],
      );
    }
    const out = path.join(tmp, 'bkai-out');
    const r = await convertDataset('bkai-igh', raw, { out });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    const m = await maskOf(path.join(out, 'masks', 'a.jpeg'));
    assert.equal(m[5 * W + 2], 255, 'red region');
    assert.equal(m[5 * W + 20], 255, 'green region');
    assert.equal(m[5 * W + 12], 0, 'black region');
  });
});

describe('isic-2016', () => {
  it('keeps the official test set as test and draws train/val from the training set', async () => {
    const raw = path.join(tmp, 'isic-raw');
    for (let i = 0; i < 10; i++) {
      const sub = i < 7 ? 'Training' : 'Test';
      await rgbImage(path.join(raw, `ISBI2016_ISIC_Part1_${sub}_Data`, `ISIC_000000${i}.jpg`), W, H, i);
      await grayImage(path.join(raw, `ISBI2016_ISIC_Part1_${sub}_GroundTruth`, `ISIC_000000${i}_Segmentation.png`), W, H, disc(12, 8, 5));
    }
    const out = path.join(tmp, 'isic-out');
    const r = await convertDataset('isic-2016', raw, { out });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    const a = await anns(out);
    assert.deepEqual(a.test?.map((e) => e.img_name).sort(), ['ISIC_0000007.jpg', 'ISIC_0000008.jpg', 'ISIC_0000009.jpg']);
    assert.equal((a.train?.length ?? 0) + (a.val?.length ?? 0), 7);
    assert.equal(a.test?.[0]?.mask_name, 'ISIC_0000007_Segmentation.png');
    // Already-binary PNG masks are copied, not re-encoded.
    assert.deepEqual(
      await fs.readFile(path.join(out, 'masks', 'ISIC_0000007_Segmentation.png')),
      await fs.readFile(path.join(raw, 'ISBI2016_ISIC_Part1_Test_GroundTruth', 'ISIC_0000007_Segmentation.png')),
    );
  });
});

describe('dfu-2022', () => {
  it('reports an image without a mask and a mask without an image, and converts the rest', async () => {
    const raw = path.join(tmp, 'dfu-raw', 'DFUC2022_train_release');
    for (const n of [100, 101, 102]) await rgbImage(path.join(raw, 'DFUC2022_train_images', `${n}.jpg`), W, H, n);
    for (const n of [100, 101, 109])
      await grayImage(path.join(raw, 'DFUC2022_train_masks', `${n}.png`), W, H, (x, y) => (x > 10 && y > 5 ? 1 : 0));
    const out = path.join(tmp, 'dfu-out');
    const r = await convertDataset('dfu-2022', path.dirname(raw), { out });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    assert.equal(r.skipped.length, 2);
    assert.ok(
      r.skipped.some((s) => s.includes('102.jpg') && /no mask/.test(s)),
      r.skipped.join('\n'),
    );
    assert.ok(
      r.skipped.some((s) => s.includes('109.png') && /mask without an image/.test(s)),
      r.skipped.join('\n'),
    );
    // A 0/1 mask becomes 0/255.
    const m = await maskOf(path.join(out, 'masks', '100.png'));
    assert.equal(m[10 * W + 20], 255);
    assert.equal(m[0], 0);
  });
});

describe('busi', () => {
  it('merges _mask and _mask_N, keeps normal images, names files <n>_<class>.png', async () => {
    const raw = path.join(tmp, 'busi-raw', 'Dataset_BUSI_with_GT');
    await rgbImage(path.join(raw, 'benign', 'benign (1).png'), W, H);
    await grayImage(path.join(raw, 'benign', 'benign (1)_mask.png'), W, H, disc(5, 8, 3));
    await grayImage(path.join(raw, 'benign', 'benign (1)_mask_1.png'), W, H, disc(18, 8, 3));
    await grayImage(path.join(raw, 'benign', 'benign (9)_mask.png'), W, H, disc(5, 8, 3));
    await rgbImage(path.join(raw, 'malignant', 'malignant (2).png'), W, H);
    await grayImage(path.join(raw, 'malignant', 'malignant (2)_mask.png'), W, H, disc(12, 8, 4));
    await rgbImage(path.join(raw, 'normal', 'normal (3).png'), W, H);
    await grayImage(path.join(raw, 'normal', 'normal (3)_mask.png'), W, H, () => 0);
    const out = path.join(tmp, 'busi-out');
    const r = await convertDataset('busi', path.dirname(raw), { out });
    assert.ok(
      r.skipped.some((s) => s.includes('benign (9)_mask.png')),
      r.skipped.join('\n'),
    );
    assert.equal(r.check.errors, 0, JSON.stringify(r.check.problems));
    assert.equal(r.check.counts.empty_mask, 1);
    const m = await maskOf(path.join(out, 'masks', '1_benign.png'));
    assert.equal(m[8 * W + 5], 255, 'first mask');
    assert.equal(m[8 * W + 18], 255, 'second mask');
    assert.equal(m[8 * W + 12], 0);
    const all = Object.values(await anns(out)).flat();
    assert.deepEqual(all.map((e) => e.img_name).sort(), ['1_benign.png', '2_malignant.png', '3_normal.png']);
    const benign = all.find((e) => e.img_name === '1_benign.png') as AnnEntry;
    assert.match(benign.prompts.p5 as string, /^two small .*benign tumor$/);
  });
});

describe('camus', () => {
  const label = (x: number, y: number) => (y < 5 ? 1 : y < 10 ? (x < 12 ? 2 : 0) : x > 12 ? 3 : 0);
  it('2019 layout (MetaImage, training/testing): one entry per structure, per-split folders, data check passes', async () => {
    const raw = path.join(tmp, 'camus-raw');
    for (const [sub, pats] of [
      ['training', ['patient0001', 'patient0002']],
      ['testing', ['patient0001']],
    ] as const) {
      for (const p of pats) {
        for (const v of ['2CH_ED', '4CH_ES']) {
          await metaImage(path.join(raw, sub, p, `${p}_${v}.mhd`), W, H, (x, y) => (x * 10 + y) % 256);
          await metaImage(path.join(raw, sub, p, `${p}_${v}_gt.mhd`), W, H, label);
        }
      }
    }
    const out = path.join(tmp, 'camus-out');
    const r = await convertDataset('camus', raw, { out });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    assert.deepEqual(r.check.layout.test, { images: 'images/test', masks: 'masks/test' });
    assert.ok(existsSync(path.join(out, 'dataset.json')));
    const a = await anns(out);
    assert.equal(a.test?.length, 6);
    assert.deepEqual(
      a.test?.slice(0, 3).map((e) => [e.mask_name, e.prompts.p1]),
      [
        ['mask_1/patient0001_2CH_ED_gt.png', 'left ventricle'],
        ['mask_2/patient0001_2CH_ED_gt.png', 'myocardium'],
        ['mask_3/patient0001_2CH_ED_gt.png', 'left atrium'],
      ],
    );
    // Test's patient0001 is not training's patient0001: both exist, in their own folders.
    assert.ok(existsSync(path.join(out, 'images', 'test', 'patient0001_2CH_ED.png')));
    assert.ok(existsSync(path.join(out, 'images', 'train', 'patient0001_2CH_ED.png')));
    const myo = await maskOf(path.join(out, 'masks', 'test', 'mask_2', 'patient0001_2CH_ED_gt.png'));
    assert.equal(myo[7 * W + 3], 255);
    assert.equal(myo[7 * W + 20], 0);
    assert.equal(myo[2 * W + 3], 0);
    const samples = await loadSplit(out, 'test');
    assert.equal(samples[0]?.imagePath, path.join(out, 'images', 'test', 'patient0001_2CH_ED.png'));
  });

  it('with published annotations, val names resolve in images/train and test names in images/test', async () => {
    const pub = path.join(tmp, 'camus-anns');
    const e = (p: string, v: string, k: number) => ({
      img_name: `${p}_${v}.png`,
      mask_name: `mask_${k}/${p}_${v}_gt.png`,
      prompts: { p0: '', p1: [`structure ${k}.`] },
    });
    await put(path.join(pub, 'train.json'), JSON.stringify([e('patient0002', '2CH_ED', 1), e('patient0002', '4CH_ES', 3)]));
    await put(path.join(pub, 'val.json'), JSON.stringify([e('patient0001', '2CH_ED', 2)]));
    await put(path.join(pub, 'test.json'), JSON.stringify([e('patient0001', '2CH_ED', 1), e('patient0001', '4CH_ES', 2)]));
    const out = path.join(tmp, 'camus-pub-out');
    const r = await convertDataset('camus', path.join(tmp, 'camus-raw'), { out, anns: pub });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    assert.deepEqual(r.counts.test, { images: 2, entries: 2 });
    assert.deepEqual((await fs.readdir(path.join(out, 'images', 'test'))).sort(), ['patient0001_2CH_ED.png', 'patient0001_4CH_ES.png']);
    assert.deepEqual((await fs.readdir(path.join(out, 'images', 'train'))).sort(), [
      'patient0001_2CH_ED.png',
      'patient0002_2CH_ED.png',
      'patient0002_4CH_ES.png',
    ]);
    assert.equal(await fs.readFile(path.join(out, 'anns', 'val.json'), 'utf8'), await fs.readFile(path.join(pub, 'val.json'), 'utf8'));
  });

  it('2023 layout (NIfTI .nii.gz) reads the same labels; a frame without its _gt is reported', async () => {
    const raw = path.join(tmp, 'camus-nii', 'database_nifti');
    await niftiGz(path.join(raw, 'patient0007', 'patient0007_2CH_ED.nii.gz'), W, H, (x) => x * 5);
    await niftiGz(path.join(raw, 'patient0007', 'patient0007_2CH_ED_gt.nii.gz'), W, H, label);
    await niftiGz(path.join(raw, 'patient0007', 'patient0007_4CH_ES.nii.gz'), W, H, (x) => x * 5);
    // a second patient, so the seeded split has a val entry (data check refuses an empty val split)
    await niftiGz(path.join(raw, 'patient0008', 'patient0008_2CH_ED.nii.gz'), W, H, (x) => x * 5);
    await niftiGz(path.join(raw, 'patient0008', 'patient0008_2CH_ED_gt.nii.gz'), W, H, label);
    const out = path.join(tmp, 'camus-nii-out');
    const r = await convertDataset('camus', path.dirname(raw), { out });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    assert.ok(
      r.skipped.some((s) => /patient0007_4CH_ES.*no label map/.test(s)),
      r.skipped.join('\n'),
    );
    const la = await maskOf(path.join(out, 'masks', 'mask_3', 'patient0007_2CH_ED_gt.png'));
    assert.equal(la[12 * W + 20], 255);
    assert.equal(la[12 * W + 2], 0);
  });
});

describe('chexlocalize', () => {
  it('RLE segmentations become one mask per present pathology; empty ones give no entry', async () => {
    const raw = path.join(tmp, 'chex-raw');
    const ids = ['patient64541_study1_view1_frontal', 'patient64542_study1_view2_lateral'];
    const json: Record<string, Record<string, { size: [number, number]; counts: string }>> = {};
    for (const id of ids) {
      const [p, s, v] = [id.split('_')[0], id.split('_')[1], id.split('_').slice(2).join('_')];
      await rgbImage(path.join(raw, 'CheXpert', 'val', p as string, s as string, `${v}.jpg`), W, H);
      json[id] = {
        'Support Devices': { size: [H, W], counts: cocoRle((x, y) => x >= 3 && x < 9 && y >= 2 && y < 12, W, H) },
        Edema: { size: [H, W], counts: cocoRle(() => false, W, H) },
      };
    }
    await put(path.join(raw, 'gt_segmentations_val.json'), JSON.stringify(json));
    const out = path.join(tmp, 'chex-out');
    const r = await convertDataset('chexlocalize', raw, { out });
    assert.equal(r.check.ok, true, JSON.stringify(r.check.problems));
    const all = Object.values(await anns(out)).flat();
    assert.deepEqual(
      all.map((e) => e.mask_name).sort(),
      ids.map((i) => `${i}_support_devices.png`),
    );
    const m = await maskOf(path.join(out, 'masks', `${ids[0]}_support_devices.png`));
    let fg = 0;
    for (const v of m) if (v) fg++;
    assert.equal(fg, 6 * 10);
    assert.equal(m[2 * W + 3], 255);
    assert.equal(m[2 * W + 9], 0);
  });

  it('decodes a COCO RLE with long runs (multi-character counts)', () => {
    const w = 70;
    const h = 50;
    const inside = (x: number, y: number) => (x - 30) ** 2 + (y - 20) ** 2 < 300;
    const m = decodeCocoRle(cocoRle(inside, w, h), h, w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) assert.equal(m.data[y * w + x], inside(x, y) ? 255 : 0);
  });
});

describe('pascal-voc-2012', () => {
  it('palette masks give one binary mask per present class; train.txt/val.txt are the splits', async () => {
    const raw = path.join(tmp, 'voc-raw', 'VOCdevkit', 'VOC2012');
    const palette = Array.from({ length: 256 }, (_, i) => vocColour(i));
    // cat = 8, person = 15, 255 = void border.
    for (const id of ['2007_000001', '2007_000002']) {
      await rgbImage(path.join(raw, 'JPEGImages', `${id}.jpg`), W, H);
      await palettePng(path.join(raw, 'SegmentationClass', `${id}.png`), W, H, palette, (x, y) =>
        y === 0 ? 255 : x < 8 ? 8 : id.endsWith('2') && x > 16 ? 15 : 0,
      );
    }
    await put(path.join(raw, 'ImageSets', 'Segmentation', 'train.txt'), '2007_000001\n2007_000003\n');
    await put(path.join(raw, 'ImageSets', 'Segmentation', 'val.txt'), '2007_000002\n');
    const out = path.join(tmp, 'voc-out');
    const r = await convertDataset('pascal-voc-2012', path.join(tmp, 'voc-raw'), { out });
    assert.equal(r.check.errors, 0, JSON.stringify(r.check.problems));
    assert.ok(r.skipped.some((s) => s.includes('2007_000003')));
    const a = await anns(out);
    assert.deepEqual(
      a.train?.map((e) => [e.mask_name, e.prompts.p1]),
      [['cat/2007_000001.png', 'cat']],
    );
    assert.deepEqual(
      a.val?.map((e) => e.mask_name),
      ['cat/2007_000002.png', 'person/2007_000002.png'],
    );
    assert.equal(a.test, undefined);
    const person = await maskOf(path.join(out, 'masks', 'person', '2007_000002.png'));
    assert.equal(person[5 * W + 20], 255);
    assert.equal(person[5 * W + 2], 0);
    assert.equal(person[20], 0, 'the void border is no class');
    // issue 24 row 8: the original reads VOC with configs/data/image_dir_text_mask_jpg.yaml, whose
    // val_ds and test_ds take ${train_transforms} and whose test_ds reads images/validation.
    assert.deepEqual((await readDatasetDescription(out)).reference, {
      dataConfig: 'configs/data/image_dir_text_mask_jpg.yaml',
      evalTransforms: 'train',
      testSplit: 'val',
    });
    assert.deepEqual(await readLayout(out), DEFAULT_LAYOUT, 'no per-split folders');
  });
});

describe('cityscapes', () => {
  it('label ids give one mask per present evaluated class; a label map without its image is reported', async () => {
    const raw = path.join(tmp, 'city-raw');
    await rgbImage(path.join(raw, 'leftImg8bit', 'train', 'aachen', 'aachen_000000_000019_leftImg8bit.png'), W, H);
    // 7 road (bottom), 26 car (a box), 1 ego vehicle (ignored), 23 sky (top).
    await grayImage(path.join(raw, 'gtFine', 'train', 'aachen', 'aachen_000000_000019_gtFine_labelIds.png'), W, H, (x, y) =>
      y > 11 ? 7 : y < 3 ? 23 : x > 4 && x < 10 ? 26 : 1,
    );
    await grayImage(path.join(raw, 'gtFine', 'val', 'bonn', 'bonn_000000_000001_gtFine_labelIds.png'), W, H, () => 7);
    // one val image, so the dataset is trainable (data check refuses an empty val split)
    await rgbImage(path.join(raw, 'leftImg8bit', 'val', 'lindau', 'lindau_000000_000019_leftImg8bit.png'), W, H);
    await grayImage(path.join(raw, 'gtFine', 'val', 'lindau', 'lindau_000000_000019_gtFine_labelIds.png'), W, H, (_x, y) =>
      y > 11 ? 7 : 23,
    );
    const out = path.join(tmp, 'city-out');
    const r = await convertDataset('cityscapes', raw, { out });
    assert.equal(r.check.errors, 0, JSON.stringify(r.check.problems));
    assert.ok(r.skipped.some((s) => s.includes('bonn_000000_000001') && /without an image/.test(s)));
    const a = await anns(out);
    assert.deepEqual(
      a.train?.map((e) => e.mask_name),
      ['road/aachen_000000_000019.png', 'sky/aachen_000000_000019.png', 'car/aachen_000000_000019.png'],
    );
    assert.equal(a.train?.[2]?.img_name, 'aachen_000000_000019.png');
    const car = await maskOf(path.join(out, 'masks', 'car', 'aachen_000000_000019.png'));
    assert.equal(car[6 * W + 6], 255);
    assert.equal(car[6 * W + 15], 0);
    // configs/data/image_dir_text_mask_png.yaml, as VOC's jpg twin (issue 24 row 8)
    assert.deepEqual((await readDatasetDescription(out)).reference, {
      dataConfig: 'configs/data/image_dir_text_mask_png.yaml',
      evalTransforms: 'train',
      testSplit: 'val',
    });
  });
});

describe('seeded splits', () => {
  it("follow the paper's ratios, keep a group together, and leave no sized split empty when groups allow", () => {
    const sizes = { train: 800, val: 100, test: 100 };
    const many = Array.from({ length: 1000 }, (_, i) => ({ group: `p${Math.floor(i / 2)}` }));
    const s = assignSplits(many as never, sizes, 3);
    const count = (sp: string): number => s.filter((x) => x === sp).length;
    assert.ok(
      Math.abs(count('train') - 800) <= 2 && Math.abs(count('val') - 100) <= 2,
      `${count('train')}/${count('val')}/${count('test')}`,
    );
    for (let i = 0; i < 1000; i += 2) assert.equal(s[i], s[i + 1], 'a group stays in one split');
    // three groups: the 80/10/10 cut alone would put all of them in train
    const few = assignSplits([{ group: 'a' }, { group: 'b' }, { group: 'c' }] as never, sizes, 3);
    assert.deepEqual([...few].sort(), ['test', 'train', 'val']);
    // a single group cannot be split: it stays in train
    assert.deepEqual(assignSplits([{ group: 'a' }, { group: 'a' }] as never, sizes, 3), ['train', 'train']);
  });
});

describe('failures', () => {
  it('an unknown layout fails with the layouts that were expected', async () => {
    const raw = path.join(tmp, 'empty-raw');
    await fs.mkdir(raw, { recursive: true });
    await assert.rejects(convertDataset('cvc-clinicdb', raw, { out: path.join(tmp, 'x') }), (err: Error) => {
      assert.ok(err instanceof LayoutError);
      assert.match(err.message, /Original\/ \+ Ground Truth\//);
      assert.match(err.message, /PNG\/Original/);
      return true;
    });
    await assert.rejects(convertDataset('no-such-set', raw, { out: path.join(tmp, 'x') }), /known: kvasir-seg, cvc-clinicdb/);
  });

  it('a file that cannot be decoded is named, and no output or staging folder is left', async () => {
    const raw = path.join(tmp, 'broken-raw');
    await rgbImage(path.join(raw, 'images', 'a.jpg'), W, H);
    await grayImage(path.join(raw, 'masks', 'a.jpg'), W, H, disc(5, 5, 3));
    await rgbImage(path.join(raw, 'images', 'b.jpg'), W, H);
    await put(path.join(raw, 'masks', 'b.jpg'), 'not a jpeg at all');
    const out = path.join(tmp, 'broken-out');
    await assert.rejects(convertDataset('kvasir-seg', raw, { out }), /masks\/b\.jpg: cannot decode image/);
    assert.equal(existsSync(out), false);
    await noLeftovers(tmp);
  });

  it('refuses to write into a non-empty output folder', async () => {
    const out = path.join(tmp, 'full');
    await put(path.join(out, 'keep.txt'), 'x');
    await assert.rejects(convertDataset('kvasir-seg', path.join(tmp, 'kvasir-raw'), { out }), /already exists and is not empty/);
    assert.equal(await fs.readFile(path.join(out, 'keep.txt'), 'utf8'), 'x');
  });
});
