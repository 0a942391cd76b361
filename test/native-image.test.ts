// The image addon against OpenCV: JPEG decoding and INTER_CUBIC resizing must give the pixels
// the reference's cv2 pipeline gives (test/fixtures/opencv, made by
// scripts/make-opencv-fixture.py with Debian's OpenCV 4.6), and the decoders' fallbacks to
// libvips must keep every failure a named ImageError.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeJpeg, resizeCubic } from '../src/data/native-image.js';
import { decodeImage, decodeMask, ImageError, readMaskGray } from '../src/data/image.js';

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'opencv');

interface RawInfo {
  width: number;
  height: number;
  channels: number;
  dtype: string;
}
const meta = JSON.parse(readFileSync(path.join(FIXTURE, 'meta.json'), 'utf8')) as { files: Record<string, RawInfo> };

function raw(name: string): { data: Uint8Array | Uint16Array; info: RawInfo } {
  const info = meta.files[name]!;
  const bytes = readFileSync(path.join(FIXTURE, name));
  const data =
    info.dtype === 'uint16'
      ? new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))
      : new Uint8Array(bytes);
  assert.equal(data.length, info.width * info.height * info.channels, name);
  return { data, info };
}

function differing(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

/** Keys' cubic (a = -0.75), half-pixel centres, clamped taps, in double: the textbook definition. */
function keysResize(src: Uint8Array, w: number, h: number, cn: number, dw: number, dh: number): Float64Array {
  const k = (t: number): number => {
    const x = Math.abs(t);
    const a = -0.75;
    return x <= 1 ? (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1 : x < 2 ? a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a : 0;
  };
  const taps = (d: number, n: number, dn: number): [number[], number[]] => {
    const f = (d + 0.5) * (n / dn) - 0.5;
    const s = Math.floor(f);
    const idx = [-1, 0, 1, 2].map((o) => Math.min(Math.max(s + o, 0), n - 1));
    return [idx, [-1, 0, 1, 2].map((o) => k(f - (s + o)))];
  };
  const out = new Float64Array(dw * dh * cn);
  for (let y = 0; y < dh; y++) {
    const [iy, wy] = taps(y, h, dh);
    for (let x = 0; x < dw; x++) {
      const [ix, wx] = taps(x, w, dw);
      for (let c = 0; c < cn; c++) {
        let v = 0;
        for (let j = 0; j < 4; j++) for (let i = 0; i < 4; i++) v += wy[j]! * wx[i]! * src[(iy[j]! * w + ix[i]!) * cn + c]!;
        out[(y * dw + x) * cn + c] = v;
      }
    }
  }
  return out;
}

describe('image addon (OpenCV-exact decoding and resizing)', () => {
  let tmp = '';
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-native-image-'));
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('resizeCubic equals cv2.resize INTER_CUBIC bit for bit: down, up, odd widths, gray, 16-bit', () => {
    const cases = Object.entries(meta.files).filter(([name]) => name.startsWith('cubic_'));
    assert.ok(cases.length >= 5);
    for (const [name, info] of cases) {
      const src = raw((info as RawInfo & { source: string }).source);
      const want = raw(name);
      const got = resizeCubic(src.data, src.info.width, src.info.height, src.info.channels, info.width, info.height);
      assert.equal(got.constructor, want.data.constructor, name);
      assert.equal(differing(got, want.data), 0, `${name}: values differing from OpenCV`);
    }
  });

  it('resizeCubic is Keys a = -0.75 without antialiasing (within one level of the float definition)', () => {
    const src = raw('src.rgb');
    for (const [dw, dh] of [
      [20, 15],
      [53, 37],
      [120, 90],
    ] as const) {
      const got = resizeCubic(src.data as Uint8Array, src.info.width, src.info.height, 3, dw, dh);
      const ref = keysResize(src.data as Uint8Array, src.info.width, src.info.height, 3, dw, dh);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - Math.min(255, Math.max(0, ref[i]!))));
      assert.ok(worst <= 1, `${dw}x${dh}: max |ours - Keys| = ${worst}`);
    }
  });

  it('decodeJpeg equals cv2.imdecode: colour (IMREAD_COLOR) and luma (IMREAD_GRAYSCALE)', () => {
    const jpg = readFileSync(path.join(FIXTURE, 'src.jpg'));
    const rgb = decodeJpeg(jpg, false);
    const gray = decodeJpeg(jpg, true);
    assert.ok(rgb.ok && gray.ok);
    assert.equal(rgb.channels, 3);
    assert.equal(gray.channels, 1);
    assert.equal(differing(rgb.pixels, raw('decoded_jpg.rgb').data), 0);
    assert.equal(differing(gray.pixels, raw('decoded_jpg.gray').data), 0);
  });

  it('decodeImage of a JPEG is cv2.imread + INTER_CUBIC + ImageNet normalisation; a JPEG mask reads as its luma', async () => {
    const jpg = path.join(FIXTURE, 'src.jpg');
    const S = 64;
    const img = await decodeImage(jpg, { size: S });
    assert.deepEqual([img.width, img.height], [53, 37]);
    const dec = raw('decoded_jpg.rgb').data as Uint8Array;
    const resized = resizeCubic(dec, 53, 37, 3, S, S);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < S * S; i += 97) {
        const want = (resized[i * 3 + c]! / 255 - mean[c]!) / std[c]!;
        assert.ok(Math.abs(img.data[c * S * S + i]! - want) < 1e-6, `plane ${c} pixel ${i}`);
      }
    }
    const { gray } = await readMaskGray(jpg);
    assert.equal(differing(gray, raw('decoded_jpg.gray').data), 0);
    const soft = await decodeMask(jpg, { size: 20, threshold: null });
    const g = raw('decoded_jpg.gray').data;
    // OpenCV INTER_NEAREST: source index floor(d * src / dst).
    assert.equal(soft.data[5 * 20 + 7], Math.fround(g[Math.floor((5 * 37) / 20) * 53 + Math.floor((7 * 53) / 20)]! / 255));
  });

  it('decodeJpeg reports junk, truncation, CMYK and EXIF orientation instead of throwing', async () => {
    assert.equal(decodeJpeg(Buffer.from('\xff\xd8\xff not really a jpeg', 'latin1'), false).ok, false);
    const good = readFileSync(path.join(FIXTURE, 'src.jpg'));
    const cut = decodeJpeg(good.subarray(0, Math.floor(good.length * 0.6)), false);
    assert.ok(cut.ok && cut.warnings > 0 && cut.warning.length > 0, JSON.stringify(cut.ok ? { warnings: cut.warnings } : cut));
    const cmyk = await sharp(Buffer.alloc(16 * 16 * 3, 120), { raw: { width: 16, height: 16, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    const c = decodeJpeg(cmyk, false);
    assert.ok(!c.ok && c.unsupported);
    const rotated = await sharp(Buffer.alloc(40 * 20 * 3, 90), { raw: { width: 40, height: 20, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const r = decodeJpeg(rotated, false);
    assert.ok(r.ok);
    assert.equal(r.orientation, 6);
  });

  it('files the addon hands back go through libvips: EXIF rotation applied, CMYK decoded, damage named', async () => {
    const rotatedPath = path.join(tmp, 'rotated.jpg');
    await sharp(Buffer.alloc(40 * 20 * 3, 90), { raw: { width: 40, height: 20, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(rotatedPath);
    const rot = await decodeImage(rotatedPath, { size: 16 });
    assert.deepEqual([rot.width, rot.height], [20, 40]);
    const cmykPath = path.join(tmp, 'cmyk.jpg');
    await sharp(Buffer.alloc(16 * 16 * 3, 120), { raw: { width: 16, height: 16, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg()
      .toFile(cmykPath);
    const cm = await decodeImage(cmykPath, { size: 8 });
    assert.ok(cm.data.every(Number.isFinite));
    assert.deepEqual([cm.width, cm.height], [16, 16]);
    const cutPath = path.join(tmp, 'cut.jpg');
    const good = readFileSync(path.join(FIXTURE, 'src.jpg'));
    await fs.writeFile(cutPath, good.subarray(0, Math.floor(good.length * 0.6)));
    await assert.rejects(decodeImage(cutPath, { size: 16 }), (e: unknown) => e instanceof ImageError && e.file === cutPath);
    await assert.rejects(decodeMask(cutPath, { size: 16 }), (e: unknown) => e instanceof ImageError && e.file === cutPath);
    // failOn 'none' accepts what libjpeg could decode.
    const lenient = await decodeImage(cutPath, { size: 16, failOn: 'none' });
    assert.deepEqual([lenient.width, lenient.height], [53, 37]);
  });

  it('fastShrinkOnLoad decodes big JPEGs at a reduced scale, keeps the original size, changes pixels a little', async () => {
    const W = 800;
    const H = 640;
    const px = Buffer.alloc(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px.set([(x * 255) / W, (y * 255) / H, ((x + y) % 64) * 4], (y * W + x) * 3);
    const big = path.join(tmp, 'big.jpg');
    await sharp(px, { raw: { width: W, height: H, channels: 3 } })
      .jpeg({ quality: 92 })
      .toFile(big);
    const full = await decodeImage(big, { size: 64 });
    const fast = await decodeImage(big, { size: 64, fastShrinkOnLoad: true });
    assert.deepEqual([fast.width, fast.height], [W, H]);
    let diff = 0;
    for (let i = 0; i < full.data.length; i++) diff += Math.abs(full.data[i]! - fast.data[i]!);
    const mean = diff / full.data.length;
    assert.ok(mean > 0 && mean < 0.2, `mean |full - fast| = ${mean}`);
  });

  it('refuses pixel buffers that do not match their stated size', () => {
    assert.throws(() => resizeCubic(new Uint8Array(10), 3, 3, 1, 4, 4), /10 values for 3x3x1/);
    assert.throws(() => resizeCubic(new Uint8Array(9), 3, 3, 1, 0, 4), /dstWidth must be a positive integer/);
  });
});
