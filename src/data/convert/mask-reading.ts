/**
 * How `data import` reads a binary mask it knows nothing about, so that the foreground is what
 * the file's author meant, or the file is refused with the reason:
 *
 * - **alpha**: an RGBA (or grey+alpha) mask whose colour is the same in every pixel and whose
 *   alpha varies holds the mask in its alpha (foreground where alpha > 127). A colour reading
 *   would see one flat colour: all foreground or all background.
 * - **palette**: a palette PNG using two colours has the non-black one (of two non-black ones,
 *   the brighter) as foreground, whatever its index: sharp writes mostly-black binary masks
 *   with white as entry 0, which "index != 0" reads exactly inverted.
 * - **colour**: a mask with real colour (BKAI-style red/green on black) has foreground where its
 *   brightest channel is above 127; gray would make pure red 76, background.
 * - **gray**: everything else, as the loader reads it (OpenCV's gray, foreground above 127;
 *   0/1 masks: where 1).
 *
 * A file that looks like a photo (more than 1% of its values mid-grey, the `data check` rule) is
 * refused as `non_binary_mask`; one whose largest value is 2..127 (a class-index map read as
 * binary would be empty) as `mask_values_low`. `--mask-mode` forces one reading (no refusal):
 * `gray`, `alpha`, `nonzero` (any channel above 0: 0/1, class-index and colour-coded masks),
 * `index` (palette index not 0).
 */
import { DEFAULT_CHECK_RULES } from '../check.js';
import { ImageError, readImageFile, readRawPixels, type RawImage } from '../image.js';
import { pngPalette } from '../indexed-png.js';
import type { RawPixels } from './masks.js';
import type { BinaryMask } from './types.js';

export const MASK_MODES = ['auto', 'gray', 'alpha', 'nonzero', 'index'] as const;
export type MaskMode = (typeof MASK_MODES)[number];

/** How a mask was read, for the one-line notes of `data import` (null: the plain gray reading). */
export type MaskReadingKind = 'alpha' | 'palette-entry-0' | 'colour' | null;

export interface MaskReading {
  mask: BinaryMask;
  /** The file already is a one-channel 0/255 image (a PNG of it can be copied as it is). */
  exact: boolean;
  kind: MaskReadingKind;
  /** What the decoder mended to read the file, if anything. */
  repair?: string;
  /** Gray levels of a gray reading that are not only 0 and 255 (for the attribute sizes). */
  gray?: Uint8Array;
}

/** A mask refused as not binary; `code` is the `data check` problem it would be. */
export class MaskReadError extends ImageError {
  readonly code: 'non_binary_mask' | 'mask_values_low' | 'mask_mode';

  constructor(file: string, code: MaskReadError['code'], message: string) {
    super(file, `${code}: ${message}`);
    this.name = 'MaskReadError';
    this.code = code;
  }
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const grayOf = (r: number, g: number, b: number): number => Math.round(0.299 * r + 0.587 * g + 0.114 * b);

/** Per pixel: a value 0..255 computed from its colour channels (the alpha, if any, skipped). */
function perPixel(px: RawPixels, fn: (d: Uint8Array, j: number) => number): Uint8Array {
  const n = px.width * px.height;
  const out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += px.channels) out[i] = fn(px.data, j);
  return out;
}

const colourChannels = (px: RawImage): number => px.channels - (px.alpha ? 1 : 0);

function threshold(values: Uint8Array, w: number, h: number, above: number): BinaryMask {
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = (values[i] as number) > above ? 255 : 0;
  return { data, width: w, height: h };
}

function grayValues(px: RawImage): Uint8Array {
  return colourChannels(px) >= 3
    ? perPixel(px, (d, j) => grayOf(d[j] as number, d[j + 1] as number, d[j + 2] as number))
    : perPixel(px, (d, j) => d[j] as number);
}

/** Fraction of values in the check's mid-grey band. */
function midFraction(values: Uint8Array): number {
  const { midGreyLow: lo, midGreyHigh: hi } = DEFAULT_CHECK_RULES;
  let mid = 0;
  for (let i = 0; i < values.length; i++) if ((values[i] as number) >= lo && (values[i] as number) <= hi) mid++;
  return mid / Math.max(1, values.length);
}

function maxOf(values: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if ((values[i] as number) > m) m = values[i] as number;
  return m;
}

/** The colour channels are the same in every pixel and the alpha varies. */
function maskInAlpha(px: RawImage): boolean {
  if (!px.alpha) return false;
  const c = colourChannels(px);
  let lo = 255;
  let hi = 0;
  for (let j = 0; j < px.data.length; j += px.channels) {
    for (let k = 0; k < c; k++) if (px.data[j + k] !== px.data[k]) return false;
    const a = px.data[j + c] as number;
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  return hi > lo;
}

/** Palette PNG with exactly two colours in use: foreground is where the non-black (or brighter) one is. */
function paletteReading(px: RawImage, palette: readonly [number, number, number][]): { mask: BinaryMask; fgIndex: number } | null {
  if (palette.length === 0 || colourChannels(px) < 3) return null;
  const used = new Map<number, number>();
  for (let j = 0; j < px.data.length; j += px.channels) {
    used.set(((px.data[j] as number) << 16) | ((px.data[j + 1] as number) << 8) | (px.data[j + 2] as number), 0);
    if (used.size > 2) return null;
  }
  if (used.size !== 2) return null;
  const [a, b] = [...used.keys()] as [number, number];
  const rgb = (k: number): [number, number, number] => [(k >> 16) & 255, (k >> 8) & 255, k & 255];
  const brightness = (k: number): number => grayOf(...rgb(k));
  const black = (k: number): boolean => Math.max(...rgb(k)) <= DEFAULT_CHECK_RULES.midGreyLow;
  const fg = black(a) !== black(b) ? (black(a) ? b : a) : brightness(a) >= brightness(b) ? a : b;
  const data = new Uint8Array(px.width * px.height);
  for (let i = 0, j = 0; i < data.length; i++, j += px.channels) {
    data[i] = (((px.data[j] as number) << 16) | ((px.data[j + 1] as number) << 8) | (px.data[j + 2] as number)) === fg ? 255 : 0;
  }
  const fgIndex = palette.findIndex((c) => ((c[0] << 16) | (c[1] << 8) | c[2]) === fg);
  return { mask: { data, width: px.width, height: px.height }, fgIndex };
}

/** A palette PNG's indices, recovered from the decoded colours (first entry of a repeated colour). */
export function paletteIndices(px: RawPixels, palette: readonly [number, number, number][]): Uint8Array {
  const index = new Map<number, number>();
  palette.forEach(([r, g, b], i) => {
    const k = (r << 16) | (g << 8) | b;
    if (!index.has(k)) index.set(k, i);
  });
  return perPixel(px, (d, j) => index.get(((d[j] as number) << 16) | ((d[j + 1] as number) << 8) | (d[j + 2] as number)) ?? 0);
}

/** Reads a mask file as binary; see the module comment. Throws ImageError (MaskReadError) naming the file. */
export async function readBinaryMask(file: string, mode: MaskMode = 'auto'): Promise<MaskReading> {
  const buf = await readImageFile(file);
  const px = await readRawPixels(buf, { file, failOn: 'error', alpha: true });
  const repair = px.repair !== undefined ? { repair: px.repair } : {};
  const { width: w, height: h } = px;
  const done = (mask: BinaryMask, kind: MaskReadingKind, exact = false): MaskReading => ({ mask, exact, kind, ...repair });
  const alphaValues = (): Uint8Array => perPixel(px, (d, j) => d[j + px.channels - 1] as number);

  if (mode === 'alpha') {
    if (!px.alpha) throw new MaskReadError(file, 'mask_mode', '--mask-mode alpha, but the file has no alpha channel');
    return done(threshold(alphaValues(), w, h, 127), 'alpha');
  }
  if (mode === 'index') {
    const palette = pngPalette(buf);
    if (palette.length === 0 || colourChannels(px) < 3)
      throw new MaskReadError(file, 'mask_mode', '--mask-mode index, but the file is not a palette PNG');
    return done(threshold(paletteIndices(px, palette), w, h, 0), null);
  }
  if (mode === 'nonzero') {
    const c = colourChannels(px);
    const any = perPixel(px, (d, j) => {
      let m = 0;
      for (let k = 0; k < c; k++) m = Math.max(m, d[j + k] as number);
      return m;
    });
    return done(threshold(any, w, h, 0), null);
  }
  if (mode === 'auto' && maskInAlpha(px)) return done(threshold(alphaValues(), w, h, 127), 'alpha');
  if (mode === 'auto') {
    const pal = paletteReading(px, pngPalette(buf));
    if (pal !== null) return done(pal.mask, pal.fgIndex === 0 ? 'palette-entry-0' : null);
  }
  const c = colourChannels(px);
  const spread =
    c >= 3
      ? perPixel(
          px,
          (d, j) =>
            Math.max(d[j] as number, d[j + 1] as number, d[j + 2] as number) -
            Math.min(d[j] as number, d[j + 1] as number, d[j + 2] as number),
        )
      : null;
  let colourful = 0;
  if (spread !== null) for (let i = 0; i < spread.length; i++) if ((spread[i] as number) > DEFAULT_CHECK_RULES.midGreyLow) colourful++;
  const { nonBinaryFraction: limit } = DEFAULT_CHECK_RULES;
  if (mode === 'auto' && spread !== null && colourful / spread.length > limit) {
    // Real colour: the brightest channel says foreground (pure red is gray 76).
    const value = perPixel(px, (d, j) => Math.max(d[j] as number, d[j + 1] as number, d[j + 2] as number));
    const mid = midFraction(value);
    if (mid > limit) {
      throw new MaskReadError(
        file,
        'non_binary_mask',
        `a colour image with ${pct(mid)} of its pixels at mid levels (brightest channel ` +
          `${DEFAULT_CHECK_RULES.midGreyLow}-${DEFAULT_CHECK_RULES.midGreyHigh}), more than ${pct(limit)}: this looks like a photo, not a mask ` +
          '(--mask-mode gray or nonzero reads it anyway)',
      );
    }
    return done(threshold(value, w, h, 127), 'colour');
  }
  const gray = grayValues(px);
  const max = maxOf(gray);
  if (max <= 1) return done(threshold(gray, w, h, 0), null);
  if (mode === 'auto') {
    if (max <= 127) {
      throw new MaskReadError(
        file,
        'mask_values_low',
        `largest value is ${max}: read as binary (foreground above 127) the mask is empty; ` +
          'a class-index map? (--classes <labels.txt> reads label maps, --mask-mode nonzero takes every non-zero value as foreground)',
      );
    }
    const mid = midFraction(gray);
    if (mid > limit) {
      throw new MaskReadError(
        file,
        'non_binary_mask',
        `${pct(mid)} of its pixels are mid-grey (${DEFAULT_CHECK_RULES.midGreyLow}-` +
          `${DEFAULT_CHECK_RULES.midGreyHigh}), more than ${pct(limit)}: this looks like a photo or soft labels, not a binary mask ` +
          '(--mask-mode gray reads it anyway, foreground where gray > 127)',
      );
    }
  }
  let binary = true;
  for (let i = 0; binary && i < gray.length; i++) if (gray[i] !== 0 && gray[i] !== 255) binary = false;
  return { ...done(threshold(gray, w, h, 127), null, binary && c === 1 && !px.alpha), ...(binary ? {} : { gray }) };
}

/** The one-line note for masks read a way worth telling (said once per import). */
export function maskReadingNote(kind: Exclude<MaskReadingKind, null>, count: number): string {
  switch (kind) {
    case 'alpha':
      return `${count} mask(s) hold the mask in their alpha channel (their colour is the same everywhere): read from alpha, foreground where alpha > 127`;
    case 'palette-entry-0':
      return `${count} palette mask(s) have their foreground colour at index 0: read by colour (the non-black, brighter entry is foreground), not by index`;
    case 'colour':
      return `${count} colour mask(s): foreground where the brightest channel is above 127`;
  }
}
