/**
 * The pipeline shared by `data convert` and `data import`: raw samples in, a checked dataset
 * folder out. It picks splits (published annotations, or seeded ratios over groups), writes
 * images and binary masks through a staging folder, writes anns/{train,val,test}.json with
 * prompts, and runs `data check` on the staged result: the folder is moved into place only
 * when the check finds no error (published annotations' own entry problems aside, which
 * `--anns` keeps byte for byte), so a failure leaves nothing behind. An output inside one of
 * the inputs is refused before anything is written.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { attributePrompts, maskAttributes, type ImagePixels } from '../attributes.js';
import { type CheckReport, checkDataset, formatCheckReport, type ProblemCode } from '../check.js';
import {
  DatasetError,
  DEFAULT_LAYOUT,
  type DatasetLayout,
  LAYOUT_FILE,
  parseSplitJson,
  SPLITS,
  type ReferenceEvaluation,
  type Split,
} from '../format.js';
import { ImageError, openImage } from '../image.js';
import { assertNoOverwrite } from '../../util/output-guard.js';
import { pool } from '../pool.js';
import { RepairTally } from '../repairs.js';
import { encodeMask, readPixelsSmall } from './masks.js';
import { assignSplits } from './split.js';
import { StagingDir } from './staging.js';
import type { MaskOut, RawSample } from './types.js';

export interface BuildOptions {
  /** Dataset name for messages. */
  dataset: string;
  out: string;
  /** Split ratios (the paper's sizes, or `--split 0.8,0.1,0.1`). */
  sizes: Readonly<Record<Split, number>>;
  seed?: number;
  /** Prompts p0..p6 from the masks (else p0 "" and p1 the class). */
  attributes?: boolean;
  /** A folder with the published anns/{train,val,test}.json: their splits, names and prompts are kept. */
  anns?: string;
  layout?: DatasetLayout;
  /** How the original evaluates the dataset (dataset.json `"reference"`), when it differs from the default. */
  reference?: ReferenceEvaluation;
  /** Files processed at once. Default: available cores x 2 (decoding waits on I/O too). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** The command, for messages. Default `data convert`. */
  command?: 'data convert' | 'data import';
  /** Folders the command reads: nothing may be written inside them (the raw folder, --images, --masks, --anns). */
  inputs?: readonly { dir: string; what: string }[];
  /** What a sample's `group` is, for messages ("video sequence", "patient", "group"). */
  groupWord?: string;
}

export interface BuildResult {
  out: string;
  /** Images and entries written per split. */
  counts: Record<Split, { images: number; entries: number }>;
  /** Groups per split when the samples have groups (video sequences, patients), else null. */
  groups: Record<Split, number> | null;
  /** Raw files left out, each with the reason (a mask without an image, ...). */
  skipped: string[];
  /** Things the user should know once (files the decoder mended, masks read a special way, leaky published splits). */
  notes: string[];
  check: CheckReport;
}

/** Errors of published annotations that `--anns` keeps as published (the files are fine). */
const PUBLISHED_ENTRY_CODES: ReadonlySet<ProblemCode> = new Set(['duplicate_entry', 'empty_prompt']);

export interface AnnEntry {
  img_name: string;
  mask_name: string;
  prompts: Record<string, string | string[]>;
  [key: string]: unknown;
}

interface Published {
  texts: Partial<Record<Split, string>>;
  /** Files the annotations name, as `<folder>/<name>` relative to the dataset. */
  needImages: Set<string>;
  needMasks: Set<string>;
  /** Where each needed file is first named, for messages. */
  where: Map<string, string>;
  /** The splits each image (`<folder>/<name>`) is used in. */
  imageSplits: Map<string, Set<Split>>;
}

async function readPublished(dir: string, layout: DatasetLayout): Promise<Published> {
  const pub: Published = { texts: {}, needImages: new Set(), needMasks: new Set(), where: new Map(), imageSplits: new Map() };
  const issues = [];
  for (const split of SPLITS) {
    const file = path.join(path.resolve(dir), `${split}.json`);
    const text = await fs.readFile(file, 'utf8').catch(() => null);
    if (text === null) continue;
    const parsed = parseSplitJson(text, file);
    issues.push(...parsed.issues);
    pub.texts[split] = text;
    for (const { index, entry } of parsed.entries) {
      const img = path.posix.join(layout[split].images, entry.img_name);
      const mask = path.posix.join(layout[split].masks, entry.mask_name);
      pub.needImages.add(img);
      pub.needMasks.add(mask);
      let used = pub.imageSplits.get(img);
      if (used === undefined) pub.imageSplits.set(img, (used = new Set()));
      used.add(split);
      if (!pub.where.has(img)) pub.where.set(img, `${split}.json entry ${index}`);
      if (!pub.where.has(mask)) pub.where.set(mask, `${split}.json entry ${index}`);
    }
  }
  if (issues.length > 0) throw DatasetError.fromIssues(`published annotations ${dir}`, issues);
  if (Object.keys(pub.texts).length === 0) {
    throw new DatasetError(
      `${path.resolve(dir)}: no train.json, val.json or test.json (--anns names the folder holding them, e.g. medvlsm's data/<dataset>/anns)`,
    );
  }
  return pub;
}

/** Writes the sample's image; returns what the decoder mended to read it, if anything. */
async function writeImage(stage: StagingDir, s: RawSample, rel: string, px: ImagePixels | null): Promise<string | undefined> {
  const img = s.image;
  if (img.kind === 'copy') {
    await stage.copy(img.file, rel);
    return undefined;
  }
  try {
    let png: Buffer;
    let repair: string | undefined;
    if (img.kind === 'png' && px === null) {
      // Through the shared decoder: a mended TIFF header gives its RGB; colour photos are
      // written as 3-channel PNGs (alpha dropped, as every reader of the dataset drops it).
      const opened = await openImage(img.file, { failOn: 'error' });
      repair = opened.repair;
      const image = opened.image;
      png = await image.removeAlpha().png({ compressionLevel: 3 }).toBuffer();
    } else {
      const p = px ?? (img.kind === 'pixels' ? await img.load() : null);
      if (p === null) throw new Error('no pixels');
      png = await sharp(p.data, { raw: { width: p.width, height: p.height, channels: p.channels as 1 | 3 } })
        .png({ compressionLevel: 3 })
        .toBuffer();
    }
    await stage.write(rel, png);
    return repair;
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError(img.file, `cannot convert to PNG: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Builds the dataset folder from raw samples; see the module comment. */
export async function buildDataset(samples: readonly RawSample[], skipped: readonly string[], opts: BuildOptions): Promise<BuildResult> {
  const layout = opts.layout ?? DEFAULT_LAYOUT;
  const folderOf = (s: RawSample, kind: 'images' | 'masks'): string => (s.folder === undefined ? kind : `${kind}/${s.folder}`);
  // Two raw files must not land on one output name.
  const names = new Map<string, string>();
  for (const s of samples) {
    const rel = path.posix.join(folderOf(s, 'images'), s.imageName);
    const prev = names.get(rel);
    if (prev !== undefined) throw new DatasetError(`${opts.dataset}: ${prev} and ${s.id} would both become ${rel}`);
    names.set(rel, s.id);
  }

  assertNoOverwrite({
    outputs: [opts.out],
    inputs: [],
    protectedDirs: opts.inputs ?? [],
    command: opts.command ?? 'data convert',
    hint: 'choose an --out outside the folders the command reads',
  });
  const published = opts.anns === undefined ? null : await readPublished(opts.anns, layout);
  const imageRel = (s: RawSample): string => path.posix.join(folderOf(s, 'images'), s.imageName);
  const chosen = published === null ? [...samples] : samples.filter((s) => published.needImages.has(imageRel(s)));
  const splits = published === null ? assignSplits(chosen, opts.sizes, opts.seed ?? 0) : null;
  const notes: string[] = [];
  const splitOf = (s: RawSample, i: number): Split[] =>
    splits !== null ? [splits[i] as Split] : [...(published?.imageSplits.get(imageRel(s)) ?? [])];
  const groups = groupCounts(chosen, splitOf);
  if (splits !== null && groups !== null) {
    // Training needs train and val; a test split may be absent (a data check warning).
    const empty = (['train', 'val'] as const).filter(
      (sp) => opts.sizes[sp] > 0 && groups.perSplit[sp] === 0 && chosen.some((s) => (s.candidates ?? SPLITS).includes(sp)),
    );
    if (empty.length > 0) {
      const word = opts.groupWord ?? 'group';
      throw new DatasetError(
        `${opts.dataset}: the ${chosen.length} samples come from ${groups.total} ${word}(s), too few to give ${empty.join(' and ')} one ` +
          `without splitting a ${word} across splits (frames of one ${word} in train and test would leak); add samples, or keep the published split with --anns`,
      );
    }
  }
  if (published !== null && groups !== null && groups.leaking.length > 0) {
    const word = opts.groupWord ?? 'group';
    const eg = groups.leaking
      .slice(0, 3)
      .map((g) => `${word} ${g.name}: ${g.splits.join(', ')}`)
      .join('; ');
    notes.push(
      `the published split puts ${groups.leaking.length} of ${groups.total} ${word}s in more than one split (e.g. ${eg}): kept as published (--anns); without --anns each ${word} stays in one split`,
    );
  }

  const stage = await StagingDir.create(opts.out);
  const repairs = new RepairTally();
  const written = new Set<string>();
  const entries = new Map<number, AnnEntry[]>();
  const failures: string[] = [];
  let done = 0;
  try {
    if (layout !== DEFAULT_LAYOUT || opts.reference) {
      const description = {
        ...(layout !== DEFAULT_LAYOUT ? { folders: layout } : {}),
        ...(opts.reference ? { reference: opts.reference } : {}),
      };
      await stage.write(LAYOUT_FILE, `${JSON.stringify(description, null, 2)}\n`);
    }
    await pool(chosen, opts.concurrency ?? os.availableParallelism() * 2, async (s, i) => {
      try {
        let masks: MaskOut[] = await s.masks();
        const maskRel = (m: MaskOut): string => path.posix.join(folderOf(s, 'masks'), m.maskName);
        if (published !== null) masks = masks.filter((m) => published.needMasks.has(maskRel(m)));
        // Frames the converter decodes are written from their pixels; colour words need the
        // image too, at low resolution (the mean colour under a mask does not need more).
        const px = s.image.kind === 'pixels' ? await s.image.load() : null;
        const colourPx = published === null && opts.attributes ? (px ?? (await readPixelsSmall(s.image.file))) : null;
        const imgRel = imageRel(s);
        repairs.add(s.id, await writeImage(stage, s, imgRel, px));
        written.add(imgRel);
        const list: AnnEntry[] = [];
        for (const m of masks) {
          const rel = maskRel(m);
          repairs.add(`the mask of ${s.id}`, m.repair);
          if (m.copyFrom !== undefined) await stage.copy(m.copyFrom, rel);
          else await stage.write(rel, await encodeMask(m.mask, m.maskName));
          written.add(rel);
          if (published === null) {
            const a = maskAttributes(m.mask, colourPx, undefined, m.gray);
            const prompts = opts.attributes ? attributePrompts(m.className, a) : { p0: '', p1: m.className };
            list.push({
              img_name: s.imageName,
              mask_name: m.maskName,
              prompts,
              class: m.className,
              ...(a.bbox !== null ? { bbox: a.bbox } : {}),
            });
          }
        }
        entries.set(i, list);
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
      opts.onProgress?.(++done, chosen.length);
    });
    if (failures.length > 0) {
      const shown = failures.slice(0, 10).map((f) => `  - ${f}`);
      if (failures.length > 10) shown.push(`  ... and ${failures.length - 10} more`);
      throw new DatasetError(
        `${opts.dataset}: ${failures.length} file(s) could not be converted (nothing was written):\n${shown.join('\n')}`,
      );
    }
    const counts = { train: { images: 0, entries: 0 }, val: { images: 0, entries: 0 }, test: { images: 0, entries: 0 } };
    if (published !== null) {
      const missing = [...published.needImages, ...published.needMasks].filter((n) => !written.has(n));
      if (missing.length > 0) {
        const shown = missing.slice(0, 10).map((n) => `  - ${n} (${published.where.get(n)})`);
        if (missing.length > 10) shown.push(`  ... and ${missing.length - 10} more`);
        throw new DatasetError(
          `${opts.dataset}: ${missing.length} file(s) named by the published annotations were not found in the raw folder (nothing was written):\n${shown.join('\n')}`,
        );
      }
      // Kept byte for byte: splits, names, prompts and every extra key stay as published.
      for (const [split, text] of Object.entries(published.texts) as [Split, string][]) {
        await stage.write(path.join('anns', `${split}.json`), text);
        const list = JSON.parse(text) as AnnEntry[];
        counts[split] = { images: new Set(list.map((e) => e.img_name)).size, entries: list.length };
      }
    } else {
      const bySplit: Record<Split, AnnEntry[]> = { train: [], val: [], test: [] };
      chosen.forEach((_, i) => {
        const split = (splits as Split[])[i] as Split;
        const list = entries.get(i) ?? [];
        bySplit[split].push(...list);
        counts[split].images++;
        counts[split].entries += list.length;
      });
      for (const split of SPLITS) {
        // A test split the dataset has no images for (VOC, Cityscapes) gets no file, as
        // published; train and val always exist (an empty one is a data check warning).
        if (split === 'test' && counts.test.images === 0) continue;
        await stage.write(path.join('anns', `${split}.json`), `${JSON.stringify(bySplit[split], null, 1)}\n`);
      }
    }
    // The result's own check decides whether it is moved into place.
    const check = relocate(await checkDataset(stage.dir), stage.dir, stage.out);
    const blocking = check.problems.filter((p) => p.severity === 'error' && !(published !== null && PUBLISHED_ENTRY_CODES.has(p.code)));
    if (blocking.length > 0) {
      throw new DatasetError(
        `${opts.dataset}: the result fails its check (${blocking.length} error(s)), so nothing was written to ${stage.out}:\n${formatCheckReport(check)}`,
      );
    }
    await stage.commit();
    notes.unshift(...repairs.lines());
    return { out: stage.out, counts, groups: groups?.perSplit ?? null, skipped: [...skipped], notes, check };
  } catch (err) {
    await stage.abort();
    throw err;
  }
}

/** Groups per split, and the groups whose samples are in more than one split; null without groups. */
function groupCounts(
  samples: readonly RawSample[],
  splitOf: (s: RawSample, i: number) => Split[],
): {
  total: number;
  perSplit: Record<Split, number>;
  leaking: { name: string; splits: Split[] }[];
} | null {
  if (!samples.some((s) => s.group !== undefined)) return null;
  const of = new Map<string, Set<Split>>();
  samples.forEach((s, i) => {
    const g = s.group ?? `\0${s.id}`;
    let set = of.get(g);
    if (set === undefined) of.set(g, (set = new Set()));
    for (const sp of splitOf(s, i)) set.add(sp);
  });
  const perSplit: Record<Split, number> = { train: 0, val: 0, test: 0 };
  const leaking: { name: string; splits: Split[] }[] = [];
  for (const [name, set] of of) {
    for (const sp of set) perSplit[sp]++;
    if (set.size > 1 && !name.startsWith('\0')) leaking.push({ name, splits: SPLITS.filter((sp) => set.has(sp)) });
  }
  leaking.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  return { total: of.size, perSplit, leaking };
}

/** The report of a staged folder, with its paths as they are once the folder is in place. */
function relocate(report: CheckReport, from: string, to: string): CheckReport {
  const move = (p: string): string => (p === from || p.startsWith(`${from}${path.sep}`) ? to + p.slice(from.length) : p);
  const problems = report.problems.map((p) => ({
    ...p,
    message: p.message.split(from).join(to),
    ...(p.file !== undefined ? { file: move(p.file) } : {}),
  }));
  const splits = Object.fromEntries(
    SPLITS.map((s) => [s, report.splits[s] === null ? null : { ...report.splits[s], file: move(report.splits[s].file) }]),
  ) as CheckReport['splits'];
  return { ...report, dir: to, problems, splits };
}
