/**
 * Decoding raw masks and writing binary ones. Every raw file goes through ../image.ts's
 * decoder (PNG incl. palette, JPEG, TIFF with its header mended, BMP). A file that cannot be
 * decoded is an ImageError naming it.
 */
import path from 'node:path';
import sharp from 'sharp';
import { type RawImage, readRawPixels } from '../image.js';
import type { BinaryMask } from './types.js';

/** 8-bit pixels as decoded (palette PNGs come out as RGB; gray files as one channel). */
export type RawPixels = Pick<RawImage, 'data' | 'width' | 'height' | 'channels' | 'format'> & Partial<Pick<RawImage, 'alpha' | 'repair'>>;

/**
 * Decodes a file to 8-bit raw pixels, alpha dropped and EXIF orientation applied, through the
 * decoder every command uses (../image.ts: mended TIFF headers, BMP), so that masks and images
 * line up as the loader sees them. `failOn: 'error'`: libvips warnings alone do not refuse a
 * raw file. Throws ImageError naming the file.
 */
export async function readPixels(file: string, opts: { alpha?: boolean } = {}): Promise<RawPixels> {
  return readRawPixels(file, { failOn: 'error', ...opts });
}

/**
 * An image decoded at most `maxSide` pixels wide and high (JPEG shrink-on-load): enough for
 * the mean colour under a mask, and 3-4x cheaper than a full decode.
 */
export async function readPixelsSmall(file: string, maxSide = 256): Promise<RawPixels> {
  return readRawPixels(file, { failOn: 'error', maxSide });
}

/** OpenCV's gray level of pixel i (what cv2.IMREAD_GRAYSCALE gives). */
function grayOf(p: RawPixels, i: number): number {
  if (p.channels < 3) return p.data[i * p.channels] as number;
  const j = i * p.channels;
  return Math.round(0.299 * (p.data[j] as number) + 0.587 * (p.data[j + 1] as number) + 0.114 * (p.data[j + 2] as number));
}

/**
 * A binary mask from a mask file's pixels: foreground where gray > 127, or, for masks stored
 * as 0/1 (largest value 1), where the value is 1. Returns whether the file already held only
 * 0 and 255 in one channel (then it can be copied instead of re-encoded), and the gray levels.
 */
export function binarizeGray(p: RawPixels): { mask: BinaryMask; exact: boolean; gray: Uint8Array } {
  const n = p.width * p.height;
  let gray: Uint8Array;
  if (p.channels === 1) gray = p.data.length === n ? p.data : p.data.subarray(0, n);
  else {
    gray = new Uint8Array(n);
    for (let i = 0; i < n; i++) gray[i] = grayOf(p, i);
  }
  let max = 0;
  let exact = p.channels === 1;
  for (let i = 0; i < n; i++) {
    const g = gray[i] as number;
    if (g > max) max = g;
    if (g !== 0 && g !== 255) exact = false;
  }
  const cut = max <= 1 ? 0 : 127;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (gray[i] as number) > cut ? 255 : 0;
  return { mask: { data: out, width: p.width, height: p.height }, exact, gray };
}

/**
 * Colour-coded masks (BKAI-IGH: red neoplastic, green non-neoplastic): any non-black pixel is
 * foreground. "Non-black" is a channel above `tolerance`, because the masks are JPEGs whose
 * black areas carry compression noise (up to ~20 levels near the edges).
 */
export function binarizeNonBlack(p: RawPixels, tolerance = 64): BinaryMask {
  const n = p.width * p.height;
  const out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += p.channels) {
    let m = 0;
    for (let c = 0; c < p.channels; c++) m = Math.max(m, p.data[j + c] as number);
    out[i] = m > tolerance ? 255 : 0;
  }
  return { data: out, width: p.width, height: p.height };
}

/** Values of a one-channel label map present in it (sorted), ignoring `ignore`. */
export function labelsPresent(p: RawPixels, ignore: ReadonlySet<number> = new Set()): number[] {
  const seen = new Uint8Array(256);
  const n = p.width * p.height;
  for (let i = 0; i < n; i++) seen[p.data[i * p.channels] as number] = 1;
  const out: number[] = [];
  for (let v = 0; v < 256; v++) if (seen[v] === 1 && !ignore.has(v)) out.push(v);
  return out;
}

/** Foreground where the (first channel of the) label map equals `label`. */
export function labelMask(p: RawPixels, label: number): BinaryMask {
  const n = p.width * p.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = p.data[i * p.channels] === label ? 255 : 0;
  return { data: out, width: p.width, height: p.height };
}

/** Foreground where the RGB pixel equals `rgb` (palette label maps decoded to RGB). */
export function colourMask(p: RawPixels, rgb: readonly [number, number, number]): BinaryMask {
  const n = p.width * p.height;
  const out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += p.channels) {
    out[i] = p.data[j] === rgb[0] && p.data[j + 1] === rgb[1] && p.data[j + 2] === rgb[2] ? 255 : 0;
  }
  return { data: out, width: p.width, height: p.height };
}

/** Pixel-wise union of same-size masks (BUSI's `_mask_1`, `_mask_2` ...); null when sizes differ. */
export function unionMasks(masks: readonly BinaryMask[]): BinaryMask | null {
  const first = masks[0];
  if (first === undefined) return null;
  const out = new Uint8Array(first.data);
  for (const m of masks.slice(1)) {
    if (m.width !== first.width || m.height !== first.height) return null;
    for (let i = 0; i < out.length; i++) if (m.data[i] !== 0) out[i] = 255;
  }
  return { data: out, width: first.width, height: first.height };
}

/** Whether any pixel is foreground. */
export function hasForeground(m: BinaryMask): boolean {
  for (let i = 0; i < m.data.length; i++) if (m.data[i] !== 0) return true;
  return false;
}

/**
 * Encodes a binary mask for `name`'s extension: PNG (lossless) for .png and anything else;
 * JPEG quality 100, 4:4:4, for published names ending .jpg/.jpeg (BKAI's anns), whose few
 * ringing levels stay far from the 127 threshold.
 */
export async function encodeMask(m: BinaryMask, name: string): Promise<Buffer> {
  const img = sharp(m.data, { raw: { width: m.width, height: m.height, channels: 1 } }).toColourspace('b-w');
  const ext = path.extname(name).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') return img.jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
  // Binary masks compress well at a low level; higher levels cost time for a few percent.
  return img.png({ compressionLevel: 3, adaptiveFiltering: false }).toBuffer();
}
