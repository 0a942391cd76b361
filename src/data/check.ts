/**
 * `tunevlseg data check <dir>`: every problem of a dataset folder, with counts, never stopping
 * at the first one. The rules are described in docs/data.md.
 *
 * Why one file over 450 lines: every rule reports into one problem list with shared counters
 * and file caches; split apart, each rule would need that state handed around.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type DataFolder,
  DEFAULT_LAYOUT,
  type DatasetLayout,
  type FormatIssue,
  LAYOUT_FILE,
  parseLayoutJson,
  type IndexedEntry,
  locateDataFile,
  type PromptValue,
  parseSplitJson,
  realFolder,
  SPLITS,
  type Split,
  sortPromptKeys,
  splitFile,
  usablePromptKeys,
} from './format.js';
import { ImageError, readMaskGray, verifyDecodable } from './image.js';
import { pool } from './pool.js';

export type Severity = 'error' | 'warning';

export type ProblemCode =
  | 'missing_folder'
  | 'missing_split'
  | 'malformed_json'
  | 'invalid_entry'
  | 'empty_split'
  | 'path_escape'
  | 'missing_image'
  | 'missing_mask'
  | 'unreadable_image'
  | 'unreadable_mask'
  | 'size_mismatch'
  | 'non_binary_mask'
  | 'mask_values_low'
  | 'empty_mask'
  | 'empty_prompt'
  | 'duplicate_entry'
  | 'split_overlap'
  | 'repaired_file'
  | 'identical_channels'
  | 'translucent_alpha'
  | 'mask_in_alpha';

/** Severity of each problem: errors fail `data check` (exit 1), warnings do not. */
export const PROBLEM_SEVERITY: Readonly<Record<ProblemCode, Severity>> = {
  missing_folder: 'error',
  missing_split: 'error',
  malformed_json: 'error',
  invalid_entry: 'error',
  empty_split: 'warning',
  path_escape: 'error',
  missing_image: 'error',
  missing_mask: 'error',
  unreadable_image: 'error',
  unreadable_mask: 'error',
  size_mismatch: 'error',
  non_binary_mask: 'error',
  mask_values_low: 'error',
  empty_mask: 'warning',
  empty_prompt: 'error',
  duplicate_entry: 'error',
  split_overlap: 'warning',
  repaired_file: 'warning',
  identical_channels: 'warning',
  translucent_alpha: 'warning',
  mask_in_alpha: 'warning',
};

export interface Problem {
  code: ProblemCode;
  severity: Severity;
  message: string;
  /** The file concerned: an annotation file, or an image/mask file. */
  file?: string;
  split?: Split;
  /** Entry index in the split's JSON list (the first entry concerned for file problems). */
  entry?: number;
  field?: string;
}

export interface SplitSummary {
  file: string;
  /** The file is not a JSON list (then entries is 0). */
  malformed: boolean;
  /** Elements of the JSON list. */
  entries: number;
  /** Entries that passed validation. */
  validEntries: number;
  images: number;
  masks: number;
}

export interface PromptKeySummary {
  key: string;
  /** Entries where the key has a non-empty value. */
  nonEmpty: number;
  /** Entries where the key is present but empty. */
  empty: number;
  /** Entries where the value is a list (to pick from). */
  lists: number;
  /** Valid entries without the key. */
  missing: number;
}

export interface CheckRules {
  /** Gray levels in [midGreyLow, midGreyHigh] count as mid-grey. */
  midGreyLow: number;
  midGreyHigh: number;
  /** A mask with more than this fraction of mid-grey pixels is non-binary (error). */
  nonBinaryFraction: number;
}

export const DEFAULT_CHECK_RULES: CheckRules = { midGreyLow: 32, midGreyHigh: 223, nonBinaryFraction: 0.01 };

export interface CheckReport {
  dir: string;
  ok: boolean;
  errors: number;
  warnings: number;
  /** Problems per code (codes with none are absent). */
  counts: Partial<Record<ProblemCode, number>>;
  problems: Problem[];
  splits: Record<Split, SplitSummary | null>;
  images: {
    checked: number;
    readable: number;
    distinctSizes: number;
    /** Smallest and largest by area, [width, height]. */
    minSize: [number, number] | null;
    maxSize: [number, number] | null;
    commonSizes: { width: number; height: number; count: number }[];
    formats: Record<string, number>;
  };
  masks: {
    checked: number;
    readable: number;
    formats: Record<string, number>;
    /** Largest mid-grey fraction over all masks. */
    maxMidGreyFraction: number;
    /** Masks with some (but not too many) mid-grey pixels: soft edges, JPEG ringing. */
    softEdgeMasks: number;
    /** Mean foreground fraction (gray > 127) over readable masks. */
    meanForeground: number;
  };
  prompts: PromptKeySummary[];
  rules: CheckRules;
  /** Per-split image and mask folders (from dataset.json; images/ and masks/ otherwise). */
  layout: DatasetLayout;
}

export interface CheckOptions {
  /** Files decoded at once. Default: available cores. */
  concurrency?: number;
  rules?: Partial<CheckRules>;
}

interface FileUse {
  folder: DataFolder;
  /** The folder the name is relative to, relative to the dataset (per-split layouts). */
  folderRel: string;
  name: string;
  file: string;
  refs: { split: Split; entry: number }[];
}

function isEmptyValue(v: PromptValue): boolean {
  return typeof v === 'string' ? v.trim() === '' : v.every((s) => s.trim() === '');
}

function pct(x: number): string {
  return `${(100 * x).toFixed(x < 0.001 && x > 0 ? 3 : 2)}%`;
}

/** Checks a dataset folder and reports every problem found (never throws for dataset problems). */
export async function checkDataset(dir: string, opts: CheckOptions = {}): Promise<CheckReport> {
  const root = path.resolve(dir);
  const rules: CheckRules = { ...DEFAULT_CHECK_RULES, ...opts.rules };
  const problems: Problem[] = [];
  const add = (code: ProblemCode, message: string, where: Omit<Problem, 'code' | 'severity' | 'message'> = {}): void => {
    problems.push({ code, severity: PROBLEM_SEVERITY[code], message, ...where });
  };
  const fromIssue = (split: Split, i: FormatIssue): void => {
    const code: ProblemCode =
      i.code === 'malformed_json' ? 'malformed_json' : i.code === 'path_escape' ? 'path_escape' : 'invalid_entry';
    add(code, i.message, {
      file: i.file,
      split,
      ...(i.entry !== undefined ? { entry: i.entry } : {}),
      ...(i.field !== undefined ? { field: i.field } : {}),
    });
  };

  const rootStat = await fs.stat(root).catch(() => null);
  if (!rootStat?.isDirectory()) {
    // One problem, not one per missing sub-folder and split file.
    add('missing_folder', rootStat ? 'not a folder' : 'no such folder', { file: root });
    return emptyReport(root, rules, problems);
  }
  // 0. The per-split folders (dataset.json), then every folder they name.
  let layout: DatasetLayout = DEFAULT_LAYOUT;
  const layoutFile = path.join(root, LAYOUT_FILE);
  const layoutText = await fs.readFile(layoutFile, 'utf8').catch(() => null);
  if (layoutText !== null) {
    const parsed = parseLayoutJson(layoutText, layoutFile);
    layout = parsed.layout;
    for (const i of parsed.issues) {
      add(i.code === 'malformed_json' ? 'malformed_json' : i.code === 'path_escape' ? 'path_escape' : 'invalid_entry', i.message, {
        file: i.file,
        ...(i.field !== undefined ? { field: i.field } : {}),
      });
    }
  }
  const folderExists: Record<string, boolean> = {};
  const usedFolders = new Set<string>(SPLITS.flatMap((s) => [layout[s].images, layout[s].masks]));
  for (const folder of [...usedFolders, 'anns']) {
    const p = path.join(root, folder);
    const st = await fs.stat(p).catch(() => null);
    folderExists[folder] = st?.isDirectory() ?? false;
    if (!folderExists[folder]) add('missing_folder', `${folder}/ folder not found`, { file: p });
  }

  // 1. Split files and entries.
  const splits = { train: null, val: null, test: null } as Record<Split, SplitSummary | null>;
  const entriesBySplit = new Map<Split, IndexedEntry[]>();
  for (const split of SPLITS) {
    const file = splitFile(root, split);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'split file not found' : `cannot read split file (${code ?? String(err)})`;
      if (split === 'test') {
        problems.push({ code: 'missing_split', severity: 'warning', message: `${why} (datasets without a test split can still be trained)`, file, split });
      } else {
        add('missing_split', why, { file, split });
      }
      continue;
    }
    const parsed = parseSplitJson(text, file);
    for (const i of parsed.issues) fromIssue(split, i);
    if (parsed.total === 0 && parsed.issues.length === 0) {
      // Training needs train and val entries (the trainer refuses an empty one); a test split may be empty.
      const severity: Severity = split === 'test' ? 'warning' : 'error';
      problems.push({ code: 'empty_split', severity, message: `the split has no entries${split === 'test' ? '' : ' (training needs some)'}`, file, split });
    }
    entriesBySplit.set(split, parsed.entries);
    splits[split] = {
      file,
      malformed: parsed.issues.some((i) => i.code === 'malformed_json'),
      entries: parsed.total,
      validEntries: parsed.entries.length,
      images: new Set(parsed.entries.map((e) => e.entry.img_name)).size,
      masks: new Set(parsed.entries.map((e) => e.entry.mask_name)).size,
    };
  }

  // 2. Duplicates within a split, images shared between splits.
  const imageSplits = new Map<string, Set<Split>>();
  for (const [split, entries] of entriesBySplit) {
    const seen = new Map<string, number>();
    for (const { index, entry } of entries) {
      const key = `${entry.img_name}\0${entry.mask_name}`;
      const first = seen.get(key);
      if (first !== undefined) {
        add('duplicate_entry', `duplicates entry ${first} (img_name ${JSON.stringify(entry.img_name)}, mask_name ${JSON.stringify(entry.mask_name)})`, {
          file: splitFile(root, split),
          split,
          entry: index,
        });
      } else {
        seen.set(key, index);
      }
      // Keyed by file: with per-split folders the same name in two splits is two images.
      const file = path.join(root, layout[split].images, entry.img_name);
      let s = imageSplits.get(file);
      if (s === undefined) imageSplits.set(file, (s = new Set()));
      s.add(split);
    }
  }
  for (const [file, s] of imageSplits) {
    if (s.size > 1) add('split_overlap', `${path.relative(root, file)} is used in ${[...s].join(' and ')} (data leakage between splits)`, { file });
  }

  // 3. Prompts.
  const keyStats = new Map<string, PromptKeySummary>();
  let validEntries = 0;
  for (const entries of entriesBySplit.values()) {
    for (const { entry } of entries) {
      validEntries++;
      for (const [key, value] of Object.entries(entry.prompts)) {
        let st = keyStats.get(key);
        if (st === undefined) keyStats.set(key, (st = { key, nonEmpty: 0, empty: 0, lists: 0, missing: 0 }));
        if (isEmptyValue(value)) st.empty++;
        else st.nonEmpty++;
        if (Array.isArray(value)) st.lists++;
      }
    }
  }
  for (const st of keyStats.values()) st.missing = validEntries - st.nonEmpty - st.empty;
  for (const [split, entries] of entriesBySplit) {
    const file = splitFile(root, split);
    for (const { index, entry } of entries) {
      if (usablePromptKeys(entry.prompts).length === 0) {
        add('empty_prompt', 'the entry has no non-empty prompt', { file, split, entry: index, field: 'prompts' });
        continue;
      }
      for (const key of sortPromptKeys(Object.keys(entry.prompts))) {
        const value = entry.prompts[key] as PromptValue;
        // A key empty in every entry (like the benchmark's p0) is a convention, not an error.
        if (isEmptyValue(value) && (keyStats.get(key)?.nonEmpty ?? 0) > 0) {
          add('empty_prompt', `prompt "${key}" is empty here but not in other entries`, { file, split, entry: index, field: `prompts.${key}` });
        }
      }
    }
  }

  // 4. Files: existence, containment, decoding, sizes, mask values.
  const uses = new Map<string, FileUse>();
  const pairs = new Map<string, { image: string; mask: string; split: Split; entry: number }>();
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
  const realFolders: Record<string, string> = {};
  for (const folder of usedFolders) realFolders[folder] = await realFolder(root, folder);
  const imageSizes = new Map<string, [number, number]>();
  const maskSizes = new Map<string, [number, number]>();
  const imageFormats: Record<string, number> = {};
  const maskFormats: Record<string, number> = {};
  let imagesChecked = 0;
  let masksChecked = 0;
  let maxMid = 0;
  let softEdges = 0;
  let fgSum = 0;
  const where = (u: FileUse): Omit<Problem, 'code' | 'severity' | 'message'> => {
    const r = u.refs[0] as { split: Split; entry: number };
    return { file: u.file, split: r.split, entry: r.entry, field: u.folder === 'images' ? 'img_name' : 'mask_name' };
  };
  const refsNote = (u: FileUse): string => {
    const r = u.refs[0] as { split: Split; entry: number };
    const more = u.refs.length > 1 ? ` and ${u.refs.length - 1} more` : '';
    return ` (${r.split} entry ${r.entry}${more})`;
  };
  const concurrency = opts.concurrency ?? os.availableParallelism();
  await pool([...uses.values()], concurrency, async (u) => {
    const rel = `${u.folderRel}/${u.name}`;
    if (!folderExists[u.folderRel]) return; // reported once as missing_folder
    const loc = await locateDataFile(u.file, realFolders[u.folderRel] as string);
    if (loc.status === 'escape') {
      add('path_escape', `${rel} is a symlink escaping the ${u.folderRel}/ folder (to ${loc.real})${refsNote(u)}`, where(u));
      return;
    }
    if (loc.status !== 'ok') {
      const what = loc.status === 'missing' ? 'not found' : 'is not a regular file';
      add(u.folder === 'images' ? 'missing_image' : 'missing_mask', `${rel} ${what}${refsNote(u)}`, where(u));
      return;
    }
    const reason = (err: unknown): string => {
      const m = err instanceof Error ? err.message : String(err);
      return err instanceof ImageError && m.startsWith(`${err.file}: `) ? m.slice(err.file.length + 2) : m;
    };
    if (u.folder === 'images') {
      imagesChecked++;
      try {
        const info = await verifyDecodable(u.file);
        imageSizes.set(u.file, [info.width, info.height]);
        imageFormats[info.format] = (imageFormats[info.format] ?? 0) + 1;
        if (info.repair !== undefined) add('repaired_file', `${rel}: ${info.repair}${refsNote(u)}`, where(u));
        if (info.identicalChannels) {
          add('identical_channels', `${rel}: a colour file whose R, G and B are equal in every pixel: the model sees a grey image (a grey image stored as colour, or colour lost when it was made)${refsNote(u)}`, where(u));
        }
        if (info.minAlpha !== null && info.minAlpha < 255) {
          add('translucent_alpha', `${rel}: has an alpha channel that is not opaque (down to ${info.minAlpha}); every reader drops alpha, so what it hides is seen${refsNote(u)}`, where(u));
        }
      } catch (err) {
        add('unreadable_image', `${rel}: ${reason(err)}${refsNote(u)}`, where(u));
      }
      return;
    }
    masksChecked++;
    let gray: Awaited<ReturnType<typeof readMaskGray>>;
    try {
      gray = await readMaskGray(u.file);
      maskFormats[gray.format] = (maskFormats[gray.format] ?? 0) + 1;
    } catch (err) {
      add('unreadable_mask', `${rel}: ${reason(err)}${refsNote(u)}`, where(u));
      return;
    }
    maskSizes.set(u.file, [gray.width, gray.height]);
    if (gray.repair !== undefined) add('repaired_file', `${rel}: ${gray.repair}${refsNote(u)}`, where(u));
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
      add('mask_in_alpha', `${rel}: the mask is in its alpha channel (its colour is the same everywhere, alpha ${gray.alpha[0]}-${gray.alpha[1]}); readers take the colour, so every pixel is ${max > 127 ? 'foreground' : 'background'}: \`tunevlseg data import\` reads alpha masks${refsNote(u)}`, where(u));
    }
    maxMid = Math.max(maxMid, midFrac);
    fgSum += fg / n;
    if (max === 0) {
      add('empty_mask', `${rel} is all background${refsNote(u)}`, where(u));
    } else if (max <= 127) {
      add(
        'mask_values_low',
        `${rel}: largest value is ${max} (< 128), so after /255 and the 0.5 threshold the mask is empty; store foreground as 255 (0/1 or class-index masks?)${refsNote(u)}`,
        where(u),
      );
    } else if (midFrac > rules.nonBinaryFraction) {
      add(
        'non_binary_mask',
        `${rel}: ${pct(midFrac)} of pixels are mid-grey (${rules.midGreyLow}-${rules.midGreyHigh}), more than ${pct(rules.nonBinaryFraction)}: not a binary mask (soft labels or a probability map?)${refsNote(u)}`,
        where(u),
      );
    } else if (mid > 0) {
      softEdges++;
    }
  });
  for (const p of pairs.values()) {
    const a = imageSizes.get(p.image);
    const b = maskSizes.get(p.mask);
    if (a === undefined || b === undefined) continue;
    if (a[0] !== b[0] || a[1] !== b[1]) {
      add(
        'size_mismatch',
        `image ${path.relative(root, p.image)} is ${a[0]}x${a[1]} but mask ${path.relative(root, p.mask)} is ${b[0]}x${b[1]}`,
        { file: p.mask, split: p.split, entry: p.entry },
      );
    }
  }

  // 5. Summary.
  const sizeCounts = new Map<string, { width: number; height: number; count: number }>();
  for (const [w, h] of imageSizes.values()) {
    const k = `${w}x${h}`;
    const c = sizeCounts.get(k);
    if (c === undefined) sizeCounts.set(k, { width: w, height: h, count: 1 });
    else c.count++;
  }
  const bySize = [...sizeCounts.values()];
  const byArea = [...bySize].sort((a, b) => a.width * a.height - b.width * b.height || a.width - b.width);
  const counts: Partial<Record<ProblemCode, number>> = {};
  for (const p of problems) counts[p.code] = (counts[p.code] ?? 0) + 1;
  const order = Object.keys(PROBLEM_SEVERITY) as ProblemCode[];
  problems.sort(
    (a, b) =>
      order.indexOf(a.code) - order.indexOf(b.code) ||
      (a.split ?? '').localeCompare(b.split ?? '') ||
      (a.entry ?? -1) - (b.entry ?? -1) ||
      (a.file ?? '').localeCompare(b.file ?? ''),
  );
  const errors = problems.filter((p) => p.severity === 'error').length;
  const first = byArea[0];
  const last = byArea[byArea.length - 1];
  return {
    dir: root,
    ok: errors === 0,
    errors,
    warnings: problems.length - errors,
    counts,
    problems,
    splits,
    images: {
      checked: imagesChecked,
      readable: imageSizes.size,
      distinctSizes: bySize.length,
      minSize: first ? [first.width, first.height] : null,
      maxSize: last ? [last.width, last.height] : null,
      commonSizes: bySize.sort((a, b) => b.count - a.count || a.width - b.width).slice(0, 5),
      formats: imageFormats,
    },
    masks: {
      checked: masksChecked,
      readable: maskSizes.size,
      formats: maskFormats,
      maxMidGreyFraction: maxMid,
      softEdgeMasks: softEdges,
      meanForeground: maskSizes.size > 0 ? fgSum / maskSizes.size : 0,
    },
    prompts: sortPromptKeys(keyStats.keys()).map((k) => keyStats.get(k) as PromptKeySummary),
    rules,
    layout,
  };
}

function isConstant(a: Uint8Array): boolean {
  for (let i = 1; i < a.length; i++) if (a[i] !== a[0]) return false;
  return true;
}

function emptyReport(dir: string, rules: CheckRules, problems: Problem[]): CheckReport {
  const errors = problems.filter((p) => p.severity === 'error').length;
  const counts: Partial<Record<ProblemCode, number>> = {};
  for (const p of problems) counts[p.code] = (counts[p.code] ?? 0) + 1;
  return {
    dir, ok: errors === 0, errors, warnings: problems.length - errors, counts, problems,
    splits: { train: null, val: null, test: null },
    images: { checked: 0, readable: 0, distinctSizes: 0, minSize: null, maxSize: null, commonSizes: [], formats: {} },
    masks: { checked: 0, readable: 0, formats: {}, maxMidGreyFraction: 0, softEdgeMasks: 0, meanForeground: 0 },
    prompts: [],
    rules,
    layout: DEFAULT_LAYOUT,
  };
}

/** The report as a readable text block (what `tunevlseg data check` prints). */
export function formatCheckReport(report: CheckReport, opts: { maxPerCode?: number } = {}): string {
  const maxPer = opts.maxPerCode ?? 10;
  const only = report.problems.length === 1 ? report.problems[0] : undefined;
  if (only?.code === 'missing_folder' && only.file === report.dir) return `Dataset check: ${report.dir}: ${only.message}. Result: FAILED`;
  const L: string[] = [];
  const fmtCounts = (r: Record<string, number>): string =>
    Object.entries(r)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  L.push(`Dataset check: ${report.dir}`);
  const perSplit = SPLITS.some((s) => report.layout[s].images !== 'images' || report.layout[s].masks !== 'masks');
  if (perSplit) {
    L.push(`Folders (${LAYOUT_FILE}): ${SPLITS.map((s) => `${s} ${report.layout[s].images}/ + ${report.layout[s].masks}/`).join('; ')}`);
  }
  L.push('');
  L.push('Splits');
  for (const split of SPLITS) {
    const s = report.splits[split];
    if (s === null) {
      L.push(`  ${split.padEnd(5)}  (missing)`);
      continue;
    }
    if (s.malformed) {
      L.push(`  ${split.padEnd(5)}  (malformed JSON)`);
      continue;
    }
    const invalid = s.entries - s.validEntries;
    L.push(
      `  ${split.padEnd(5)}  ${String(s.entries).padStart(6)} entries${invalid > 0 ? ` (${invalid} invalid)` : ''}, ${s.images} images, ${s.masks} masks`,
    );
  }
  const im = report.images;
  L.push('Images');
  L.push(`  ${im.readable}/${im.checked} readable; formats: ${fmtCounts(im.formats)}`);
  if (im.minSize !== null && im.maxSize !== null) {
    const common = im.commonSizes.map((c) => `${c.width}x${c.height} (${c.count})`).join(', ');
    L.push(`  ${im.distinctSizes} distinct sizes, ${im.minSize.join('x')} to ${im.maxSize.join('x')}; most common: ${common}`);
  }
  const mk = report.masks;
  L.push('Masks');
  L.push(`  ${mk.readable}/${mk.checked} readable; formats: ${fmtCounts(mk.formats)}; mean foreground ${pct(mk.meanForeground)}`);
  const soft =
    mk.softEdgeMasks > 0 ? `; ${mk.softEdgeMasks} mask(s) have a few (soft edges or JPEG ringing: fine, thresholded at 0.5)` : '';
  L.push(
    `  mid-grey pixels (gray ${report.rules.midGreyLow}-${report.rules.midGreyHigh}): at most ${pct(mk.maxMidGreyFraction)} of a mask` +
      ` (non-binary above ${pct(report.rules.nonBinaryFraction)})${soft}`,
  );
  if (report.prompts.length > 0) {
    L.push('Prompts');
    const allEmpty = report.prompts.filter((p) => p.nonEmpty === 0).map((p) => p.key);
    const lists = report.prompts.filter((p) => p.lists > 0 && p.nonEmpty > 0).map((p) => p.key);
    const strings = report.prompts.filter((p) => p.lists === 0 && p.nonEmpty > 0).map((p) => p.key);
    if (strings.length > 0) L.push(`  strings: ${strings.join(', ')}`);
    if (lists.length > 0) L.push(`  lists (one picked per sample): ${lists.join(', ')}`);
    if (allEmpty.length > 0) L.push(`  empty in every entry (do not select): ${allEmpty.join(', ')}`);
    const partial = report.prompts.filter((p) => p.missing > 0 && p.nonEmpty > 0);
    for (const p of partial) L.push(`  ${p.key} is missing from ${p.missing} entr${p.missing === 1 ? 'y' : 'ies'}`);
  }
  L.push('');
  if (report.problems.length === 0) {
    L.push('No problems found.');
  } else {
    L.push(`Problems: ${report.errors} error(s), ${report.warnings} warning(s)`);
    // Grouped by code and severity (a missing test split is a warning, a missing train split an
    // error), so that the ERROR/warning lines add up to the counts above.
    const byCode = new Map<string, Problem[]>();
    for (const p of report.problems) {
      const key = `${p.severity === 'error' ? 0 : 1}\0${p.code}`;
      let list = byCode.get(key);
      if (list === undefined) byCode.set(key, (list = []));
      list.push(p);
    }
    for (const [key, list] of [...byCode].sort(([a], [b]) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0))) {
      const code = key.slice(2) as ProblemCode;
      const sev = list[0]?.severity ?? PROBLEM_SEVERITY[code];
      L.push(`  ${sev === 'error' ? 'ERROR  ' : 'warning'} ${code} (${list.length})`);
      for (const p of list.slice(0, maxPer)) {
        const loc: string[] = [];
        const rel = p.file === undefined ? undefined : path.relative(report.dir, p.file) || p.file;
        if (rel !== undefined && !p.message.includes(rel)) loc.push(rel);
        if (p.entry !== undefined && !p.message.includes(`entry ${p.entry}`)) loc.push(`${p.split} entry ${p.entry}`);
        if (p.field !== undefined && (code === 'invalid_entry' || code === 'empty_prompt' || code === 'path_escape')) loc.push(`field "${p.field}"`);
        L.push(`      - ${loc.length > 0 ? `${loc.join(': ')}: ` : ''}${p.message}`);
      }
      if (list.length > maxPer) L.push(`      ... and ${list.length - maxPer} more`);
    }
  }
  L.push('');
  L.push(report.ok ? `Result: OK${report.warnings > 0 ? ` (${report.warnings} warning(s))` : ''}` : `Result: FAILED (${report.errors} error(s))`);
  return L.join('\n');
}
