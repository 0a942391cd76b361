/**
 * A minimal Windows BMP decoder: the prebuilt libvips that sharp ships has no BMP loader,
 * and some medical datasets are distributed as .bmp. Supports uncompressed (BI_RGB) 1/4/8-bit
 * palette images and 16/24/32-bit images, BI_BITFIELDS masks, bottom-up and top-down rows.
 * RLE-compressed and embedded JPEG/PNG BMPs are rejected with a clear message.
 */

export interface BmpImage {
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA, only when the file has a meaningful alpha mask). */
  channels: 3 | 4;
  data: Uint8Array;
}

export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 26 && buf[0] === 0x42 && buf[1] === 0x4d;
}

function maskShift(mask: number): { shift: number; bits: number } {
  if (mask === 0) return { shift: 0, bits: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (((mask >>> (shift + bits)) & 1) === 1) bits++;
  return { shift, bits };
}

function scaleTo8(value: number, bits: number): number {
  if (bits === 0) return 0;
  if (bits >= 8) return value >>> (bits - 8);
  return Math.round((value * 255) / ((1 << bits) - 1));
}

/** Decodes a BMP file; throws an Error saying what is wrong with it. */
export function decodeBmp(buf: Uint8Array): BmpImage {
  if (!isBmp(buf)) throw new Error('not a BMP file');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const need = (n: number, what: string): void => {
    if (n > buf.length) throw new Error(`truncated BMP (${what})`);
  };
  need(18, 'file header');
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  need(14 + headerSize, 'info header');
  let width: number;
  let height: number;
  let bpp: number;
  let compression = 0;
  let colorsUsed = 0;
  if (headerSize === 12) {
    width = dv.getUint16(18, true);
    height = dv.getInt16(20, true);
    bpp = dv.getUint16(24, true);
  } else if (headerSize >= 40) {
    width = dv.getInt32(18, true);
    height = dv.getInt32(22, true);
    bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true);
    colorsUsed = dv.getUint32(46, true);
  } else {
    throw new Error(`unsupported BMP header size ${headerSize}`);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0 || width > 65535 || height > 65535) {
    throw new Error(`invalid BMP size ${width}x${height}`);
  }
  // Channel masks: defaults for BI_RGB, explicit for BI_BITFIELDS (3) / BI_ALPHABITFIELDS (6).
  let masks: [number, number, number, number] | null = null;
  if (compression === 3 || compression === 6) {
    const at = headerSize >= 52 ? 14 + 40 : 14 + headerSize;
    need(at + (compression === 6 || headerSize >= 56 ? 16 : 12), 'bit masks');
    const a = compression === 6 || headerSize >= 56 ? dv.getUint32(at + 12, true) : 0;
    masks = [dv.getUint32(at, true), dv.getUint32(at + 4, true), dv.getUint32(at + 8, true), a];
  } else if (compression !== 0) {
    const names: Record<number, string> = { 1: 'RLE8', 2: 'RLE4', 4: 'JPEG', 5: 'PNG' };
    throw new Error(`unsupported BMP compression ${names[compression] ?? compression}`);
  }
  if (masks === null) {
    if (bpp === 16) masks = [0x7c00, 0x03e0, 0x001f, 0];
    else if (bpp === 32) masks = [0x00ff0000, 0x0000ff00, 0x000000ff, 0];
  }
  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    if (![1, 4, 8].includes(bpp)) throw new Error(`unsupported BMP bit depth ${bpp}`);
    const n = colorsUsed > 0 ? colorsUsed : 1 << bpp;
    const entry = headerSize === 12 ? 3 : 4;
    const at = 14 + headerSize;
    need(at + n * entry, 'palette');
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < Math.min(n, 256); i++) {
      palette[i * 3] = buf[at + i * entry + 2] as number;
      palette[i * 3 + 1] = buf[at + i * entry + 1] as number;
      palette[i * 3 + 2] = buf[at + i * entry] as number;
    }
  } else if (![16, 24, 32].includes(bpp)) {
    throw new Error(`unsupported BMP bit depth ${bpp}`);
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  need(dataOffset + stride * (height - 1) + Math.ceil((bpp * width) / 8), 'pixel data');
  const m = masks ?? [0, 0, 0, 0];
  const [rs, gs, bs, as] = m.map(maskShift) as [
    ReturnType<typeof maskShift>,
    ReturnType<typeof maskShift>,
    ReturnType<typeof maskShift>,
    ReturnType<typeof maskShift>,
  ];
  // Alpha is only kept if some pixel has a non-zero alpha (many writers leave it 0).
  let hasAlpha = false;
  if (as.bits > 0) {
    for (let y = 0; y < height && !hasAlpha; y++) {
      const row = dataOffset + y * stride;
      for (let x = 0; x < width; x++) {
        const v = bpp === 32 ? dv.getUint32(row + x * 4, true) : dv.getUint16(row + x * 2, true);
        if ((v & m[3]) >>> as.shift !== 0) {
          hasAlpha = true;
          break;
        }
      }
    }
  }
  const channels = hasAlpha ? 4 : 3;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * channels;
    for (let x = 0; x < width; x++, o += channels) {
      if (palette !== null) {
        const bitPos = x * bpp;
        const byte = buf[row + (bitPos >> 3)] as number;
        const idx = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        out[o] = palette[idx * 3] as number;
        out[o + 1] = palette[idx * 3 + 1] as number;
        out[o + 2] = palette[idx * 3 + 2] as number;
      } else if (bpp === 24) {
        const p = row + x * 3;
        out[o] = buf[p + 2] as number;
        out[o + 1] = buf[p + 1] as number;
        out[o + 2] = buf[p] as number;
      } else {
        const v = bpp === 32 ? dv.getUint32(row + x * 4, true) : dv.getUint16(row + x * 2, true);
        out[o] = scaleTo8((v & m[0]) >>> rs.shift, rs.bits);
        out[o + 1] = scaleTo8((v & m[1]) >>> gs.shift, gs.bits);
        out[o + 2] = scaleTo8((v & m[2]) >>> bs.shift, bs.bits);
        if (hasAlpha) out[o + 3] = scaleTo8((v & m[3]) >>> as.shift, as.bits);
      }
    }
  }
  return { width, height, channels, data: out };
}
