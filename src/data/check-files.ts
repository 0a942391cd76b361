/**
 * The file steps of `data check`: which files the entries name, then each file's existence,
 * containment and decoding, each mask's values, and each pair's sizes.
 */
import path from 'node:path';
import { type DataFolder, type DatasetLayout, type IndexedEntry, locateDataFile, realFolder, SPLITS, type Split } from './format.js';
import { ImageError, readMaskGray, verifyDecodable } from './image.js';
import { pool } from './pool.js';
import { type CheckRules, type ProblemLog, type ProblemPlace } from './check-problems.js';

/** One file of the dataset and the entries that name it. */
export interface FileUse {
  folder: DataFolder;
  /** The folder the name is relative to, relative to the dataset (per-split layouts). */
  folderRel: string;
  name: string;
  file: string;
  refs: { split: Split; entry: number }[];
}

/** An image and its mask, named by the first entry that pairs them. */
export interface FilePair {
  image: string;
  mask: string;
  split: Split;
  entry: number;
}

/** What the file step found besides problems (the report's image and mask summaries). */
export interface FileTally {
  imageSizes: Map<string, [number, number]>;
  maskSizes: Map<string, [number, number]>;
  imageFormats: Record<string, number>;
  maskFormats: Record<string, number>;
  imagesChecked: number;
  masksChecked: number;
  /** Largest mid-grey fraction over all masks. */
  maxMid: number;
  softEdges: number;
  /** Sum over readable masks of their foreground fraction. */
  fgSum: number;
}

/** The folders the layout names for images and masks (each once). */
export function usedFolders(layout: DatasetLayout): Set<string> {
  return new Set<string>(SPLITS.flatMap((s) => [layout[s].images, layout[s].masks]));
}

/** Every file the valid entries name (each once, with all the entries naming it), and every image-mask pair. */
export function collectFileUses(
  root: string,
  layout: DatasetLayout,
  entriesBySplit: ReadonlyMap<Split, IndexedEntry[]>,
): { uses: Map<string, FileUse>; pairs: Map<string, FilePair> } {
  const uses = new Map<string, FileUse>();
  const pairs = new Map<string, FilePair>();
  for (const [split, entries] of entriesBySplit) {
    for (const { index, entry } of entries) {
      for (const [folder, name] of [
        ['images', entry.img_name],
        ['masks', entry.mask_name],
      ] as const) {
        const folderRel = layout[split][folder];
        const file = path.join(root, folderRel, name);
        let u = uses.get(file);
        if (u === undefined) uses.set(file, (u = { folder, folderRel, name, file, refs: [] }));
        u.refs.push({ split, entry: index });
      }
      const image = path.join(root, layout[split].images, entry.img_name);
      const mask = path.join(root, layout[split].masks, entry.mask_name);
      const pk = `${image}\0${mask}`;
      if (!pairs.has(pk)) pairs.set(pk, { image, mask, split, entry: index });
    }
  }
  return { uses, pairs };
}

/** The first entry naming the file, as a problem's place. */
function placeOf(u: FileUse): ProblemPlace {
  const r = u.refs[0] as { split: Split; entry: number };
  return { file: u.file, split: r.split, entry: r.entry, field: u.folder === 'images' ? 'img_name' : 'mask_name' };
}

/** " (train entry 3 and 2 more)": which entries name the file, for a message. */
function refsNote(u: FileUse): string {
  const r = u.refs[0] as { split: Split; entry: number };
  const more = u.refs.length > 1 ? ` and ${u.refs.length - 1} more` : '';
  return ` (${r.split} entry ${r.entry}${more})`;
}

/** An image error's message without the file name the caller already prints. */
function reasonOf(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return err instanceof ImageError && m.startsWith(`${err.file}: `) ? m.slice(err.file.length + 2) : m;
}

export function pct(x: number): string {
  return `${(100 * x).toFixed(x < 0.001 && x > 0 ? 3 : 2)}%`;
}

function isConstant(a: Uint8Array): boolean {
  for (let i = 1; i < a.length; i++) if (a[i] !== a[0]) return false;
  return true;
}

/**
 * Every file, `concurrency` at a time: found inside its folder (a symlink out of it is refused),
 * a regular file, decodable; masks also by their values. Files of a missing folder are skipped
 * (the folder is reported once).
 */
export async function checkFiles(
  root: string,
  layout: DatasetLayout,
  uses: ReadonlyMap<string, FileUse>,
  folderExists: Readonly<Record<string, boolean>>,
  rules: CheckRules,
  concurrency: number,
  log: ProblemLog,
): Promise<FileTally> {
  const realFolders: Record<string, string> = {};
  for (const folder of usedFolders(layout)) realFolders[folder] = await realFolder(root, folder);
  const tally: FileTally = {
    imageSizes: new Map(),
    maskSizes: new Map(),
    imageFormats: {},
    maskFormats: {},
    imagesChecked: 0,
    masksChecked: 0,
    maxMid: 0,
    softEdges: 0,
    fgSum: 0,
  };
  await pool([...uses.values()], concurrency, async (u) => {
    const rel = `${u.folderRel}/${u.name}`;
    if (!folderExists[u.folderRel]) return; // reported once as missing_folder
    const loc = await locateDataFile(u.file, realFolders[u.folderRel] as string);
    if (loc.status === 'escape') {
      log.add('path_escape', `${rel} is a symlink escaping the ${u.folderRel}/ folder (to ${loc.real})${refsNote(u)}`, placeOf(u));
      return;
    }
    if (loc.status !== 'ok') {
      const what = loc.status === 'missing' ? 'not found' : 'is not a regular file';
      log.add(u.folder === 'images' ? 'missing_image' : 'missing_mask', `${rel} ${what}${refsNote(u)}`, placeOf(u));
      return;
    }
    if (u.folder === 'images') await checkImage(u, rel, tally, log);
    else await checkMask(u, rel, rules, tally, log);
  });
  return tally;
}

async function checkImage(u: FileUse, rel: string, tally: FileTally, log: ProblemLog): Promise<void> {
  tally.imagesChecked++;
  try {
    const info = await verifyDecodable(u.file);
    tally.imageSizes.set(u.file, [info.width, info.height]);
    tally.imageFormats[info.format] = (tally.imageFormats[info.format] ?? 0) + 1;
    if (info.repair !== undefined) log.add('repaired_file', `${rel}: ${info.repair}${refsNote(u)}`, placeOf(u));
    if (info.identicalChannels) {
      log.add(
        'identical_channels',
        `${rel}: a colour file whose R, G and B are equal in every pixel: the model sees a grey image (a grey image stored as colour, or colour lost when it was made)${refsNote(u)}`,
        placeOf(u),
      );
    }
    if (info.minAlpha !== null && info.minAlpha < 255) {
      log.add(
        'translucent_alpha',
        `${rel}: has an alpha channel that is not opaque (down to ${info.minAlpha}); every reader drops alpha, so what it hides is seen${refsNote(u)}`,
        placeOf(u),
      );
    }
  } catch (err) {
    log.add('unreadable_image', `${rel}: ${reasonOf(err)}${refsNote(u)}`, placeOf(u));
  }
}

async function checkMask(u: FileUse, rel: string, rules: CheckRules, tally: FileTally, log: ProblemLog): Promise<void> {
  tally.masksChecked++;
  let gray: Awaited<ReturnType<typeof readMaskGray>>;
  try {
    gray = await readMaskGray(u.file);
    tally.maskFormats[gray.format] = (tally.maskFormats[gray.format] ?? 0) + 1;
  } catch (err) {
    log.add('unreadable_mask', `${rel}: ${reasonOf(err)}${refsNote(u)}`, placeOf(u));
    return;
  }
  tally.maskSizes.set(u.file, [gray.width, gray.height]);
  if (gray.repair !== undefined) log.add('repaired_file', `${rel}: ${gray.repair}${refsNote(u)}`, placeOf(u));
  const n = gray.gray.length;
  let mid = 0;
  let fg = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const v = gray.gray[i] as number;
    if (v >= rules.midGreyLow && v <= rules.midGreyHigh) mid++;
    if (v > 127) fg++;
    if (v > max) max = v;
  }
  const midFrac = mid / n;
  if (gray.alpha !== null && gray.alpha[0] < gray.alpha[1] && isConstant(gray.gray)) {
    log.add(
      'mask_in_alpha',
      `${rel}: the mask is in its alpha channel (its colour is the same everywhere, alpha ${gray.alpha[0]}-${gray.alpha[1]}); readers take the colour, so every pixel is ${max > 127 ? 'foreground' : 'background'}: \`tunevlseg data import\` reads alpha masks${refsNote(u)}`,
      placeOf(u),
    );
  }
  tally.maxMid = Math.max(tally.maxMid, midFrac);
  tally.fgSum += fg / n;
  if (max === 0) {
    log.add('empty_mask', `${rel} is all background${refsNote(u)}`, placeOf(u));
  } else if (max <= 127) {
    log.add(
      'mask_values_low',
      `${rel}: largest value is ${max} (< 128), so after /255 and the 0.5 threshold the mask is empty; store foreground as 255 (0/1 or class-index masks?)${refsNote(u)}`,
      placeOf(u),
    );
  } else if (midFrac > rules.nonBinaryFraction) {
    log.add(
      'non_binary_mask',
      `${rel}: ${pct(midFrac)} of pixels are mid-grey (${rules.midGreyLow}-${rules.midGreyHigh}), more than ${pct(rules.nonBinaryFraction)}: not a binary mask (soft labels or a probability map?)${refsNote(u)}`,
      placeOf(u),
    );
  } else if (mid > 0) {
    tally.softEdges++;
  }
}

/** An image and its mask must have the same size (pairs with an unreadable file are skipped). */
export function checkPairSizes(root: string, pairs: ReadonlyMap<string, FilePair>, tally: FileTally, log: ProblemLog): void {
  for (const p of pairs.values()) {
    const a = tally.imageSizes.get(p.image);
    const b = tally.maskSizes.get(p.mask);
    if (a === undefined || b === undefined) continue;
    if (a[0] !== b[0] || a[1] !== b[1]) {
      log.add(
        'size_mismatch',
        `image ${path.relative(root, p.image)} is ${a[0]}x${a[1]} but mask ${path.relative(root, p.mask)} is ${b[0]}x${b[1]}`,
        { file: p.mask, split: p.split, entry: p.entry },
      );
    }
  }
}
