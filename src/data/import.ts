/**
 * `data import`: a dataset in the benchmark layout from any folder of images and a folder of
 * masks, matched by file stem (a mask may add `_mask`, `_gt`, `_segmentation`, `-mask` to it).
 *
 * Binary masks (`--class`) are read as ./convert/mask-reading.ts decides (0/1, 0/255, gray,
 * colour, palette by its colours, mask in alpha), and a file that looks like a photo is
 * refused; `--mask-mode` forces a reading. With a labels file, each mask is a label map: every
 * listed label present in it becomes one entry, `<class>/<stem>.png`; palette PNGs are read by
 * index. Images are copied as they are, except TIFFs whose header contradicts their samples
 * (../tiff-header.ts), written as PNG from what they hold so that any reader sees the colours.
 * Splits are drawn by group when `--groups` or `--group-pattern` says which images belong
 * together (frames of one video, images of one patient).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { type BuildResult, buildDataset } from './convert/build.js';
import { hasForeground, labelMask, readPixels, type RawPixels } from './convert/masks.js';
import { type MaskMode, type MaskReadingKind, maskReadingNote, paletteIndices, readBinaryMask } from './convert/mask-reading.js';
import { listFiles, pairByStem, stem } from './convert/scan.js';
import type { MaskOut, RawSample } from './convert/types.js';
import { DatasetError } from './format.js';
import { pngPalette } from './indexed-png.js';
import { scanRepairs } from './repairs.js';

export interface ImportOptions {
  images: string;
  masks: string;
  /** The class of binary masks (the prompt). Exactly one of className and classesFile. */
  className?: string;
  /** A labels file: one `<value> <name>` per line (or just `<name>`, value = line number from 0). */
  classesFile?: string;
  out: string;
  /** Split ratios train,val,test. Default 0.8, 0.1, 0.1. */
  split?: readonly [number, number, number];
  seed?: number;
  /** Prompts p0..p6 from the masks and images (else p0 "" and p1 the class). */
  attributes?: boolean;
  /** How binary masks are read (default 'auto': see ./convert/mask-reading.ts). */
  maskMode?: MaskMode;
  /** A file of `<image name or stem> <group>` lines: images of one group stay in one split. */
  groupsFile?: string;
  /** A regular expression on image file names: its first capture group (or the match) is the group. */
  groupPattern?: string;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

const MASK_SUFFIX = /[_-](mask|gt|segmentation|label|labels)$/i;

/** Parses a labels file; names `background`, `_background_` and `-` mark values that are not classes. */
export function parseLabels(text: string, file: string): { value: number; name: string }[] {
  const out: { value: number; name: string }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const m = /^(\d+)\s*[:=,\s]\s*(.+)$/.exec(line);
    const value = m !== null ? Number(m[1]) : i;
    const name = (m !== null ? (m[2] as string) : line).trim();
    if (value > 255) throw new DatasetError(`${file}: line ${i + 1}: label value ${value} is above 255 (8-bit label maps)`);
    if (/^(_?background_?|-)$/i.test(name)) return;
    if (out.some((o) => o.value === value)) throw new DatasetError(`${file}: line ${i + 1}: label value ${value} is listed twice`);
    out.push({ value, name });
  });
  if (out.length === 0) throw new DatasetError(`${file}: no labels (expected lines such as "1 polyp" or one class name per line)`);
  return out;
}

/** A mask file as one-channel values: palette indices for palette PNGs, else the decoded pixels. */
async function readLabelValues(file: string): Promise<RawPixels & { palette: boolean }> {
  const p = await readPixels(file);
  const palette = pngPalette(await fs.readFile(file));
  if (palette.length === 0 || p.channels < 3) return { ...p, palette: false };
  return { ...p, data: paletteIndices(p, palette), channels: 1, palette: true };
}

/** Parses a groups file: `<image name or stem>` and `<group>` separated by a tab, a comma or the last space. */
export function parseGroups(text: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(.*?)\s*[\t,]\s*([^\t,]+)$/.exec(line) ?? /^(.*\S)\s+(\S+)$/.exec(line);
    if (m === null)
      throw new DatasetError(
        `${file}: line ${i + 1}: expected "<image> <group>" (tab, comma or space between), got ${JSON.stringify(line)}`,
      );
    const [, name, group] = m as unknown as [string, string, string];
    const prev = out.get(name);
    if (prev !== undefined && prev !== group)
      throw new DatasetError(`${file}: line ${i + 1}: ${name} is in group ${prev} and in group ${group}`);
    out.set(name, group);
  });
  if (out.size === 0) throw new DatasetError(`${file}: no "<image> <group>" lines`);
  return out;
}

/** The group of each image (by file name, then stem), or an error naming the images without one. */
async function groupsOf(images: readonly string[], opts: ImportOptions): Promise<Map<string, string> | null> {
  if (opts.groupsFile !== undefined && opts.groupPattern !== undefined)
    throw new Error('give one of --groups <file> and --group-pattern <regex>, not both');
  let find: (image: string) => string | undefined;
  let why: string;
  if (opts.groupsFile !== undefined) {
    const table = parseGroups(await fs.readFile(opts.groupsFile, 'utf8'), opts.groupsFile);
    find = (image) => table.get(path.basename(image)) ?? table.get(stem(image));
    why = `not listed in ${opts.groupsFile}`;
  } else if (opts.groupPattern !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(opts.groupPattern);
    } catch (e) {
      throw new Error(`--group-pattern ${JSON.stringify(opts.groupPattern)}: not a regular expression (${(e as Error).message})`);
    }
    find = (image) => {
      const m = re.exec(path.basename(image));
      return m === null ? undefined : (m[1] ?? m[0]);
    };
    why = `its name does not match --group-pattern ${opts.groupPattern}`;
  } else {
    return null;
  }
  const out = new Map<string, string>();
  const missing: string[] = [];
  for (const img of images) {
    const g = find(img);
    if (g === undefined || g === '') missing.push(path.basename(img));
    else out.set(img, g);
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 10).join(', ') + (missing.length > 10 ? `, ... and ${missing.length - 10} more` : '');
    throw new DatasetError(`${missing.length} image(s) have no group (${why}): ${shown}`);
  }
  return out;
}

/** Builds a dataset folder from an image folder and a mask folder; see the module comment. */
export async function importDataset(opts: ImportOptions): Promise<BuildResult> {
  if ((opts.className === undefined) === (opts.classesFile === undefined)) {
    throw new Error('give exactly one of --class <name> (binary masks) and --classes <labels.txt> (label maps)');
  }
  const labels = opts.classesFile === undefined ? null : parseLabels(await fs.readFile(opts.classesFile, 'utf8'), opts.classesFile);
  const split = opts.split ?? [0.8, 0.1, 0.1];
  if (split.length !== 3 || split.some((x) => !(x >= 0)) || split[0] + split[1] + split[2] <= 0) {
    throw new Error(`--split expects three non-negative ratios train,val,test, got ${split.join(',')}`);
  }
  const images = await listFiles(path.resolve(opts.images)).catch(() =>
    Promise.reject(new Error(`--images ${opts.images}: folder not found`)),
  );
  const masks = await listFiles(path.resolve(opts.masks)).catch(() => Promise.reject(new Error(`--masks ${opts.masks}: folder not found`)));
  if (images.length === 0) throw new Error(`--images ${opts.images}: no image files (expected .jpg, .png, .tif, .bmp, .webp or .gif)`);
  if (labels !== null && opts.maskMode !== undefined && opts.maskMode !== 'auto') {
    throw new Error('--mask-mode reads binary masks (--class); label maps (--classes) are read by value or palette index');
  }
  const root = path.dirname(path.resolve(opts.images));
  const paired = pairByStem(images, masks, (m) => stem(m).replace(MASK_SUFFIX, ''), root);
  const groups = await groupsOf(
    paired.pairs.map((p) => p.image),
    opts,
  );
  // TIFFs the decoder has to mend are written as PNG from what they hold, not copied.
  const mended = await scanRepairs(paired.pairs.map((p) => p.image));
  const readings = new Map<Exclude<MaskReadingKind, null>, number>();
  const samples: RawSample[] = paired.pairs.map(({ image, masks: [maskFile] }) => {
    const m = maskFile as string;
    const s = stem(image);
    const group = groups?.get(image);
    const asPng = mended.has(image);
    return {
      id: path.relative(root, image),
      imageName: asPng ? `${s}.png` : path.basename(image),
      image: asPng ? { kind: 'png', file: image } : { kind: 'copy', file: image },
      ...(group !== undefined ? { group } : {}),
      masks: async (): Promise<MaskOut[]> => {
        if (labels === null) {
          const r = await readBinaryMask(m, opts.maskMode ?? 'auto');
          if (r.kind !== null) readings.set(r.kind, (readings.get(r.kind) ?? 0) + 1);
          const copy = r.exact && path.extname(m).toLowerCase() === '.png';
          return [
            {
              maskName: `${s}.png`,
              className: opts.className as string,
              mask: r.mask,
              ...(copy ? { copyFrom: m } : {}),
              ...(r.repair !== undefined ? { repair: r.repair } : {}),
              ...(r.gray !== undefined ? { gray: r.gray } : {}),
            },
          ];
        }
        const values = await readLabelValues(m);
        const out: MaskOut[] = [];
        for (const l of labels) {
          const mask = labelMask(values, l.value);
          if (hasForeground(mask))
            out.push({
              maskName: `${l.name}/${s}.png`,
              className: l.name,
              mask,
              ...(values.repair !== undefined ? { repair: values.repair } : {}),
            });
        }
        return out;
      },
    };
  });
  if (samples.length === 0) throw new Error(`no image in ${opts.images} has a mask in ${opts.masks} with the same stem`);
  const result = await buildDataset(samples, paired.skipped, {
    dataset: 'import',
    out: opts.out,
    sizes: { train: split[0], val: split[1], test: split[2] },
    seed: opts.seed ?? 0,
    attributes: opts.attributes ?? false,
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
    ...(groups !== null ? { groupWord: 'group' } : {}),
    command: 'data import',
    inputs: [
      { dir: opts.images, what: 'the --images folder' },
      { dir: opts.masks, what: 'the --masks folder' },
    ],
  });
  for (const [kind, n] of readings) result.notes.push(maskReadingNote(kind, n));
  return result;
}
