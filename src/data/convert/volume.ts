/**
 * 2-D frames from the medical formats CAMUS ships: MetaImage (`.mhd` + `.raw`, the 2019
 * release) and NIfTI-1 (`.nii`, `.nii.gz`, the 2023 release). Only what those frames use:
 * one 2-D slice (a third dimension of 1), integer or float voxels, raw or zlib/gzip data.
 * Voxels are returned in file order (x fastest), so an image and its label map line up.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';

export interface Frame {
  /** Voxel values, row-major, width x height. */
  values: Float64Array;
  width: number;
  height: number;
}

export class FrameError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'FrameError';
  }
}

type Reader = (buf: Buffer, offset: number, n: number, little: boolean) => Float64Array;

function reader(bytes: number, get: (b: Buffer, o: number, little: boolean) => number): { bytes: number; read: Reader } {
  return {
    bytes,
    read: (buf, offset, n, little) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = get(buf, offset + i * bytes, little);
      return out;
    },
  };
}

const META_TYPES: Record<string, ReturnType<typeof reader>> = {
  MET_UCHAR: reader(1, (b, o) => b.readUInt8(o)),
  MET_CHAR: reader(1, (b, o) => b.readInt8(o)),
  MET_USHORT: reader(2, (b, o, l) => (l ? b.readUInt16LE(o) : b.readUInt16BE(o))),
  MET_SHORT: reader(2, (b, o, l) => (l ? b.readInt16LE(o) : b.readInt16BE(o))),
  MET_UINT: reader(4, (b, o, l) => (l ? b.readUInt32LE(o) : b.readUInt32BE(o))),
  MET_INT: reader(4, (b, o, l) => (l ? b.readInt32LE(o) : b.readInt32BE(o))),
  MET_FLOAT: reader(4, (b, o, l) => (l ? b.readFloatLE(o) : b.readFloatBE(o))),
  MET_DOUBLE: reader(8, (b, o, l) => (l ? b.readDoubleLE(o) : b.readDoubleBE(o))),
};

/** Reads a 2-D MetaImage (`.mhd` header naming its data file, or `.mha` with LOCAL data). */
export async function readMetaImage(file: string): Promise<Frame> {
  const head = await fs.readFile(file).catch((err: Error) => Promise.reject(new FrameError(file, `cannot read (${err.message})`)));
  const fields = new Map<string, string>();
  let dataStart = -1;
  let pos = 0;
  while (pos < head.length) {
    const nl = head.indexOf(0x0a, pos);
    const end = nl === -1 ? head.length : nl;
    const line = head.subarray(pos, end).toString('latin1').trim();
    pos = end + 1;
    const eq = line.indexOf('=');
    if (eq === -1) continue;
    const key = line.slice(0, eq).trim();
    fields.set(key, line.slice(eq + 1).trim());
    if (key === 'ElementDataFile') {
      dataStart = pos;
      break;
    }
  }
  const dims = (fields.get('DimSize') ?? '').split(/\s+/).map(Number);
  const type = fields.get('ElementType') ?? '';
  const dataFile = fields.get('ElementDataFile');
  const t = META_TYPES[type];
  if (t === undefined)
    throw new FrameError(file, `ElementType ${JSON.stringify(type)} not supported (expected one of ${Object.keys(META_TYPES).join(', ')})`);
  if (dataFile === undefined) throw new FrameError(file, 'no ElementDataFile field');
  if (dims.length < 2 || dims.slice(2).some((d) => d !== 1) || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new FrameError(file, `DimSize ${JSON.stringify(fields.get('DimSize'))} is not a 2-D frame`);
  }
  const [width, height] = dims as [number, number];
  let data: Buffer =
    dataFile === 'LOCAL'
      ? head.subarray(dataStart)
      : await fs
          .readFile(path.join(path.dirname(file), dataFile))
          .catch((err: Error) => Promise.reject(new FrameError(file, `cannot read its data file ${dataFile} (${err.message})`)));
  if (/^true$/i.test(fields.get('CompressedData') ?? 'False')) data = inflateSync(data);
  const little = !/^true$/i.test(fields.get('BinaryDataByteOrderMSB') ?? fields.get('ElementByteOrderMSB') ?? 'False');
  const n = width * height;
  if (data.length < n * t.bytes)
    throw new FrameError(file, `data holds ${data.length} bytes, expected ${n * t.bytes} for ${width}x${height} ${type}`);
  return { values: t.read(data, data.length - n * t.bytes, n, little), width, height };
}

const NIFTI_TYPES: Record<number, ReturnType<typeof reader>> = {
  2: META_TYPES.MET_UCHAR as ReturnType<typeof reader>,
  4: META_TYPES.MET_SHORT as ReturnType<typeof reader>,
  8: META_TYPES.MET_INT as ReturnType<typeof reader>,
  16: META_TYPES.MET_FLOAT as ReturnType<typeof reader>,
  64: META_TYPES.MET_DOUBLE as ReturnType<typeof reader>,
  256: META_TYPES.MET_CHAR as ReturnType<typeof reader>,
  512: META_TYPES.MET_USHORT as ReturnType<typeof reader>,
  768: META_TYPES.MET_UINT as ReturnType<typeof reader>,
};

/** Reads a 2-D NIfTI-1 frame (`.nii`, or gzip-compressed `.nii.gz`); scl_slope/inter applied. */
export async function readNifti(file: string): Promise<Frame> {
  let buf = await fs.readFile(file).catch((err: Error) => Promise.reject(new FrameError(file, `cannot read (${err.message})`)));
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  if (buf.length < 348) throw new FrameError(file, 'too short for a NIfTI-1 header');
  const little = buf.readInt32LE(0) === 348;
  if (!little && buf.readInt32BE(0) !== 348) throw new FrameError(file, 'not a NIfTI-1 file (sizeof_hdr is not 348)');
  const i16 = (o: number) => (little ? buf.readInt16LE(o) : buf.readInt16BE(o));
  const f32 = (o: number) => (little ? buf.readFloatLE(o) : buf.readFloatBE(o));
  const ndim = i16(40);
  const dims = Array.from({ length: ndim }, (_, k) => i16(42 + 2 * k));
  if (ndim < 2 || dims.slice(2).some((d) => d !== 1)) throw new FrameError(file, `dimensions ${dims.join('x')} are not a 2-D frame`);
  const datatype = i16(70);
  const t = NIFTI_TYPES[datatype];
  if (t === undefined) throw new FrameError(file, `NIfTI datatype ${datatype} not supported`);
  const offset = Math.max(352, Math.round(f32(108)));
  const [width, height] = dims as [number, number];
  const n = width * height;
  if (buf.length < offset + n * t.bytes) throw new FrameError(file, `data is shorter than ${width}x${height} voxels`);
  const values = t.read(buf, offset, n, little);
  const slope = f32(112);
  const inter = f32(116);
  if (slope !== 0 && Number.isFinite(slope) && (slope !== 1 || inter !== 0))
    for (let i = 0; i < n; i++) values[i] = (values[i] as number) * slope + inter;
  return { values, width, height };
}

/** A frame's values stretched to 8-bit gray (min..max -> 0..255; 8-bit data kept as is). */
export function frameToGray(f: Frame): Uint8Array {
  let min = Infinity;
  let max = -Infinity;
  for (const v of f.values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Uint8Array(f.values.length);
  const keep = min >= 0 && max <= 255;
  const scale = max > min ? 255 / (max - min) : 0;
  for (let i = 0; i < out.length; i++) {
    const v = f.values[i] as number;
    out[i] = keep ? Math.round(v) : Math.round((v - min) * scale);
  }
  return out;
}
