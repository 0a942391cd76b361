/**
 * The loader's native half (native/src/image, the `tunevlseg_image` addon; no libtorch):
 * JPEG decoding with the system libjpeg, as OpenCV's imread does it, and OpenCV's INTER_CUBIC
 * resize, bit for bit. Loaded on first use, in loader worker threads too.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';

export type JpegDecode =
  | {
      ok: true;
      /** Interleaved rows, `channels` bytes per pixel. */
      pixels: Buffer;
      /** Decoded size (smaller than the file's after shrink-on-load). */
      width: number;
      height: number;
      /** The file's size. */
      sourceWidth: number;
      sourceHeight: number;
      /** 1 (gray) or 3 (RGB). */
      channels: number;
      /** EXIF orientation (1: none). */
      orientation: number;
      /** libjpeg warnings (corrupt or truncated data); the first one in `warning`. */
      warnings: number;
      warning: string;
    }
  | { ok: false; unsupported: boolean; message: string };

interface ImageAddon {
  decodeJpeg(data: Uint8Array, gray: boolean, minSize: number): JpegDecode;
  resizeCubic<T extends Uint8Array | Uint16Array>(
    pixels: T,
    width: number,
    height: number,
    channels: number,
    dstWidth: number,
    dstHeight: number,
  ): T;
  resizeCubicToPlanes(
    pixels: Uint8Array | Uint16Array,
    width: number,
    height: number,
    channels: number,
    size: number,
    scale: readonly number[],
    offset: readonly number[],
    out: Float32Array,
  ): void;
}

export const imageAddonPath = process.env.TUNEVLSEG_IMAGE_ADDON ?? join(packageRoot, 'native', 'build', 'Release', 'tunevlseg_image.node');

let addon: ImageAddon | null = null;

function load(): ImageAddon {
  if (addon !== null) return addon;
  if (!existsSync(imageAddonPath)) {
    throw new Error(
      `tunevlseg: the image addon is not built (${imageAddonPath} missing). Run \`npm run build:native\` ` +
        '(needs Debian libjpeg62-turbo-dev; see scripts/bootstrap.sh).',
    );
  }
  try {
    addon = createRequire(import.meta.url)(imageAddonPath) as ImageAddon;
  } catch (e) {
    throw new Error(
      `tunevlseg: failed to load ${imageAddonPath}: ${(e as Error).message} (libjpeg.so.62 missing? see scripts/bootstrap.sh)`,
    );
  }
  return addon;
}

/** True when the bytes start with a JPEG SOI marker. */
export function isJpeg(buf: Uint8Array): boolean {
  return buf.length > 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
}

/**
 * Decodes a JPEG to RGB (or its luma plane with `gray`, which is what cv2.IMREAD_GRAYSCALE
 * returns; one-component files are gray either way). `minSize` > 0: libjpeg decodes at the
 * smallest of 1/2, 1/4, 1/8 scale that keeps both sides >= minSize. Failures come back as
 * `{ ok: false }`.
 */
export function decodeJpeg(data: Uint8Array, gray: boolean, minSize = 0): JpegDecode {
  return load().decodeJpeg(data, gray, minSize);
}

/** OpenCV INTER_CUBIC resize of interleaved 8- or 16-bit pixels (cv2.resize, bit-exact on x86-64). */
export function resizeCubic<T extends Uint8Array | Uint16Array>(
  pixels: T,
  width: number,
  height: number,
  channels: number,
  dstWidth: number,
  dstHeight: number,
): T {
  return load().resizeCubic(pixels, width, height, channels, dstWidth, dstHeight);
}

/**
 * resizeCubic to size x size, then out[c][i] = v * scale[c] + offset[c] as float32 planes (CHW);
 * one gray channel fills all three planes.
 */
export function resizeCubicToPlanes(
  pixels: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: number,
  size: number,
  scale: readonly [number, number, number],
  offset: readonly [number, number, number],
  out: Float32Array,
): void {
  load().resizeCubicToPlanes(pixels, width, height, channels, size, scale, offset, out);
}

/** Whether the image addon loads (for `tunevlseg doctor`): null, or why not. */
export function imageAddonError(): string | null {
  try {
    load();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
