import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import {
  DatasetError,
  loadDataset,
  loadSplit,
  parseSplitJson,
  promptKeyFromIndex,
  promptRng,
  selectPrompt,
  unsafeNameReason,
  withFullStop,
} from '../src/data/format.js';
import { decodeImage, decodeMask, IMAGENET_MEAN, IMAGENET_STD, ImageError, imageInfo, nearestIndices } from '../src/data/image.js';
import { resizeBilinear, writeMaskPng } from '../src/data/prediction-png.js';
import { decodeBmp } from '../src/data/bmp.js';
import { Rng } from '../src/data/rng.js';
import { generateSyntheticDataset, renderShapes, renderUltrasound } from '../src/data/synthetic.js';

import { repoRoot } from './helpers.js';
const KVASIR = path.join(repoRoot(), '..', 'shared', 'datasets', 'kvasir-sample');
let tmp: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-data-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function writeJson(file: string, data: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, typeof data === 'string' ? data : JSON.stringify(data));
}

/** A tiny valid dataset: n RGB PNG images 40x30 with rectangle masks. */
async function makeDataset(dir: string, n = 3): Promise<void> {
  await fs.mkdir(path.join(dir, 'images'), { recursive: true });
  await fs.mkdir(path.join(dir, 'masks'), { recursive: true });
  const entries = [];
  for (let i = 0; i < n; i++) {
    const rgb = Buffer.alloc(40 * 30 * 3);
    for (let p = 0; p < rgb.length; p++) rgb[p] = (p * (i + 3)) % 256;
    await sharp(rgb, { raw: { width: 40, height: 30, channels: 3 } })
      .png()
      .toFile(path.join(dir, 'images', `im${i}.png`));
    const m = Buffer.alloc(40 * 30);
    for (let y = 5; y < 20; y++) for (let x = 10; x < 30; x++) m[y * 40 + x] = 255;
    await sharp(m, { raw: { width: 40, height: 30, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(path.join(dir, 'masks', `im${i}.png`));
    entries.push({
      img_name: `im${i}.png`,
      mask_name: `im${i}.png`,
      prompts: { p0: '', p1: 'thing', p2: ['first thing', 'second thing'] },
    });
  }
  for (const split of ['train', 'val', 'test']) await writeJson(path.join(dir, 'anns', `${split}.json`), entries);
}

describe('dataset format', () => {
  it('loads kvasir-sample: 40/10/10 entries with files inside the folder', async () => {
    const ds = await loadDataset(KVASIR);
    assert.equal(ds.train?.length, 40);
    assert.equal(ds.val?.length, 10);
    assert.equal(ds.test?.length, 10);
    const s = ds.train?.[0];
    assert.ok(s);
    assert.equal(s.imgName, 'cju2r11x7sdgx0988o8ule0wl.jpg');
    assert.equal(s.imagePath, path.join(path.resolve(KVASIR), 'images', s.imgName));
    assert.equal(s.maskPath, path.join(path.resolve(KVASIR), 'masks', s.maskName));
    assert.equal(s.index, 0);
    assert.equal(s.split, 'train');
  });

  it('selects prompt p1 as "polyp." (full stop appended) and p0 fails as empty', async () => {
    const train = await loadSplit(KVASIR, 'train', { promptKey: 'p1' });
    const rng = new Rng(0);
    for (const s of train) assert.equal(selectPrompt(s.prompts, { promptKey: 'p1', train: true }, rng), 'polyp.');
    assert.equal(selectPrompt(train[0]!.prompts, { promptKey: 'p1', appendFullStop: false, train: true }, rng), 'polyp');
    await assert.rejects(loadSplit(KVASIR, 'train', { promptKey: 'p0' }), (err: unknown) => {
      assert.ok(err instanceof DatasetError);
      assert.match(err.message, /train\.json: entry 0: field "prompts": prompt "p0" is empty/);
      assert.equal(err.issues.length, 40);
      return true;
    });
  });

  it('p7 lists: first element in eval, a seeded random element in training', async () => {
    const [s] = await loadSplit(KVASIR, 'val');
    assert.ok(s);
    const list = s.prompts.p7 as string[];
    assert.ok(Array.isArray(list) && list.length === 5);
    assert.equal(selectPrompt(s.prompts, { promptKey: 'p7', train: false }, promptRng(1, 0, 0)), withFullStop(list[0]!));
    const picks = new Set<string>();
    for (let e = 0; e < 40; e++) picks.add(selectPrompt(s.prompts, { promptKey: 'p7', train: true }, promptRng(1, e, 0)));
    assert.ok(picks.size >= 3, `expected varied picks, got ${picks.size}`);
    for (const p of picks) assert.ok(list.map(withFullStop).includes(p));
    const again = selectPrompt(s.prompts, { promptKey: 'p7', train: true }, promptRng(1, 5, 0));
    assert.equal(again, selectPrompt(s.prompts, { promptKey: 'p7', train: true }, promptRng(1, 5, 0)));
  });

  it('random key picks only non-empty prompts; override replaces them', async () => {
    const [s] = await loadSplit(KVASIR, 'test');
    assert.ok(s);
    const seen = new Set<string>();
    for (let e = 0; e < 200; e++) {
      const p = selectPrompt(s.prompts, { promptKey: 'random', train: true }, promptRng(3, e, 0));
      assert.ok(p.length > 1 && p.endsWith('.'));
      seen.add(p);
    }
    assert.ok(seen.size > 9, `random keys + list elements should give many prompts, got ${seen.size}`);
    assert.equal(promptKeyFromIndex(-1), 'random');
    assert.equal(promptKeyFromIndex(3), 'p3');
    assert.equal(selectPrompt(s.prompts, { overridePrompt: 'a photo of a polyp', train: false }, new Rng(0)), 'a photo of a polyp.');
    assert.equal(withFullStop('already. '), 'already.');
  });

  it('schema errors name the file, the entry index and the field', () => {
    const r = parseSplitJson(
      JSON.stringify([
        { img_name: 'a.png', mask_name: 'a.png', prompts: { p1: 'x' }, extra: { kept: true } },
        { img_name: 3, mask_name: 'b.png', prompts: { p1: 'x' } },
        { img_name: 'c.png', prompts: { p7: ['ok', 5] } },
      ]),
      '/d/anns/train.json',
    );
    assert.equal(r.total, 3);
    assert.equal(r.entries.length, 1);
    assert.equal((r.entries[0]!.entry as Record<string, unknown>).extra !== undefined, true);
    const fields = r.issues.map((i) => `${i.entry}:${i.field}`);
    assert.deepEqual(fields.sort(), ['1:img_name', '2:mask_name', '2:prompts.p7'].sort());
    for (const i of r.issues) assert.equal(i.file, '/d/anns/train.json');
    const bad = parseSplitJson('{"img_name": 1}', 'f.json');
    assert.equal(bad.issues[0]?.code, 'malformed_json');
    assert.match(bad.issues[0]!.message, /expected a JSON list/);
    assert.equal(parseSplitJson('[{', 'f.json').issues[0]?.code, 'malformed_json');
  });

  it('rejects names escaping the dataset folder: ../, absolute paths, symlinks', async () => {
    assert.notEqual(unsafeNameReason('../secret.png'), null);
    assert.notEqual(unsafeNameReason('a/../../b.png'), null);
    assert.notEqual(unsafeNameReason('/etc/passwd'), null);
    assert.notEqual(unsafeNameReason('C:\\x.png'), null);
    assert.equal(unsafeNameReason('sub/a.png'), null);
    assert.equal(unsafeNameReason('a/../b.png'), null);

    const dir = path.join(tmp, 'escape');
    await makeDataset(dir, 2);
    const outside = path.join(tmp, 'outside.png');
    await fs.copyFile(path.join(dir, 'images', 'im0.png'), outside);
    await fs.symlink(outside, path.join(dir, 'images', 'link.png'));
    await writeJson(path.join(dir, 'anns', 'train.json'), [
      { img_name: '../outside.png', mask_name: 'im0.png', prompts: { p1: 'x' } },
      { img_name: 'link.png', mask_name: 'im0.png', prompts: { p1: 'x' } },
      { img_name: 'im1.png', mask_name: '/etc/hosts', prompts: { p1: 'x' } },
      { img_name: 'im1.png', mask_name: 'im1.png', prompts: { p1: 'x' } },
    ]);
    await assert.rejects(loadSplit(dir, 'train'), (err: unknown) => {
      assert.ok(err instanceof DatasetError);
      const byEntry = new Map(err.issues.map((i) => [i.entry, i]));
      assert.equal(err.issues.length, 3);
      assert.equal(byEntry.get(0)?.code, 'path_escape');
      assert.equal(byEntry.get(0)?.field, 'img_name');
      assert.equal(byEntry.get(1)?.code, 'path_escape');
      assert.match(byEntry.get(1)!.message, /symlink/);
      assert.equal(byEntry.get(2)?.field, 'mask_name');
      assert.match(err.message, /train\.json: entry 0: field "img_name"/);
      return true;
    });
  });

  it('multi-class: one entry per (image, class mask), any number of classes', async () => {
    const dir = path.join(tmp, 'multiclass');
    await generateSyntheticDataset('shapes', dir, { counts: { train: 6, val: 1, test: 1 }, seed: 5 });
    const train = await loadSplit(dir, 'train');
    const perImage = new Map<string, string[]>();
    for (const s of train) perImage.set(s.imgName, [...(perImage.get(s.imgName) ?? []), s.maskName]);
    assert.equal(perImage.size, 6);
    for (const masks of perImage.values()) {
      assert.ok(masks.length >= 2 && masks.length <= 3);
      assert.equal(new Set(masks).size, masks.length);
    }
    assert.match(selectPrompt(train[0]!.prompts, { train: false }, new Rng(0)), /^(red|green|blue|yellow) (circle|square|triangle)\.$/);
  });
});

describe('image decoding', () => {
  it('kvasir images: [3,352,352] CHW normalised, original size kept', async () => {
    const [s] = await loadSplit(KVASIR, 'train');
    assert.ok(s);
    const meta = await sharp(s.imagePath).metadata();
    const img = await decodeImage(s.imagePath, { size: 352 });
    assert.equal(img.data.length, 3 * 352 * 352);
    assert.equal(img.width, meta.width);
    assert.equal(img.height, meta.height);
    let min = Infinity;
    let max = -Infinity;
    for (const v of img.data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    // (0 - mean) / std .. (1 - mean) / std over the three channels.
    assert.ok(min >= -IMAGENET_MEAN[0] / IMAGENET_STD[0] - 1e-4, `min ${min}`);
    assert.ok(max <= (1 - IMAGENET_MEAN[2]) / IMAGENET_STD[2] + 1e-4, `max ${max}`);
    assert.ok(max - min > 2, 'a real photo spans a wide range');
  });

  it('kvasir masks: [352,352] of 0/1 with a plausible foreground; nearest sampling like OpenCV', async () => {
    const [s] = await loadSplit(KVASIR, 'train');
    assert.ok(s);
    const m = await decodeMask(s.maskPath, { size: 352 });
    assert.equal(m.data.length, 352 * 352);
    let fg = 0;
    for (const v of m.data) {
      assert.ok(v === 0 || v === 1);
      fg += v;
    }
    assert.ok(fg > 0.01 * 352 * 352 && fg < 0.9 * 352 * 352, `foreground ${fg}`);
    const f32 = new Float32Array(352 * 352);
    await decodeMask(s.maskPath, { size: 352 }, f32);
    assert.deepEqual(Array.from(f32), Array.from(m.data));
    assert.deepEqual(Array.from(nearestIndices(4, 2)), [0, 2]);
    assert.deepEqual(Array.from(nearestIndices(2, 4)), [0, 0, 1, 1]);
  });

  it('grayscale, 16-bit, alpha, TIFF, WebP and BMP all give 3 channels in range', async () => {
    const dir = path.join(tmp, 'formats');
    await fs.mkdir(dir, { recursive: true });
    const W = 20;
    const H = 10;
    const opts = { size: 8, mean: [0, 0, 0] as const, std: [1, 1, 1] as const };
    // 8-bit gray 128 -> 128/255 on all channels.
    const g8 = path.join(dir, 'g8.png');
    await sharp(Buffer.alloc(W * H, 128), { raw: { width: W, height: H, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(g8);
    let d = await decodeImage(g8, opts);
    for (const v of d.data) assert.ok(Math.abs(v - 128 / 255) < 1e-6);
    assert.deepEqual([d.width, d.height], [W, H]);
    // 16-bit gray -> v/65535 (libvips' fixed-point resize is off by up to ~v/4096, far below an
    // 8-bit step), and 16-bit precision is kept: 40000 and 40064 are one 8-bit level apart.
    const decoded16: number[] = [];
    for (const v of [40000, 40064]) {
      const g16 = path.join(dir, `g16-${v}.png`);
      await sharp(new Uint16Array(W * H).fill(v), { raw: { width: W, height: H, channels: 1 } })
        .pipelineColourspace('grey16')
        .toColourspace('grey16')
        .png()
        .toFile(g16);
      assert.equal((await imageInfo(g16)).is16, true);
      d = await decodeImage(g16, opts);
      for (const x of d.data) assert.ok(Math.abs(x - v / 65535) < 5e-4, `16-bit value ${x} for ${v}`);
      decoded16.push(d.data[0]!);
    }
    assert.ok(Math.abs(decoded16[1]! - decoded16[0]! - 64 / 65535) < 1e-5, `16-bit steps kept: ${decoded16}`);
    // RGBA: alpha dropped, colour kept.
    const rgba = Buffer.alloc(W * H * 4);
    for (let i = 0; i < W * H; i++) rgba.set([200, 100, 50, 255], i * 4);
    const pRgba = path.join(dir, 'rgba.png');
    await sharp(rgba, { raw: { width: W, height: H, channels: 4 } })
      .png()
      .toFile(pRgba);
    d = await decodeImage(pRgba, opts);
    assert.ok(
      Math.abs(d.data[0]! - 200 / 255) < 1e-6 && Math.abs(d.data[64]! - 100 / 255) < 1e-6 && Math.abs(d.data[128]! - 50 / 255) < 1e-6,
    );
    // TIFF and WebP (lossless) of the same colour.
    const rgb = Buffer.alloc(W * H * 3);
    for (let i = 0; i < W * H; i++) rgb.set([200, 100, 50], i * 3);
    for (const [name, fmt] of [
      ['c.tiff', (s: Sharp) => s.tiff()],
      ['c.webp', (s: Sharp) => s.webp({ lossless: true })],
    ] as const) {
      const p = path.join(dir, name);
      await fmt(sharp(rgb, { raw: { width: W, height: H, channels: 3 } })).toFile(p);
      d = await decodeImage(p, opts);
      assert.ok(Math.abs(d.data[0]! - 200 / 255) < 1e-6, `${name}: ${d.data[0]}`);
    }
    // BMP, 24-bit bottom-up, written by hand: top half red, bottom half blue.
    const bmp = path.join(dir, 'c.bmp');
    await fs.writeFile(
      bmp,
      encodeBmp24(W, H, (_x, y) => (y < H / 2 ? [255, 0, 0] : [0, 0, 255])),
    );
    d = await decodeImage(bmp, opts);
    assert.deepEqual([d.width, d.height], [W, H]);
    assert.ok(d.data[0]! > 0.99 && d.data[2 * 64]! < 0.01, 'top-left is red');
    assert.ok(d.data[63]! < 0.01 && d.data[2 * 64 + 63]! > 0.99, 'bottom-right is blue');
  });

  it('BMP: 8-bit palette, top-down rows, 32-bit with alpha', () => {
    // 3x2, 8 bpp, top-down (negative height), palette: 0 black, 1 red, 2 green.
    const stride = 4;
    const pal = Buffer.from([0, 0, 0, 0, 0, 0, 255, 0, 0, 255, 0, 0]);
    const px = Buffer.from([0, 1, 2, 0, 2, 1, 0, 0]);
    const head = Buffer.alloc(54);
    head.write('BM', 0, 'ascii');
    head.writeUInt32LE(54 + pal.length + px.length, 2);
    head.writeUInt32LE(54 + pal.length, 10);
    head.writeUInt32LE(40, 14);
    head.writeInt32LE(3, 18);
    head.writeInt32LE(-2, 22);
    head.writeUInt16LE(1, 26);
    head.writeUInt16LE(8, 28);
    head.writeUInt32LE(stride * 2, 34);
    head.writeUInt32LE(3, 46);
    const b8 = decodeBmp(Buffer.concat([head, pal, px]));
    assert.deepEqual([b8.width, b8.height, b8.channels], [3, 2, 3]);
    assert.deepEqual(Array.from(b8.data), [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 0]);
    // 2x1, 32 bpp BI_BITFIELDS (V4 header with an alpha mask), bottom-up.
    const v4 = Buffer.alloc(14 + 108 + 8);
    v4.write('BM', 0, 'ascii');
    v4.writeUInt32LE(v4.length, 2);
    v4.writeUInt32LE(14 + 108, 10);
    v4.writeUInt32LE(108, 14);
    v4.writeInt32LE(2, 18);
    v4.writeInt32LE(1, 22);
    v4.writeUInt16LE(1, 26);
    v4.writeUInt16LE(32, 28);
    v4.writeUInt32LE(3, 30);
    v4.writeUInt32LE(0x00ff0000, 54);
    v4.writeUInt32LE(0x0000ff00, 58);
    v4.writeUInt32LE(0x000000ff, 62);
    v4.writeUInt32LE(0xff000000, 66);
    v4.writeUInt32LE(0x80102030, 122);
    v4.writeUInt32LE(0xff405060, 126);
    const b32 = decodeBmp(v4);
    assert.equal(b32.channels, 4);
    assert.deepEqual(Array.from(b32.data), [0x10, 0x20, 0x30, 0x80, 0x40, 0x50, 0x60, 0xff]);
    assert.throws(() => decodeBmp(Buffer.concat([head.subarray(0, 30)])), /truncated/);
  });

  it('a corrupt or missing file is an ImageError naming the file', async () => {
    const dir = path.join(tmp, 'corrupt');
    await fs.mkdir(dir, { recursive: true });
    const good = await sharp(Buffer.alloc(64 * 64 * 3, 90), { raw: { width: 64, height: 64, channels: 3 } })
      .jpeg()
      .toBuffer();
    const truncated = path.join(dir, 'truncated.jpg');
    await fs.writeFile(truncated, good.subarray(0, Math.floor(good.length / 2)));
    const junk = path.join(dir, 'junk.jpg');
    await fs.writeFile(junk, Buffer.from('this is not an image at all'));
    const badBmp = path.join(dir, 'bad.bmp');
    await fs.writeFile(badBmp, Buffer.concat([Buffer.from('BM'), Buffer.alloc(40)]));
    for (const file of [truncated, junk, badBmp, path.join(dir, 'missing.png')]) {
      await assert.rejects(decodeImage(file, { size: 16 }), (err: unknown) => {
        assert.ok(err instanceof ImageError, String(err));
        assert.equal(err.file, file);
        assert.ok(err.message.startsWith(`${file}: `));
        return true;
      });
      await assert.rejects(decodeMask(file, { size: 16 }), ImageError);
    }
  });

  it('writeMaskPng writes mask, probability and overlay PNGs at the original size', async () => {
    const [s] = await loadSplit(KVASIR, 'test');
    assert.ok(s);
    const { width, height } = await imageInfo(s.imagePath);
    const S = 64;
    const probs = new Float32Array(S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) probs[y * S + x] = x < S / 2 ? 0.9 : 0.1;
    const out = path.join(tmp, 'pred', 'sample.png');
    const w = await writeMaskPng(out, probs, S, S, width, height, { imagePath: s.imagePath });
    assert.equal(w.mask, out);
    assert.ok(w.overlay);
    for (const f of [w.mask, w.prob, w.overlay]) {
      const m = await sharp(f).metadata();
      assert.deepEqual([m.width, m.height], [width, height], f);
    }
    assert.equal((await sharp(w.mask).metadata()).channels, 1);
    const { data, info } = await sharp(w.mask).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 1);
    assert.equal(data[0], 255);
    assert.equal(data[width - 1], 0);
    assert.ok(Math.abs(w.foreground / (width * height) - 0.5) < 0.02);
    const prob = await sharp(w.prob).toColourspace('b-w').raw().toBuffer();
    // torchvision's save_image in float32: fround(fround(0.9) * 255) = 229.5, + 0.5 -> 230
    // (double arithmetic would give 229); 0.1 -> 25.5 + 0.5 -> 26.
    assert.equal(prob[0], 230);
    assert.equal(prob[width - 1], 26);
    const overlay = await sharp(w.overlay).raw().toBuffer();
    const image = await sharp(s.imagePath).raw().toBuffer();
    assert.ok(overlay[0]! >= image[0]!, 'tinted towards red on the mask');
    assert.equal(overlay[(width - 1) * 3], image[(width - 1) * 3], 'untouched off the mask');
  });

  it('resizeBilinear matches align_corners=False interpolation', () => {
    const up = resizeBilinear(Float32Array.from([0, 1]), 2, 1, 4, 1);
    assert.deepEqual(Array.from(up), [0, 0.25, 0.75, 1]);
    const same = resizeBilinear(Float32Array.from([1, 2, 3, 4]), 2, 2, 2, 2);
    assert.deepEqual(Array.from(same), [1, 2, 3, 4]);
  });
});

describe('synthetic datasets', () => {
  it('renderers are deterministic in the seed and differ across seeds', () => {
    const a = renderShapes(11, 64);
    const b = renderShapes(11, 64);
    assert.deepEqual(a.image, b.image);
    assert.deepEqual(
      a.objects.map((o) => [o.colour, o.shape]),
      b.objects.map((o) => [o.colour, o.shape]),
    );
    assert.notDeepEqual(renderShapes(12, 64).image, a.image);
    const u = renderUltrasound(4, 64);
    assert.deepEqual(u.image, renderUltrasound(4, 64).image);
    assert.deepEqual(u.mask, renderUltrasound(4, 64).mask);
  });

  it('shapes: 2-3 objects, each sharing a colour or a shape with another, none sharing both', () => {
    for (let seed = 0; seed < 50; seed++) {
      const s = renderShapes(seed, 64);
      assert.ok(s.objects.length >= 2 && s.objects.length <= 3, `seed ${seed}`);
      for (const o of s.objects) {
        const others = s.objects.filter((x) => x !== o);
        assert.ok(
          others.some((x) => x.colour === o.colour || x.shape === o.shape),
          `seed ${seed}: ${o.colour} ${o.shape} shares nothing`,
        );
        assert.ok(!others.some((x) => x.colour === o.colour && x.shape === o.shape));
        const area = o.mask.reduce((acc, v) => acc + v, 0);
        assert.ok(area > 40 && area < 64 * 64 * 0.2, `seed ${seed}: area ${area}`);
      }
      // Masks of one image do not overlap.
      const sum = new Uint8Array(64 * 64);
      for (const o of s.objects) o.mask.forEach((v, i) => (sum[i]! += v));
      assert.ok(sum.every((v) => v <= 1));
    }
  });

  it('ultrasound: lesion ~7.5% of the image inside the fan, half with a vessel', () => {
    let frac = 0;
    let vessels = 0;
    const n = 60;
    for (let seed = 0; seed < n; seed++) {
      const u = renderUltrasound(seed, 64);
      frac += u.mask.reduce((a, v) => a + v, 0) / (64 * 64);
      if (u.hasVessel) vessels++;
      // The lesion is darker than the tissue around it.
      let inSum = 0;
      let inN = 0;
      let outSum = 0;
      let outN = 0;
      u.image.forEach((v, i) => {
        if (u.mask[i]) {
          inSum += v;
          inN++;
        } else if (v > 0) {
          outSum += v;
          outN++;
        }
      });
      assert.ok(inSum / inN < 0.5 * (outSum / outN), `seed ${seed}: lesion not dark`);
    }
    assert.ok(Math.abs(frac / n - 0.075) < 0.02, `mean lesion fraction ${frac / n}`);
    assert.ok(vessels > n * 0.25 && vessels < n * 0.75, `vessels ${vessels}`);
  });

  it('generated folders are byte-identical for the same seed and pass loading', async () => {
    for (const kind of ['shapes', 'ultrasound'] as const) {
      const a = path.join(tmp, `${kind}-a`);
      const b = path.join(tmp, `${kind}-b`);
      const counts = { train: 5, val: 2, test: 2 };
      const sa = await generateSyntheticDataset(kind, a, { counts, seed: 9, size: 48 });
      await generateSyntheticDataset(kind, b, { counts, seed: 9, size: 48 });
      assert.equal(sa.splits.train.images, 5);
      for (const sub of ['images', 'masks', 'anns']) {
        const files = (await fs.readdir(path.join(a, sub))).sort();
        assert.deepEqual(files, (await fs.readdir(path.join(b, sub))).sort());
        for (const f of files)
          assert.ok((await fs.readFile(path.join(a, sub, f))).equals(await fs.readFile(path.join(b, sub, f))), `${kind}/${sub}/${f}`);
      }
      const ds = await loadDataset(a);
      assert.equal(ds.train?.length, sa.splits.train.entries);
      const img = await decodeImage(ds.train![0]!.imagePath, { size: 32 });
      assert.deepEqual([img.width, img.height], [48, 48]);
      if (kind === 'ultrasound') {
        assert.equal((await sharp(ds.train![0]!.imagePath).metadata()).channels, 1, 'grayscale PNG');
        assert.equal(selectPrompt(ds.train![0]!.prompts, { train: false }, new Rng(0)), 'tumor.');
      }
    }
  });
});

/** A 24-bit bottom-up BMP. */
function encodeBmp24(w: number, h: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const stride = Math.ceil((w * 3) / 4) * 4;
  const buf = Buffer.alloc(54 + stride * h);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(w, 18);
  buf.writeInt32LE(h, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  buf.writeUInt32LE(stride * h, 34);
  for (let y = 0; y < h; y++) {
    const row = 54 + (h - 1 - y) * stride;
    for (let x = 0; x < w; x++) {
      const [r, g, b] = pixel(x, y);
      buf[row + x * 3] = b;
      buf[row + x * 3 + 1] = g;
      buf[row + x * 3 + 2] = r;
    }
  }
  return buf;
}
