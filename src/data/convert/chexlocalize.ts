/**
 * CheXlocalize (Saporta et al. 2022, Stanford AIMI): radiologist segmentations of 10
 * pathologies on CheXpert's validation and test chest X-rays. The masks come from its JSON:
 * `gt_segmentations_{val,test}.json` (COCO run-length encoding per image and pathology) or, when
 * those are absent, `gt_annotations_{val,test}.json` (polygons, rasterised here). Images are
 * CheXpert's `{val,test}/patient<p>/study<s>/view<v>_<frontal|lateral>.jpg`. Every (image,
 * pathology) with a non-empty mask becomes one entry: image `<id>.jpg`, mask
 * `<id>_<pathology_in_snake_case>.png`, as medvlsm names them.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { hasForeground } from './masks.js';
import { isDir, isFile } from './scan.js';
import { type BinaryMask, type Converter, LayoutError, type MaskOut, type RawSample } from './types.js';

const EXPECTED = [
  'gt_segmentations_val.json and/or gt_segmentations_test.json (or gt_annotations_*.json), at the top or under CheXlocalize/',
  'CheXpert/{val,test}/patient<p>/study<s>/view<v>_{frontal,lateral}.jpg (or {val,test}/... at the top)',
];

/** Decodes a COCO compressed RLE (`counts` string, column-major runs starting with 0s) to a row-major mask. */
export function decodeCocoRle(counts: string, height: number, width: number): BinaryMask {
  const runs: number[] = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      const c = counts.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && (c & 0x10) !== 0) x |= -1 << (5 * k);
    }
    if (runs.length > 2) x += runs[runs.length - 2] as number;
    runs.push(x);
  }
  const data = new Uint8Array(width * height);
  let idx = 0;
  runs.forEach((len, r) => {
    if (r % 2 === 1) {
      for (let j = idx; j < idx + len && j < data.length; j++) {
        const col = Math.floor(j / height);
        const row = j - col * height;
        data[row * width + col] = 255;
      }
    }
    idx += len;
  });
  return { data, width, height };
}

/** Fills polygons ([[x, y], ...] per contour) at width x height, through an SVG rendered by sharp. */
export async function rasterisePolygons(
  contours: readonly (readonly (readonly number[])[])[],
  height: number,
  width: number,
): Promise<BinaryMask> {
  const polys = contours
    .filter((c) => c.length >= 3)
    .map((c) => `<polygon points="${c.map(([x, y]) => `${x},${y}`).join(' ')}" fill="#fff"/>`)
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#000"/>${polys}</svg>`;
  const { data } = await sharp(Buffer.from(svg)).removeAlpha().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = (data[i] as number) > 127 ? 255 : 0;
  return { data: out, width, height };
}

const snake = (s: string): string =>
  s
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_');

type Rle = { size: [number, number]; counts: string };
type SegJson = Record<string, Record<string, Rle>>;
type AnnJson = Record<string, Record<string, unknown> & { img_size?: [number, number] }>;

async function findFirst(root: string, rels: readonly string[], test: (p: string) => Promise<boolean>): Promise<string | null> {
  for (const r of rels) if (await test(path.join(root, r))) return path.join(root, r);
  return null;
}

export const chexlocalize: Converter = {
  name: 'chexlocalize',
  title: 'CheXlocalize chest X-rays (JSON segmentations -> one mask per pathology)',
  expected: EXPECTED,
  paperSizes: { train: 1279, val: 446, test: 452 },
  classes: [
    'Enlarged Cardiomediastinum',
    'Cardiomegaly',
    'Lung Lesion',
    'Airspace Opacity',
    'Edema',
    'Consolidation',
    'Atelectasis',
    'Pneumothorax',
    'Pleural Effusion',
    'Support Devices',
  ],
  groupWord: 'patient',
  async scan(rawDir) {
    const root = path.resolve(rawDir);
    const samples: RawSample[] = [];
    const skipped: string[] = [];
    let found = 0;
    for (const split of ['val', 'test'] as const) {
      const where = ['', 'CheXlocalize', 'cheXlocalize_dataset'];
      const seg = await findFirst(
        root,
        where.map((w) => path.join(w, `gt_segmentations_${split}.json`)),
        isFile,
      );
      const ann =
        seg === null
          ? await findFirst(
              root,
              where.map((w) => path.join(w, `gt_annotations_${split}.json`)),
              isFile,
            )
          : null;
      if (seg === null && ann === null) continue;
      const imgDir = await findFirst(root, [`CheXpert/${split}`, split, `CheXpert-v1.0/${split === 'val' ? 'valid' : 'test'}`], isDir);
      if (imgDir === null) throw new LayoutError('chexlocalize', root, `the ${split} JSON is there but not its images`, EXPECTED);
      found++;
      const jsonFile = (seg ?? ann) as string;
      let json: SegJson | AnnJson;
      try {
        json = JSON.parse(await fs.readFile(jsonFile, 'utf8')) as SegJson | AnnJson;
      } catch (err) {
        throw new Error(`${jsonFile}: cannot read JSON (${err instanceof Error ? err.message : String(err)})`);
      }
      for (const [id, byPathology] of Object.entries(json)) {
        const m = /^(patient\d+)_(study\d+)_(view\d+_[a-z]+)$/.exec(id);
        if (m === null) {
          skipped.push(
            `${path.relative(root, jsonFile)}: key ${JSON.stringify(id)} is not patient<p>_study<s>_view<v>_<frontal|lateral>; left out`,
          );
          continue;
        }
        const image = path.join(imgDir, m[1] as string, m[2] as string, `${m[3]}.jpg`);
        if (!(await isFile(image))) {
          skipped.push(`${path.relative(root, image)}: image not found (named by ${path.basename(jsonFile)}); left out`);
          continue;
        }
        samples.push({
          id: path.relative(root, image),
          imageName: `${id}.jpg`,
          image: { kind: 'copy', file: image },
          group: m[1] as string,
          masks: async (): Promise<MaskOut[]> => {
            const out: MaskOut[] = [];
            for (const [pathology, value] of Object.entries(byPathology)) {
              if (pathology === 'img_size') continue;
              let mask: BinaryMask;
              if (seg !== null) {
                const rle = value as Rle;
                mask = decodeCocoRle(rle.counts, rle.size[0], rle.size[1]);
              } else {
                const size = (byPathology as AnnJson[string]).img_size;
                if (size === undefined) throw new Error(`${jsonFile}: ${id} has no img_size`);
                mask = await rasterisePolygons(value as number[][][], size[0], size[1]);
              }
              if (hasForeground(mask)) out.push({ maskName: `${id}_${snake(pathology)}.png`, className: pathology, mask });
            }
            return out;
          },
        });
      }
    }
    if (found === 0) throw new LayoutError('chexlocalize', root, 'no gt_segmentations_*.json or gt_annotations_*.json found', EXPECTED);
    return { samples, skipped };
  },
};
