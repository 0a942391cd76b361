/**
 * Palette ("indexed", colour type 3) PNGs, read and written at the chunk level: libvips
 * expands palettes to RGB on read and quantises on write, and a label map needs its exact
 * indices both ways (VOC-style masks in, `predict --prompts` label maps out).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The PLTE colours of a palette PNG (empty for any other file), from its chunks. */
export function pngPalette(buf: Buffer): [number, number, number][] {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) return [];
  let p = 8;
  let colourType = -1;
  while (p + 8 <= buf.length) {
    const len = buf.readUInt32BE(p);
    const type = buf.toString('latin1', p + 4, p + 8);
    if (type === 'IHDR') colourType = buf[p + 8 + 9] ?? -1;
    if (type === 'PLTE' && colourType === 3) {
      const out: [number, number, number][] = [];
      for (let i = 0; i + 2 < len; i += 3) out.push([buf[p + 8 + i] as number, buf[p + 9 + i] as number, buf[p + 10 + i] as number]);
      return out;
    }
    if (type === 'IDAT' || type === 'IEND') break;
    p += 12 + len;
  }
  return [];
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * Writes an 8-bit palette PNG of `indices` (row-major, width x height) with `palette`
 * (index -> RGB). `text` entries become tEXt chunks (e.g. the legend of a label map).
 */
export async function writeIndexedPng(
  file: string,
  indices: Uint8Array,
  width: number,
  height: number,
  palette: readonly (readonly [number, number, number])[],
  text: Readonly<Record<string, string>> = {},
): Promise<void> {
  if (indices.length !== width * height) throw new RangeError(`writeIndexedPng: ${indices.length} indices for ${width}x${height}`);
  if (palette.length === 0 || palette.length > 256) throw new RangeError(`writeIndexedPng: palette of ${palette.length} colours (1-256)`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 3; // colour type: palette
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) rows.set(indices.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const texts = Object.entries(text).map(([k, v]) => chunk('tEXt', Buffer.from(`${k}\0${v}`, 'latin1')));
  const png = Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.from(palette.flat())),
    ...texts,
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, png);
}
