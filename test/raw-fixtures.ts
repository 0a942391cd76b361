// Miniature raw datasets for the convert/import tests: images, masks and label maps written at
// test time in the formats the public distributions use (TIFF, palette PNG, MetaImage, NIfTI, RLE).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';

export type Fn = (x: number, y: number) => number;

export async function put(file: string, data: Buffer | string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, data);
}

/** An RGB image with a seed-dependent pattern, in the format of the file's extension. */
export async function rgbImage(file: string, w: number, h: number, seed = 1): Promise<void> {
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * (seed + 7) + (i >> 5)) % 251;
  await writeRaw(file, px, w, h, 3);
}

/** A one-channel image of fn(x, y) (masks, label maps) in the format of the file's extension. */
export async function grayImage(file: string, w: number, h: number, fn: Fn): Promise<void> {
  const px = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = fn(x, y);
  await writeRaw(file, px, w, h, 1);
}

/** An RGB image whose pixel colour is fn(x, y) as [r, g, b] (colour-coded masks). */
export async function colourImage(
  file: string,
  w: number,
  h: number,
  fn: (x: number, y: number) => [number, number, number],
): Promise<void> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set(fn(x, y), (y * w + x) * 3);
  await writeRaw(file, px, w, h, 3);
}

async function writeRaw(file: string, px: Buffer, w: number, h: number, channels: 1 | 3): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  let s = sharp(px, { raw: { width: w, height: h, channels } });
  if (channels === 1) s = s.toColourspace('b-w');
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') await s.png().toFile(file);
  else if (ext === '.tif' || ext === '.tiff') await s.tiff().toFile(file);
  else await s.jpeg({ quality: 95 }).toFile(file);
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A palette (colour type 3) PNG of indices fn(x, y) with the given palette, as VOC ships them. */
export async function palettePng(file: string, w: number, h: number, palette: readonly [number, number, number][], fn: Fn): Promise<void> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 3;
  const rows = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rows[y * (w + 1) + 1 + x] = fn(x, y);
  const plte = Buffer.from(palette.flat());
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('PLTE', plte),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  await put(file, png);
}

/** A 2-D MetaImage (`.mhd` + `.raw`, MET_UCHAR), as CAMUS 2019 ships its frames. */
export async function metaImage(file: string, w: number, h: number, fn: Fn): Promise<void> {
  const raw = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[y * w + x] = fn(x, y);
  const rawName = `${path.basename(file, '.mhd')}.raw`;
  await put(
    file,
    `ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\nCompressedData = False\nDimSize = ${w} ${h} 1\nElementType = MET_UCHAR\nElementDataFile = ${rawName}\n`,
  );
  await put(path.join(path.dirname(file), rawName), raw);
}

/** A 2-D NIfTI-1 frame (`.nii.gz`, uint8), as CAMUS 2023 ships its frames. */
export async function niftiGz(file: string, w: number, h: number, fn: Fn): Promise<void> {
  const hdr = Buffer.alloc(352);
  hdr.writeInt32LE(348, 0);
  const dims = [3, w, h, 1, 1, 1, 1, 1];
  dims.forEach((d, i) => hdr.writeInt16LE(d, 40 + 2 * i));
  hdr.writeInt16LE(2, 70);
  hdr.writeInt16LE(8, 72);
  hdr.writeFloatLE(352, 108);
  hdr.writeFloatLE(1, 112);
  hdr.write('n+1\0', 344, 'latin1');
  const data = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = fn(x, y);
  await put(file, gzipSync(Buffer.concat([hdr, data])));
}

/** COCO compressed RLE of a row-major binary mask (column-major runs, starting with 0s). */
export function cocoRle(mask: (x: number, y: number) => boolean, w: number, h: number): string {
  const runs: number[] = [];
  let cur = false;
  let n = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = mask(x, y);
      if (v !== cur) {
        runs.push(n);
        n = 0;
        cur = v;
      }
      n++;
    }
  }
  runs.push(n);
  let s = '';
  runs.forEach((c, i) => {
    let x = i > 2 ? c - (runs[i - 2] as number) : c;
    let more = true;
    while (more) {
      let ch = x & 0x1f;
      x >>= 5;
      more = ch & 0x10 ? x !== -1 : x !== 0;
      if (more) ch |= 0x20;
      s += String.fromCharCode(ch + 48);
    }
  });
  return s;
}

/**
 * CVC-ClinicDB's `Original/<n>.tif` header, byte by byte: little-endian baseline TIFF, one
 * uncompressed strip, chunky samples, PhotometricInterpretation 1 (BlackIsZero) but
 * SamplesPerPixel 3 of 8 bits and no ExtraSamples tag; the samples are R, G, B of fn(x, y).
 * `samples: 4` adds a fourth sample (alpha) the same way, still without ExtraSamples.
 */
export function greyTaggedRgbTiff(w: number, h: number, fn: (x: number, y: number) => number[], samples: 3 | 4 = 3): Buffer {
  const pixels = Buffer.alloc(w * h * samples);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) pixels.set(fn(x, y).slice(0, samples), (y * w + x) * samples);
  const tags: [number, number, number, number][] = [
    // tag, type (3 SHORT, 4 LONG), count, value (or offset, filled below)
    [256, 3, 1, w], // ImageWidth
    [257, 3, 1, h], // ImageLength
    [258, 3, samples, 0], // BitsPerSample: 8 per sample, stored after the IFD
    [259, 3, 1, 1], // Compression: none
    [262, 3, 1, 1], // PhotometricInterpretation: 1 = BlackIsZero (says grey)
    [273, 4, 1, 8], // StripOffsets: the pixels follow the 8-byte header
    [277, 3, 1, samples], // SamplesPerPixel
    [278, 3, 1, h], // RowsPerStrip: one strip
    [279, 4, 1, pixels.length], // StripByteCounts
    [284, 3, 1, 1], // PlanarConfiguration: chunky
  ];
  const ifdAt = 8 + pixels.length + (pixels.length % 2);
  const bitsAt = ifdAt + 2 + tags.length * 12 + 4;
  const ifd = Buffer.alloc(2 + tags.length * 12 + 4 + samples * 2);
  ifd.writeUInt16LE(tags.length, 0);
  tags.forEach(([tag, type, count, value], i) => {
    const o = 2 + i * 12;
    ifd.writeUInt16LE(tag, o);
    ifd.writeUInt16LE(type, o + 2);
    ifd.writeUInt32LE(count, o + 4);
    if (tag === 258) ifd.writeUInt32LE(bitsAt, o + 8);
    else if (type === 3) ifd.writeUInt16LE(value, o + 8);
    else ifd.writeUInt32LE(value, o + 8);
  });
  ifd.writeUInt32LE(0, 2 + tags.length * 12); // no next IFD
  for (let s = 0; s < samples; s++) ifd.writeUInt16LE(8, 2 + tags.length * 12 + 4 + s * 2);
  const head = Buffer.from([0x49, 0x49, 42, 0, 0, 0, 0, 0]);
  head.writeUInt32LE(ifdAt, 4);
  return Buffer.concat([head, pixels, Buffer.alloc(pixels.length % 2), ifd]);
}

/** A PNG of raw interleaved 8-bit pixels (1-4 channels) as they are (RGBA kept, nothing converted). */
export async function rawPng(
  file: string,
  w: number,
  h: number,
  channels: 1 | 2 | 3 | 4,
  fn: (x: number, y: number) => number[],
): Promise<void> {
  const px = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set(fn(x, y).slice(0, channels), (y * w + x) * channels);
  await fs.mkdir(path.dirname(file), { recursive: true });
  let s = sharp(px, { raw: { width: w, height: h, channels } });
  if (channels <= 2) s = s.toColourspace('b-w');
  await s.png().toFile(file);
}
