/**
 * Writing predicted masks back at the original image size: the binary mask, the 8-bit
 * probability (what the reference's `save_image` stores) and an overlay on the image (read by
 * ./image.ts's decoder, so a mended TIFF shows its colours).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { ImageError, openImage } from './image.js';

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Bilinear resize of a single-channel map with half-pixel centres (PyTorch
 * `interpolate(mode='bilinear', align_corners=False)`, OpenCV INTER_LINEAR for upsampling).
 */
export function resizeBilinear(src: Float32Array, w: number, h: number, outW: number, outH: number): Float32Array {
  if (src.length !== w * h) throw new RangeError(`resizeBilinear: got ${src.length} values for ${w}x${h}`);
  const out = new Float32Array(outW * outH);
  const sx = w / outW;
  const sy = h / outH;
  const x0s = new Int32Array(outW);
  const x1s = new Int32Array(outW);
  const fxs = new Float32Array(outW);
  for (let x = 0; x < outW; x++) {
    const fx = Math.max((x + 0.5) * sx - 0.5, 0);
    const x0 = Math.min(Math.floor(fx), w - 1);
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, w - 1);
    fxs[x] = fx - x0;
  }
  for (let y = 0; y < outH; y++) {
    const fy = Math.max((y + 0.5) * sy - 0.5, 0);
    const y0 = Math.min(Math.floor(fy), h - 1);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    const r0 = y0 * w;
    const r1 = y1 * w;
    for (let x = 0; x < outW; x++) {
      const a = x0s[x] as number;
      const b = x1s[x] as number;
      const wx = fxs[x] as number;
      const top = (src[r0 + a] as number) * (1 - wx) + (src[r0 + b] as number) * wx;
      const bot = (src[r1 + a] as number) * (1 - wx) + (src[r1 + b] as number) * wx;
      out[y * outW + x] = top * (1 - wy) + bot * wy;
    }
  }
  return out;
}

export interface WriteMaskOptions {
  /** Foreground where the 8-bit probability > 255·threshold. Default 0.5 (the reference's > 127). */
  threshold?: number;
  /** Where the 8-bit probability PNG goes. Default `<stem>_prob.png` next to `path`. */
  probPath?: string;
  /** The original image, needed for the overlay. Without it no overlay is written. */
  imagePath?: string;
  /** Where the overlay goes. Default `<stem>_overlay.png` next to `path`. */
  overlayPath?: string;
  /** Tint of the mask in the overlay, RGB 0-255. Default red. */
  colour?: readonly [number, number, number];
  /** Tint opacity 0-1. Default 0.45. */
  opacity?: number;
}

export interface WrittenMask {
  mask: string;
  prob: string;
  overlay?: string;
  /** Foreground pixels in the written mask. */
  foreground: number;
}

function siblingPath(p: string, suffix: string): string {
  const ext = path.extname(p);
  return `${ext === '' ? p : p.slice(0, -ext.length)}${suffix}.png`;
}

async function writeGrayPng(file: string, pixels: Uint8Array, w: number, h: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  try {
    await sharp(pixels, { raw: { width: w, height: h, channels: 1 } })
      .toColourspace('b-w')
      .png({ compressionLevel: 6 })
      .toFile(file);
  } catch (err) {
    throw new ImageError(file, `cannot write PNG: ${errMessage(err)}`, { cause: err });
  }
}

/** torchvision `save_image`'s 8 bits: `mul(255).add_(0.5).clamp_(0, 255).to(uint8)`, in float32 (NaN -> 0). */
export function quantize8(p: Float32Array): Uint8Array {
  const out = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const v = Math.fround(Math.fround(p[i]! * 255) + 0.5);
    out[i] = v >= 255 ? 255 : v > 0 ? Math.trunc(v) : 0;
  }
  return out;
}

/**
 * Writes a predicted probability map (w x h, values in [0, 1]) back at the original image
 * size: resized bilinearly (half-pixel centres) when the sizes differ, then as
 * `writePredictionPngs`. The evaluation protocols' resize (bicubic, as the reference) lives in
 * src/inference/protocols.ts, which hands its 8-bit map to `writePredictionPngs` directly.
 */
export async function writeMaskPng(
  file: string,
  probs: Float32Array,
  w: number,
  h: number,
  origW: number,
  origH: number,
  opts: WriteMaskOptions = {},
): Promise<WrittenMask> {
  if (probs.length !== w * h) throw new RangeError(`writeMaskPng: got ${probs.length} values for ${w}x${h}`);
  if (!(origW > 0 && origH > 0)) throw new RangeError(`writeMaskPng: invalid original size ${origW}x${origH}`);
  const big = w === origW && h === origH ? probs : resizeBilinear(probs, w, h, origW, origH);
  return writePredictionPngs(file, quantize8(big), origW, origH, opts);
}

/**
 * Writes an 8-bit probability map at the original image size (`prob8`, what the reference's
 * `save_image` stores) as: a binary mask PNG (0/255, foreground where prob8 > 255·threshold:
 * the reference's `> 127` at 0.5) at `file`, the 8-bit probability PNG, and, when `imagePath`
 * is given, an overlay PNG (the image with the mask tinted).
 */
export async function writePredictionPngs(
  file: string,
  prob8: Uint8Array,
  origW: number,
  origH: number,
  opts: WriteMaskOptions = {},
): Promise<WrittenMask> {
  const n = origW * origH;
  if (!(origW > 0 && origH > 0) || prob8.length !== n)
    throw new RangeError(`writePredictionPngs: got ${prob8.length} values for ${origW}x${origH}`);
  const level = (opts.threshold ?? 0.5) * 255;
  const mask = new Uint8Array(n);
  let foreground = 0;
  for (let i = 0; i < n; i++) {
    const fg = prob8[i]! > level;
    mask[i] = fg ? 255 : 0;
    if (fg) foreground++;
  }
  const probPath = opts.probPath ?? siblingPath(file, '_prob');
  await writeGrayPng(file, mask, origW, origH);
  await writeGrayPng(probPath, prob8, origW, origH);
  const written: WrittenMask = { mask: file, prob: probPath, foreground };
  if (opts.imagePath !== undefined) {
    const overlayPath = opts.overlayPath ?? siblingPath(file, '_overlay');
    const { image } = await openImage(opts.imagePath);
    let data: Buffer;
    try {
      data = await image.removeAlpha().resize(origW, origH, { fit: 'fill', kernel: 'cubic' }).toColourspace('srgb').raw().toBuffer();
    } catch (err) {
      throw new ImageError(opts.imagePath, `cannot decode image: ${errMessage(err)}`, { cause: err });
    }
    const [cr, cg, cb] = opts.colour ?? [255, 0, 0];
    const a = opts.opacity ?? 0.45;
    const rgb = new Uint8Array(n * 3);
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      const r = data[j] as number;
      const g = data[j + 1] as number;
      const b = data[j + 2] as number;
      if (mask[i] !== 0) {
        rgb[j] = Math.round(r * (1 - a) + cr * a);
        rgb[j + 1] = Math.round(g * (1 - a) + cg * a);
        rgb[j + 2] = Math.round(b * (1 - a) + cb * a);
      } else {
        rgb[j] = r;
        rgb[j + 1] = g;
        rgb[j + 2] = b;
      }
    }
    await fs.mkdir(path.dirname(overlayPath), { recursive: true });
    try {
      await sharp(rgb, { raw: { width: origW, height: origH, channels: 3 } })
        .png()
        .toFile(overlayPath);
    } catch (err) {
      throw new ImageError(overlayPath, `cannot write PNG: ${errMessage(err)}`, { cause: err });
    }
    written.overlay = overlayPath;
  }
  return written;
}
