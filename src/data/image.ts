/**
 * Image and mask decoding: the models' inputs, masks, and the raw pixels the data tools read.
 *
 * Images follow the reference pipeline (cv2.imread, albumentations Resize = cv2.resize
 * INTER_CUBIC): JPEGs are decoded by the system libjpeg as OpenCV decodes them and resized by
 * OpenCV's INTER_CUBIC, bit for bit (native/src/image, through ./native-image.ts). Other
 * formats (PNG, TIFF, WebP, GIF; BMP through ./bmp.ts), EXIF-rotated and damaged JPEGs are
 * decoded by libvips (sharp) and resized the same way: EXIF orientation applied, alpha dropped,
 * grayscale kept as one channel and replicated to three, 16-bit scaled by 1/65535 (8-bit by
 * 1/255); then normalised per channel and laid out CHW as Float32Array.
 *
 * Masks follow the reference pipeline too (cv2.IMREAD_GRAYSCALE, /255, albumentations Resize,
 * which resizes masks with nearest neighbour): a JPEG mask's luma plane (what IMREAD_GRAYSCALE
 * returns), else gray = 0.299 R + 0.587 G + 0.114 B (rounded, as OpenCV); nearest-neighbour
 * resize with OpenCV's INTER_NEAREST sampling (src = floor(dst * srcSize / dstSize)), then
 * foreground where gray / 255 > threshold (0.5).
 *
 * Every decoder here starts from `source()`, the one place that reads a file: a BMP goes through
 * ./bmp.ts, a TIFF whose header contradicts its samples (CVC-ClinicDB's) is mended by
 * ./tiff-header.ts and read by what it holds, and the mend is reported (`repair`) so that the
 * commands can say so once per dataset (./repairs.ts).
 *
 * Why one file over 450 lines: every reader shares the private helpers (source, open,
 * metadata, run) and OpenCV's gray rule. Writing predicted masks is ./prediction-png.ts.
 */
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import type { OutputInfo, Sharp } from 'sharp';
import { type BmpImage, decodeBmp, isBmp } from './bmp.js';
import { decodeJpeg, isJpeg, resizeCubicToPlanes } from './native-image.js';
import { mendTiff } from './tiff-header.js';

/** File extensions read as images (lower case): by `predict` on a folder and by the dataset converters' scans. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.webp', '.gif', '.bmp'];

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** An image or mask file that cannot be read or decoded. Never a crash: always this error. */
export class ImageError extends Error {
  readonly file: string;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.name = 'ImageError';
    this.file = file;
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

type FailOn = 'none' | 'truncated' | 'error' | 'warning';

export interface DecodeOptions {
  /** How strict decoding is (sharp's `failOn`). Default 'warning': a damaged file is an error. */
  failOn?: FailOn;
  /** Name used in error messages when the input is a Buffer. */
  file?: string;
}

export interface ImageOptions extends DecodeOptions {
  /** Output side in pixels (square), e.g. 352 for CLIPSeg, 416 for CRIS. */
  size: number;
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  /**
   * Let libjpeg decode JPEGs at 1/2, 1/4 or 1/8 scale when both sides stay >= size (faster on
   * big photos, different pixels from the reference's full-size resize). Default false.
   */
  fastShrinkOnLoad?: boolean;
}

export interface MaskOptions extends DecodeOptions {
  size: number;
  /**
   * Foreground (1) where gray / 255 > threshold, else 0. `null`: the soft mask gray / 255, as
   * the reference's loader gives it (training targets are soft, quirk 18; each evaluation
   * protocol thresholds it its own way). Default 0.5.
   */
  threshold?: number | null;
}

export interface DecodedImage {
  /** [3, size, size] CHW, normalised. */
  data: Float32Array;
  /** Size of the original image (after EXIF orientation). */
  width: number;
  height: number;
}

export interface DecodedMask {
  /** [size, size], 0 or 1 (or gray / 255 with `threshold: null`). */
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
}

/** Reads a file, turning fs errors into ImageError naming the file. */
export async function readImageFile(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageError(file, code === 'ENOENT' ? 'file not found' : `cannot read file (${errMessage(err)})`, { cause: err });
  }
}

interface Source {
  buf: Buffer;
  file: string;
  /** Decoded once when the file is a BMP (libvips has no BMP loader). */
  bmp?: BmpImage;
  /** What was mended before decoding (a TIFF header contradicting its samples), if anything. */
  repair?: string;
}

async function source(input: string | Buffer, opts: DecodeOptions): Promise<Source> {
  const src: Source =
    typeof input === 'string' ? { buf: await readImageFile(input), file: input } : { buf: input, file: opts.file ?? '<buffer>' };
  const mended = await mendTiff(src.buf);
  if (mended !== null) {
    src.buf = mended.buf;
    src.repair = mended.problem;
  }
  if (isBmp(src.buf)) {
    try {
      src.bmp = decodeBmp(src.buf);
    } catch (err) {
      throw new ImageError(src.file, `cannot decode BMP: ${errMessage(err)}`, { cause: err });
    }
  }
  return src;
}

/** A sharp instance for the file's pixels, EXIF orientation applied. */
function open(src: Source, opts: DecodeOptions): Sharp {
  const b = src.bmp;
  if (b !== undefined) return sharp(b.data, { raw: { width: b.width, height: b.height, channels: b.channels } });
  return sharp(src.buf, { failOn: opts.failOn ?? 'warning', autoOrient: true });
}

export interface ImageMeta {
  width: number;
  height: number;
  is16: boolean;
  /** Single gray channel (plus alpha, maybe). */
  gray: boolean;
  /** The file has an alpha channel (opaque or not). */
  alpha: boolean;
  format: string;
  /** What the decoder mended to read the file (see source()), if anything. */
  repair?: string;
}

async function metadata(src: Source, opts: DecodeOptions): Promise<ImageMeta> {
  const b = src.bmp;
  const repair = src.repair !== undefined ? { repair: src.repair } : {};
  if (b !== undefined) return { width: b.width, height: b.height, is16: false, gray: false, alpha: b.channels === 4, format: 'bmp' };
  try {
    const m = await sharp(src.buf, { failOn: opts.failOn ?? 'warning' }).metadata();
    const w = m.autoOrient?.width ?? m.width;
    const h = m.autoOrient?.height ?? m.height;
    if (!w || !h) throw new Error('image has no size');
    const gray = m.space === 'b-w' || m.space === 'grey16' || (m.channels ?? 3) - (m.hasAlpha ? 1 : 0) === 1;
    return { width: w, height: h, is16: m.depth === 'ushort', gray, alpha: m.hasAlpha === true, format: m.format ?? 'unknown', ...repair };
  } catch (err) {
    throw new ImageError(src.file, `cannot decode image: ${errMessage(err)}`, { cause: err });
  }
}

async function run(src: Source, pipeline: Sharp): Promise<{ data: Buffer; info: OutputInfo }> {
  try {
    return await pipeline.toBuffer({ resolveWithObject: true });
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError(src.file, `cannot decode image: ${errMessage(err)}`, { cause: err });
  }
}

/** Decoded pixels before resizing: interleaved, 8- or 16-bit, one (gray) or three channels. */
interface Pixels {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
  /** 65535 for 16-bit pixels, else 255. */
  maxValue: number;
  /** The file's size after EXIF orientation (differs from width/height after shrink-on-load). */
  sourceWidth: number;
  sourceHeight: number;
}

/**
 * A JPEG decoded by the system libjpeg, as OpenCV's imread does (or its luma plane, as
 * IMREAD_GRAYSCALE), when that is the whole story; null hands the file to libvips: not a JPEG,
 * an EXIF-rotated one (libvips orients it), one libjpeg refuses (CMYK) or fails on (libvips then
 * names the error), and one with damaged data unless `failOn: 'none'` (libvips applies failOn).
 */
function jpegPixels(src: Source, opts: DecodeOptions, gray: boolean, minSize: number): Pixels | null {
  if (src.bmp !== undefined || !isJpeg(src.buf)) return null;
  const r = decodeJpeg(src.buf, gray, minSize);
  if (!r.ok || r.orientation !== 1) return null;
  if (r.warnings > 0 && (opts.failOn ?? 'warning') !== 'none') return null;
  const data = new Uint8Array(r.pixels.buffer, r.pixels.byteOffset, r.pixels.length);
  return {
    data,
    width: r.width,
    height: r.height,
    channels: r.channels,
    maxValue: 255,
    sourceWidth: r.sourceWidth,
    sourceHeight: r.sourceHeight,
  };
}

/** Any format through libvips: EXIF orientation applied, alpha dropped, 16 bits kept, gray kept gray. */
async function vipsPixels(src: Source, opts: DecodeOptions): Promise<Pixels> {
  const meta = await metadata(src, opts);
  // Gray files stay one channel through libvips (cheaper) and are replicated when normalising.
  const space = meta.gray ? (meta.is16 ? 'grey16' : 'b-w') : meta.is16 ? 'rgb16' : 'srgb';
  let p = open(src, opts).removeAlpha();
  if (meta.is16) p = p.pipelineColourspace(space);
  p = p.toColourspace(space).raw(meta.is16 ? { depth: 'ushort' } : {});
  const { data, info } = await run(src, p);
  if (info.channels !== (meta.gray ? 1 : 3) || info.width !== meta.width || info.height !== meta.height) {
    throw new ImageError(src.file, `unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
  }
  const pixels = meta.is16
    ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2)
    : new Uint8Array(data.buffer, data.byteOffset, data.length);
  return {
    data: pixels,
    width: info.width,
    height: info.height,
    channels: info.channels,
    maxValue: meta.is16 ? 65535 : 255,
    sourceWidth: meta.width,
    sourceHeight: meta.height,
  };
}

/**
 * Decodes an image and returns it resized to size x size (OpenCV INTER_CUBIC, as the
 * reference), normalised, CHW. `out`, when given, receives the pixels (length 3*size*size)
 * and is returned as `data`.
 */
export async function decodeImage(input: string | Buffer, opts: ImageOptions, out?: Float32Array): Promise<DecodedImage> {
  const S = opts.size;
  if (out !== undefined && out.length !== 3 * S * S) {
    throw new RangeError(`decodeImage: out has length ${out.length}, expected ${3 * S * S}`);
  }
  const src = await source(input, opts);
  const px = jpegPixels(src, opts, false, opts.fastShrinkOnLoad === true ? S : 0) ?? (await vipsPixels(src, opts));
  const mean = opts.mean ?? IMAGENET_MEAN;
  const std = opts.std ?? IMAGENET_STD;
  const dst = out ?? new Float32Array(3 * S * S);
  // (v / maxValue - mean) / std as v * scale + offset.
  const scale = [0, 1, 2].map((c) => 1 / (px.maxValue * std[c]!)) as [number, number, number];
  const offset = [0, 1, 2].map((c) => -mean[c]! / std[c]!) as [number, number, number];
  resizeCubicToPlanes(px.data, px.width, px.height, px.channels, S, scale, offset, dst);
  return { data: dst, width: px.sourceWidth, height: px.sourceHeight };
}

/** OpenCV's gray level (cv2.COLOR_RGB2GRAY / IMREAD_GRAYSCALE) of one pixel of raw data. */
function grayAt(data: Uint8Array, j: number, channels: number): number {
  if (channels < 3) return data[j] as number;
  return Math.round(0.299 * (data[j] as number) + 0.587 * (data[j + 1] as number) + 0.114 * (data[j + 2] as number));
}

async function decodeRaw8(
  input: string | Buffer,
  opts: DecodeOptions,
): Promise<{ data: Uint8Array; width: number; height: number; channels: number; format: string; repair?: string }> {
  const src = await source(input, opts);
  // JPEG masks: the luma plane, exactly cv2.IMREAD_GRAYSCALE's gray (and ~10x cheaper than
  // decoding colour).
  const jpeg = jpegPixels(src, opts, true, 0);
  if (jpeg !== null) return { data: jpeg.data as Uint8Array, width: jpeg.width, height: jpeg.height, channels: 1, format: 'jpeg' };
  // Gray files stay one channel (sharp would otherwise expand them to sRGB: 2-3x slower);
  // gray + alpha goes through sRGB, the one way sharp keeps the alpha (its b-w drops it).
  const { gray, alpha, format, repair } = await metadata(src, opts);
  const p = open(src, opts);
  const { data, info } = await run(src, (gray && !alpha ? p.toColourspace('b-w') : p).raw());
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return {
    data: pixels,
    width: info.width,
    height: info.height,
    channels: info.channels,
    format,
    ...(repair !== undefined ? { repair } : {}),
  };
}

export interface MaskGray {
  gray: Uint8Array;
  width: number;
  height: number;
  /** Channels of the decoded file, alpha included. */
  channels: number;
  format: string;
  /** Smallest and largest alpha when the file has an alpha channel (null: none). */
  alpha: [number, number] | null;
  repair?: string;
}

/** The mask's gray levels at full size, as OpenCV's IMREAD_GRAYSCALE gives them (8-bit; alpha ignored). */
export async function readMaskGray(input: string | Buffer, opts: DecodeOptions = {}): Promise<MaskGray> {
  const { data, width, height, channels, format, repair } = await decodeRaw8(input, opts);
  const n = width * height;
  const extra = repair !== undefined ? { repair } : {};
  let alpha: [number, number] | null = null;
  if (channels === 2 || channels === 4) {
    let lo = 255;
    let hi = 0;
    for (let j = channels - 1; j < data.length; j += channels) {
      const a = data[j] as number;
      if (a < lo) lo = a;
      if (a > hi) hi = a;
    }
    alpha = [lo, hi];
  }
  if (channels === 1) return { gray: data.subarray(0, n), width, height, channels, format, alpha, ...extra };
  const gray = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += channels) gray[i] = grayAt(data, j, channels);
  return { gray, width, height, channels, format, alpha, ...extra };
}

/**
 * OpenCV INTER_NEAREST source indices for resizing `src` samples to `dst` samples
 * (floor(d * src / dst), clamped), the sampling albumentations uses for masks.
 */
export function nearestIndices(src: number, dst: number): Int32Array {
  const idx = new Int32Array(dst);
  const scale = src / dst;
  for (let d = 0; d < dst; d++) idx[d] = Math.min(Math.floor(d * scale), src - 1);
  return idx;
}

/**
 * Decodes a mask to size x size: 0/1 (Uint8Array), or gray / 255 (Float32Array) with
 * `threshold: null`; or into `out`, e.g. a Float32Array view of a batch.
 */
export async function decodeMask(input: string | Buffer, opts: MaskOptions, out?: Uint8Array | Float32Array): Promise<DecodedMask> {
  const S = opts.size;
  if (out !== undefined && out.length !== S * S) {
    throw new RangeError(`decodeMask: out has length ${out.length}, expected ${S * S}`);
  }
  const { data, width, height, channels } = await decodeRaw8(input, opts);
  const soft = opts.threshold === null;
  const level = (opts.threshold ?? 0.5) * 255;
  const xs = nearestIndices(width, S);
  const ys = nearestIndices(height, S);
  const dst = out ?? (soft ? new Float32Array(S * S) : new Uint8Array(S * S));
  // The value of each gray level, once (a table lookup per pixel instead of a division).
  const value = new Float32Array(256);
  for (let g = 0; g < 256; g++) value[g] = soft ? g / 255 : g > level ? 1 : 0;
  for (let y = 0; y < S; y++) {
    const row = (ys[y] as number) * width;
    const o = y * S;
    if (channels === 1) {
      for (let x = 0; x < S; x++) dst[o + x] = value[data[row + (xs[x] as number)] as number] as number;
    } else {
      for (let x = 0; x < S; x++) dst[o + x] = value[grayAt(data, (row + (xs[x] as number)) * channels, channels)] as number;
    }
  }
  return { data: dst, width, height };
}

/** Header-only facts about an image file (no pixel decode). */
export async function imageInfo(input: string | Buffer, opts: DecodeOptions = {}): Promise<ImageMeta> {
  return metadata(await source(input, opts), opts);
}

/**
 * A sharp pipeline over the file's pixels as every decoder here reads them (BMP decoded, TIFF
 * header mended, EXIF orientation applied), with what was mended. For callers that resize or
 * encode with sharp themselves (data convert's PNGs, report galleries).
 */
export async function openImage(input: string | Buffer, opts: DecodeOptions = {}): Promise<{ image: Sharp; repair?: string }> {
  const src = await source(input, opts);
  return { image: open(src, opts), ...(src.repair !== undefined ? { repair: src.repair } : {}) };
}

/** 8-bit pixels, interleaved: gray files 1 channel, others sRGB 3, plus alpha when asked for and present. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
  /** The last channel is alpha. */
  alpha: boolean;
  format: string;
  repair?: string;
}

/**
 * Decodes a file to 8-bit pixels (EXIF orientation applied), at most `maxSide` pixels wide and
 * high when given (shrink-on-load where the codec allows it); alpha is dropped unless `alpha`.
 */
export async function readRawPixels(input: string | Buffer, opts: RawOptions = {}): Promise<RawImage> {
  const src = await source(input, opts);
  return rawPixels(src, await metadata(src, opts), opts);
}

type RawOptions = DecodeOptions & { alpha?: boolean; maxSide?: number };

async function rawPixels(src: Source, meta: ImageMeta, opts: RawOptions): Promise<RawImage> {
  let p = open(src, opts);
  if (opts.maxSide !== undefined)
    p = p.resize(opts.maxSide, opts.maxSide, { fit: 'inside', withoutEnlargement: true, fastShrinkOnLoad: true });
  const keepAlpha = opts.alpha === true && meta.alpha;
  if (!keepAlpha) p = p.removeAlpha();
  // sharp's b-w conversion drops alpha: gray + alpha is read as sRGB + alpha and folded back below.
  const { data, info } = await run(src, p.toColourspace(meta.gray && !keepAlpha ? 'b-w' : 'srgb').raw({ depth: 'uchar' }));
  const expected = (meta.gray && !keepAlpha ? 1 : 3) + (keepAlpha ? 1 : 0);
  if (info.channels !== expected) throw new ImageError(src.file, `unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
  let pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
  let channels = info.channels;
  if (meta.gray && keepAlpha) {
    const n = info.width * info.height;
    const ga = new Uint8Array(n * 2);
    for (let i = 0; i < n; i++) {
      ga[2 * i] = pixels[4 * i] as number;
      ga[2 * i + 1] = pixels[4 * i + 3] as number;
    }
    pixels = ga;
    channels = 2;
  }
  return {
    data: pixels,
    width: info.width,
    height: info.height,
    channels,
    alpha: keepAlpha,
    format: meta.format,
    ...(meta.repair !== undefined ? { repair: meta.repair } : {}),
  };
}

/** What `data check` looks at in an image beyond its header (at most 256 px a side). */
export interface ImageInspection extends ImageMeta {
  /** A colour file whose channels are equal in every pixel (a grey image stored as colour). */
  identicalChannels: boolean;
  /** Smallest alpha (0-255) when the file has an alpha channel, else null. */
  minAlpha: number | null;
}

/**
 * Decodes every pixel of an image (at reduced size where the codec allows it) to find damaged
 * files, and reports the header facts plus the colour facts `data check` warns about. Throws
 * ImageError naming the file.
 */
export async function verifyDecodable(input: string | Buffer, opts: DecodeOptions = {}): Promise<ImageInspection> {
  const src = await source(input, opts);
  const meta = await metadata(src, opts);
  const px = await rawPixels(src, meta, { ...opts, alpha: true, maxSide: 256 });
  const colours = px.alpha ? px.channels - 1 : px.channels;
  let identical = colours >= 3;
  let minAlpha = 255;
  for (let j = 0; j < px.data.length; j += px.channels) {
    if (identical && (px.data[j] !== px.data[j + 1] || px.data[j] !== px.data[j + 2])) identical = false;
    if (px.alpha && (px.data[j + px.channels - 1] as number) < minAlpha) minAlpha = px.data[j + px.channels - 1] as number;
  }
  return { ...meta, identicalChannels: identical, minAlpha: px.alpha ? minAlpha : null };
}
