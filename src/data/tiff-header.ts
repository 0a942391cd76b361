/**
 * TIFF headers that disagree with their own pixels, found and mended before libvips reads them.
 *
 * CVC-ClinicDB's 612 `Original/*.tif` say PhotometricInterpretation 1 (BlackIsZero: grey) but
 * hold SamplesPerPixel 3 of 8 bits, chunky, with no ExtraSamples: the samples are R, G, B.
 * libtiff warns ("Sum of Photometric type-related color channels and ExtraSamples doesn't
 * match SamplesPerPixel") and libvips then reads one grey band plus two "extra" bands; there is
 * no loader option to override the tag (vips tiffload has page, n, subifd, autorotate,
 * unlimited, fail_on). So the header is mended instead: the file's bytes are copied with the
 * photometric tag set to RGB (and, for a fourth colour sample, an ExtraSamples tag naming it
 * alpha), and libvips decodes that copy with its strictness intact (compression, strips,
 * tiles, orientation: everything else is the file's own). Only the first IFD (the page every
 * reader decodes) is looked at; BigTIFF is left as it is.
 */
import { promises as fs } from 'node:fs';

const TAG = { bitsPerSample: 258, photometric: 262, samplesPerPixel: 277, extraSamples: 338 } as const;
const SHORT = 3;
const LONG = 4;
/** Bytes per value of the TIFF field types an IFD entry may use (1-12). */
const TYPE_SIZE = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8];
const PHOTOMETRIC_NAMES: Record<number, string> = {
  0: 'WhiteIsZero, grey',
  1: 'BlackIsZero, grey',
  2: 'RGB',
  3: 'palette',
  5: 'CMYK',
  6: 'YCbCr',
};

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** Offset of the entry in the file. */
  at: number;
  /** Its 4-byte value (or offset of the value) field. */
  field: Uint8Array;
}

/** What the first IFD says about the samples. */
export interface TiffSamples {
  littleEndian: boolean;
  ifdOffset: number;
  entries: Entry[];
  /** Offset of the 4-byte link to the next IFD. */
  nextLinkAt: number;
  photometric: number;
  samplesPerPixel: number;
  bitsPerSample: number[];
  extraSamples: number;
}

/** A header fix: the new photometric value and whether an alpha ExtraSamples tag is added. */
export interface TiffFix {
  /** What is wrong, for messages (the same text for every file with the same problem). */
  problem: string;
  photometric: number;
  addAlpha: boolean;
}

export function isTiff(buf: Uint8Array): boolean {
  return (
    buf.length >= 8 &&
    ((buf[0] === 0x49 && buf[1] === 0x49 && buf[2] === 42 && buf[3] === 0) ||
      (buf[0] === 0x4d && buf[1] === 0x4d && buf[2] === 0 && buf[3] === 42))
  );
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The first IFD's sample tags, or null for anything that is not a readable classic TIFF. */
export async function readTiffSamples(read: ReadAt): Promise<TiffSamples | null> {
  const head = await read(0, 8);
  if (!isTiff(head)) return null;
  const le = head[0] === 0x49;
  const ifdOffset = view(head).getUint32(4, le);
  const countBytes = await read(ifdOffset, 2);
  if (countBytes.length < 2) return null;
  const n = view(countBytes).getUint16(0, le);
  const ifd = await read(ifdOffset + 2, n * 12 + 4);
  if (ifd.length < n * 12 + 4) return null;
  const dv = view(ifd);
  const entries: Entry[] = [];
  const value = async (e: Entry): Promise<number[]> => {
    const size = TYPE_SIZE[e.type] ?? 0;
    if ((e.type !== SHORT && e.type !== LONG) || e.count === 0) return [];
    const bytes = size * e.count <= 4 ? e.field : await read(view(e.field).getUint32(0, le), size * e.count);
    const v = view(bytes);
    const out: number[] = [];
    for (let i = 0; i < e.count && (i + 1) * size <= bytes.length; i++)
      out.push(size === 2 ? v.getUint16(i * 2, le) : v.getUint32(i * 4, le));
    return out;
  };
  for (let i = 0; i < n; i++) {
    entries.push({
      tag: dv.getUint16(i * 12, le),
      type: dv.getUint16(i * 12 + 2, le),
      count: dv.getUint32(i * 12 + 4, le),
      at: ifdOffset + 2 + i * 12,
      field: ifd.subarray(i * 12 + 8, i * 12 + 12),
    });
  }
  const first = async (tag: number, fallback: number): Promise<number> => {
    const e = entries.find((x) => x.tag === tag);
    return e === undefined ? fallback : ((await value(e))[0] ?? fallback);
  };
  const bitsEntry = entries.find((x) => x.tag === TAG.bitsPerSample);
  const extraEntry = entries.find((x) => x.tag === TAG.extraSamples);
  return {
    littleEndian: le,
    ifdOffset,
    entries,
    nextLinkAt: ifdOffset + 2 + n * 12,
    photometric: await first(TAG.photometric, -1),
    samplesPerPixel: await first(TAG.samplesPerPixel, 1),
    bitsPerSample: bitsEntry === undefined ? [1] : await value(bitsEntry),
    extraSamples: extraEntry?.count ?? 0,
  };
}

/**
 * The fix a header needs, or null when its tags agree (or the case is not one read safely by
 * its samples): a grey photometric (0, 1) over 3 or 4 colour samples becomes RGB (RGBA), and
 * RGB over 4 samples without ExtraSamples gets the fourth named alpha. 8 or 16 bits only.
 */
export function tiffFix(t: TiffSamples): TiffFix | null {
  const colour = t.samplesPerPixel - t.extraSamples;
  const bits = t.bitsPerSample;
  const depth = bits[0];
  if ((depth !== 8 && depth !== 16) || bits.some((b) => b !== depth)) return null;
  const said = `PhotometricInterpretation ${t.photometric} (${PHOTOMETRIC_NAMES[t.photometric] ?? 'unknown'})`;
  const holds = `SamplesPerPixel ${t.samplesPerPixel} of ${depth} bits and ${t.extraSamples === 0 ? 'no' : t.extraSamples} ExtraSamples`;
  if ((t.photometric === 0 || t.photometric === 1) && (colour === 3 || colour === 4)) {
    return {
      problem: `TIFF header says ${said} but holds ${holds}: read by its samples as ${colour === 3 ? 'RGB' : 'RGBA'}`,
      photometric: 2,
      addAlpha: colour === 4,
    };
  }
  if (t.photometric === 2 && colour === 4) {
    return {
      problem: `TIFF header says ${said} but holds ${holds}: the fourth sample read as alpha (RGBA)`,
      photometric: 2,
      addAlpha: true,
    };
  }
  return null;
}

/** A copy of the file's bytes with the fix applied (the original buffer is not touched). */
export function applyTiffFix(buf: Buffer, t: TiffSamples, fix: TiffFix): Buffer {
  const le = t.littleEndian;
  const photo = t.entries.find((e) => e.tag === TAG.photometric);
  if (!fix.addAlpha && photo !== undefined && photo.type === SHORT) {
    const out = Buffer.from(buf);
    view(out).setUint16(photo.at + 8, fix.photometric, le);
    return out;
  }
  // A new first IFD at the end of the file: every entry as it was (their out-of-line values
  // keep their absolute offsets), photometric replaced, ExtraSamples added, sorted by tag.
  const rows = t.entries
    .filter((e) => e.tag !== TAG.photometric && !(fix.addAlpha && e.tag === TAG.extraSamples))
    .map((e) => ({ tag: e.tag, bytes: buf.subarray(e.at, e.at + 12) }));
  const short = (tag: number, v: number): { tag: number; bytes: Buffer } => {
    const b = Buffer.alloc(12);
    const dv = view(b);
    dv.setUint16(0, tag, le);
    dv.setUint16(2, SHORT, le);
    dv.setUint32(4, 1, le);
    dv.setUint16(8, v, le);
    return { tag, bytes: b };
  };
  rows.push(short(TAG.photometric, fix.photometric));
  // ExtraSamples 2: unassociated alpha (what an RGBA photo's fourth sample is).
  if (fix.addAlpha) rows.push(short(TAG.extraSamples, 2));
  rows.sort((a, b) => a.tag - b.tag);
  const start = buf.length + (buf.length % 2);
  const ifd = Buffer.alloc(2 + rows.length * 12 + 4);
  view(ifd).setUint16(0, rows.length, le);
  rows.forEach((r, i) => r.bytes.copy(ifd, 2 + i * 12));
  buf.copy(ifd, 2 + rows.length * 12, t.nextLinkAt, t.nextLinkAt + 4);
  const out = Buffer.concat([buf, Buffer.alloc(start - buf.length), ifd]);
  view(out).setUint32(4, start, le);
  return out;
}

/** The bytes to decode and what was mended (null: the file as it is). */
export async function mendTiff(buf: Buffer): Promise<{ buf: Buffer; problem: string } | null> {
  if (!isTiff(buf)) return null;
  const t = await readTiffSamples(async (o, l) => buf.subarray(o, o + l));
  const fix = t === null ? null : tiffFix(t);
  return t === null || fix === null ? null : { buf: applyTiffFix(buf, t, fix), problem: fix.problem };
}

/** The header problem of a file on disk (reading its header only), or null. */
export async function tiffFileProblem(file: string): Promise<string | null> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch {
    return null;
  }
  try {
    const t = await readTiffSamples(async (offset, length) => {
      const b = Buffer.alloc(length);
      const { bytesRead } = await fh.read(b, 0, length, offset);
      return b.subarray(0, bytesRead);
    });
    return t === null ? null : (tiffFix(t)?.problem ?? null);
  } finally {
    await fh.close();
  }
}
