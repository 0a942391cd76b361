/**
 * The dataset format (TuneVLSeg / medvlsm layout):
 *
 *   <dir>/images/<img_name>
 *   <dir>/masks/<mask_name>
 *   <dir>/anns/{train,val,test}.json   a JSON list of
 *        { img_name, mask_name, prompts: { p0: str | str[], p1: ..., ... }, ...extra keys }
 *
 * One entry is one (image, binary mask, prompts) sample: a multi-class dataset stores one
 * entry per (image, class mask) with the class named in the prompts, so any number of classes
 * works. Names are relative to images/ and masks/ and must stay inside them.
 *
 * Per-split folders (the original reads CAMUS from images/train, images/test): an optional
 * `<dir>/dataset.json` `{ "folders": { "test": { "images": "images/test", "masks": "masks/test" } } }`
 * names, per split, the folders its names are relative to; splits it does not name use
 * images/ and masks/. See `readLayout`. Its optional `"reference"` says how the original
 * evaluates the dataset (`ReferenceEvaluation`, `readDatasetDescription`).
 *
 * Prompt selection mirrors the reference `ImageTextMaskDataset.get_curr_prompt` with
 * `insert_stop_at_last: true`; the differences are documented in docs/data.md.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type PromptOptions, type PromptValue, promptUnavailableReason } from './prompts.js';

export * from './prompts.js';

export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

const promptValueSchema = z.union([z.string(), z.array(z.string())], {
  error: 'expected a string or a list of strings',
});

export const annotationEntrySchema = z.looseObject({
  img_name: z.string({ error: 'expected a string (file name under images/)' }).min(1, 'must not be empty'),
  mask_name: z.string({ error: 'expected a string (file name under masks/)' }).min(1, 'must not be empty'),
  prompts: z.record(z.string(), promptValueSchema, {
    error: 'expected an object mapping prompt keys (p0, p1, ...) to a string or a list of strings',
  }),
});

export type AnnotationEntry = z.infer<typeof annotationEntrySchema>;

export type FormatIssueCode =
  'missing_split' | 'malformed_json' | 'invalid_entry' | 'path_escape' | 'missing_image' | 'missing_mask' | 'prompt_unavailable';

/** One problem in a dataset's annotation files, located as precisely as possible. */
export interface FormatIssue {
  code: FormatIssueCode;
  /** The annotation file (or the data file, for missing images/masks). */
  file: string;
  /** Index of the entry in the split's JSON list. */
  entry?: number;
  /** The offending field, e.g. `img_name` or `prompts.p7[2]`. */
  field?: string;
  message: string;
}

export function formatIssue(issue: FormatIssue): string {
  const where = [issue.file];
  if (issue.entry !== undefined) where.push(`entry ${issue.entry}`);
  if (issue.field !== undefined) where.push(`field "${issue.field}"`);
  return `${where.join(': ')}: ${issue.message}`;
}

/** An error about a dataset; `issues` lists every problem found (not only the first). */
export class DatasetError extends Error {
  readonly issues: readonly FormatIssue[];

  constructor(message: string, issues: readonly FormatIssue[] = []) {
    super(message);
    this.name = 'DatasetError';
    this.issues = issues;
  }

  static fromIssues(what: string, issues: readonly FormatIssue[], show = 10): DatasetError {
    const lines = issues.slice(0, show).map((i) => `  - ${formatIssue(i)}`);
    if (issues.length > show) lines.push(`  ... and ${issues.length - show} more`);
    const n = issues.length;
    return new DatasetError(`${what}: ${n} problem${n === 1 ? '' : 's'}\n${lines.join('\n')}`, issues);
  }
}

function fieldPath(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** A valid entry together with its index in the JSON list. */
export interface IndexedEntry {
  index: number;
  entry: AnnotationEntry;
}

export interface ParsedSplit {
  file: string;
  /** Number of elements in the JSON list (valid or not); 0 when the file is malformed. */
  total: number;
  entries: IndexedEntry[];
  issues: FormatIssue[];
}

/** Parses one split file's text; never throws, every problem becomes an issue. */
export function parseSplitJson(text: string, file: string): ParsedSplit {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return { file, total: 0, entries: [], issues: [{ code: 'malformed_json', file, message: `malformed JSON: ${msg}` }] };
  }
  if (!Array.isArray(data)) {
    const got = data === null ? 'null' : typeof data === 'object' ? 'an object' : typeof data;
    return {
      file,
      total: 0,
      entries: [],
      issues: [{ code: 'malformed_json', file, message: `expected a JSON list of entries, got ${got}` }],
    };
  }
  const entries: IndexedEntry[] = [];
  const issues: FormatIssue[] = [];
  data.forEach((raw: unknown, index: number) => {
    const r = annotationEntrySchema.safeParse(raw);
    if (!r.success) {
      for (const zi of r.error.issues) {
        const field = fieldPath(zi.path);
        issues.push({
          code: 'invalid_entry',
          file,
          entry: index,
          ...(field === '' ? {} : { field }),
          message: zi.message,
        });
      }
      return;
    }
    let ok = true;
    for (const field of ['img_name', 'mask_name'] as const) {
      const why = unsafeNameReason(r.data[field]);
      if (why !== null) {
        ok = false;
        issues.push({ code: 'path_escape', file, entry: index, field, message: `${JSON.stringify(r.data[field])} ${why}` });
      }
    }
    if (ok) entries.push({ index, entry: r.data });
  });
  return { file, total: data.length, entries, issues };
}

/**
 * Why a file name from an annotation may not be used (lexically), or null when it is fine.
 * Names are relative to images/ (masks/); they may contain sub-folders but never leave them.
 */
export function unsafeNameReason(name: string): string | null {
  if (name.includes('\0')) return 'contains a NUL byte';
  if (path.isAbsolute(name) || path.win32.isAbsolute(name) || /^[A-Za-z]:/.test(name)) {
    return 'is an absolute path (names must be relative to the images/ or masks/ folder)';
  }
  const norm = path.posix.normalize(name.replaceAll('\\', '/'));
  if (norm === '..' || norm.startsWith('../')) return 'escapes the dataset folder ("../")';
  if (norm === '.' || norm.endsWith('/')) return 'is not a file name';
  return null;
}

export type DataFolder = 'images' | 'masks';

// ---------------------------------------------------------------------------------------
// Per-split folders

/** The optional file naming per-split image and mask folders. */
export const LAYOUT_FILE = 'dataset.json';

/** Where one split's files live, relative to the dataset folder. */
export interface SplitFolders {
  images: string;
  masks: string;
}

/** Every split's folders (a split the layout file does not name uses images/ and masks/). */
export type DatasetLayout = Record<Split, SplitFolders>;

export const DEFAULT_LAYOUT: DatasetLayout = {
  train: { images: 'images', masks: 'masks' },
  val: { images: 'images', masks: 'masks' },
  test: { images: 'images', masks: 'masks' },
};

/**
 * How the original's data config evaluates this dataset (`dataset.json` `"reference"`), which
 * `quirks: reference` training follows. `data convert` writes it for VOC and Cityscapes, which
 * the original reads with `configs/data/image_dir_text_mask_{jpg,png}.yaml`: val and test use
 * the training transforms, and its test set is the validation folder.
 */
export interface ReferenceEvaluation {
  /** The original's data config this describes (for the record and messages). */
  dataConfig: string;
  /** `train`: val and test go through the training augmentation; `eval`: resize and normalise only. */
  evalTransforms: 'train' | 'eval';
  /** The split the original's test set reads (`val`: the validation folder). */
  testSplit: Split;
}

const folderSchema = z.string({ error: 'expected a folder path relative to the dataset folder' }).min(1, 'must not be empty');
const layoutSchema = z.strictObject({
  folders: z.partialRecord(z.enum(SPLITS), z.strictObject({ images: folderSchema.optional(), masks: folderSchema.optional() })).optional(),
  reference: z
    .strictObject({
      dataConfig: z.string().min(1),
      evalTransforms: z.enum(['train', 'eval']),
      testSplit: z.enum(SPLITS),
    })
    .optional(),
});

/** Parses a layout file's text; returns the layout (and the reference evaluation, if any) or the problems (file and field named). */
export function parseLayoutJson(
  text: string,
  file: string,
): { layout: DatasetLayout; reference: ReferenceEvaluation | null; issues: FormatIssue[] } {
  const layout: DatasetLayout = structuredClone(DEFAULT_LAYOUT);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return {
      layout,
      reference: null,
      issues: [{ code: 'malformed_json', file, message: `malformed JSON: ${err instanceof Error ? err.message : String(err)}` }],
    };
  }
  const r = layoutSchema.safeParse(data);
  if (!r.success) {
    return {
      layout,
      reference: null,
      issues: r.error.issues.map((zi) => {
        const field = fieldPath(zi.path);
        return { code: 'invalid_entry' as const, file, ...(field === '' ? {} : { field }), message: zi.message };
      }),
    };
  }
  const issues: FormatIssue[] = [];
  for (const split of SPLITS) {
    for (const folder of ['images', 'masks'] as const) {
      const rel = r.data.folders?.[split]?.[folder];
      if (rel === undefined) continue;
      const why = unsafeNameReason(rel);
      if (why !== null)
        issues.push({ code: 'path_escape', file, field: `folders.${split}.${folder}`, message: `${JSON.stringify(rel)} ${why}` });
      else layout[split][folder] = path.posix.normalize(rel.replaceAll('\\', '/'));
    }
  }
  return { layout, reference: r.data.reference ?? null, issues };
}

/**
 * The dataset's per-split folders: `dataset.json` when present, else images/ and masks/ for
 * every split. Throws a DatasetError naming the file and field when the file is invalid.
 */
export async function readLayout(dir: string): Promise<DatasetLayout> {
  return (await readDatasetDescription(dir)).layout;
}

/** Everything `dataset.json` says (defaults when there is none); a DatasetError naming the file and field when it is invalid. */
export async function readDatasetDescription(dir: string): Promise<{ layout: DatasetLayout; reference: ReferenceEvaluation | null }> {
  const file = path.join(path.resolve(dir), LAYOUT_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { layout: structuredClone(DEFAULT_LAYOUT), reference: null };
    throw new DatasetError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const { layout, reference, issues } = parseLayoutJson(text, file);
  if (issues.length > 0) throw DatasetError.fromIssues(`dataset layout ${file}`, issues);
  return { layout, reference };
}

/** The absolute folder a split's images (or masks) are relative to. */
export function splitFolder(dir: string, layout: DatasetLayout, split: Split, folder: DataFolder): string {
  return path.join(path.resolve(dir), layout[split][folder]);
}

/** Resolves an entry's file name under `<dir>/<folder>/`; throws DatasetError if unsafe. */
export function resolveDataPath(dir: string, folder: DataFolder, name: string): string {
  const why = unsafeNameReason(name);
  if (why !== null) throw new DatasetError(`${folder}/${name}: ${why}`);
  return path.join(path.resolve(dir), folder, name);
}

/**
 * Where a (lexically safe) data file really is. `escape` when a symlink takes it outside
 * the real location of its folder (`images/` itself may be a symlink: the dataset's own
 * layout is trusted, an entry's name is not).
 */
export async function locateDataFile(
  file: string,
  realFolder: string,
): Promise<{ status: 'ok'; real: string } | { status: 'missing' } | { status: 'escape'; real: string } | { status: 'not_file' }> {
  let real: string;
  try {
    real = await fs.realpath(file);
  } catch {
    return { status: 'missing' };
  }
  const rel = path.relative(realFolder, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return { status: 'escape', real };
  try {
    const st = await fs.stat(real);
    if (!st.isFile()) return { status: 'not_file' };
  } catch {
    return { status: 'missing' };
  }
  return { status: 'ok', real };
}

/** `fs.realpath` of a dataset folder (`images`, `masks`, or a per-split one such as `images/test`), or the plain resolved path if it does not exist. */
export async function realFolder(dir: string, folder: string): Promise<string> {
  const p = path.join(path.resolve(dir), folder);
  try {
    return await fs.realpath(p);
  } catch {
    return p;
  }
}

/** One (image, mask, prompts) sample of a split, with absolute file paths. */
export interface DatasetSample {
  split: Split;
  /** Index of the entry in the split's JSON list. */
  index: number;
  imgName: string;
  maskName: string;
  imagePath: string;
  maskPath: string;
  prompts: Readonly<Record<string, PromptValue>>;
  /** The annotation file the entry comes from (for error messages). */
  annFile: string;
}

export function splitFile(dir: string, split: Split): string {
  return path.join(path.resolve(dir), 'anns', `${split}.json`);
}

// ---------------------------------------------------------------------------------------
// Loading

export interface LoadSplitOptions extends PromptOptions {
  /** Check that every image and mask exists and stays inside its folder (default true). */
  checkFiles?: boolean;
}

/**
 * Reads and validates one split. Throws a DatasetError listing every problem found:
 * malformed JSON, invalid entries (file, entry index and field named), names escaping the
 * dataset folder (`../`, absolute, symlinks), missing files, and entries that cannot get a
 * prompt with the given prompt options.
 */
export async function loadSplit(dir: string, split: Split, opts: LoadSplitOptions = {}): Promise<DatasetSample[]> {
  const file = splitFile(dir, split);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const msg = code === 'ENOENT' ? 'split file not found' : `cannot read split file (${code ?? String(err)})`;
    throw new DatasetError(`${file}: ${msg}`, [{ code: 'missing_split', file, message: msg }]);
  }
  const parsed = parseSplitJson(text, file);
  const issues = [...parsed.issues];
  const samples: DatasetSample[] = [];
  const root = path.resolve(dir);
  const layout = await readLayout(root);
  const imageDir = splitFolder(root, layout, split, 'images');
  const maskDir = splitFolder(root, layout, split, 'masks');
  for (const { index, entry } of parsed.entries) {
    samples.push({
      split,
      index,
      imgName: entry.img_name,
      maskName: entry.mask_name,
      imagePath: path.join(imageDir, entry.img_name),
      maskPath: path.join(maskDir, entry.mask_name),
      prompts: entry.prompts,
      annFile: file,
    });
    const why = promptUnavailableReason(entry.prompts, opts);
    if (why !== null) issues.push({ code: 'prompt_unavailable', file, entry: index, field: 'prompts', message: why });
  }
  if (opts.checkFiles ?? true) issues.push(...(await checkSampleFiles(dir, samples, layout)));
  if (issues.length > 0) throw DatasetError.fromIssues(`dataset ${root}, split ${split}`, issues);
  return samples;
}

/** Existence and containment checks for the files of some samples (symlinks resolved). */
export async function checkSampleFiles(
  dir: string,
  samples: readonly DatasetSample[],
  layout: DatasetLayout = DEFAULT_LAYOUT,
): Promise<FormatIssue[]> {
  const reals = new Map<string, Promise<string>>();
  const real = (rel: string): Promise<string> => {
    let p = reals.get(rel);
    if (p === undefined) reals.set(rel, (p = realFolder(dir, rel)));
    return p;
  };
  const issues: FormatIssue[] = [];
  const seen = new Map<string, Promise<Awaited<ReturnType<typeof locateDataFile>>>>();
  const locate = async (file: string, folderRel: string) => {
    let p = seen.get(file);
    if (p === undefined) {
      p = real(folderRel).then((f) => locateDataFile(file, f));
      seen.set(file, p);
    }
    return p;
  };
  const results = await Promise.all(
    samples.map(
      async (s) => [s, await locate(s.imagePath, layout[s.split].images), await locate(s.maskPath, layout[s.split].masks)] as const,
    ),
  );
  for (const [s, img, mask] of results) {
    for (const [field, res, name, kind] of [
      ['img_name', img, s.imgName, 'images'],
      ['mask_name', mask, s.maskName, 'masks'],
    ] as const) {
      if (res.status === 'ok') continue;
      const folder = layout[s.split][kind];
      const code = res.status === 'escape' ? 'path_escape' : kind === 'images' ? 'missing_image' : 'missing_mask';
      const message =
        res.status === 'escape'
          ? `${folder}/${name} is a symlink escaping the ${folder}/ folder (to ${res.real})`
          : res.status === 'not_file'
            ? `${folder}/${name} is not a regular file`
            : `${folder}/${name} not found`;
      issues.push({ code, file: s.annFile, entry: s.index, field, message });
    }
  }
  return issues;
}

/** Loads every split whose file exists (at least one must). */
export async function loadDataset(
  dir: string,
  opts: LoadSplitOptions & { splits?: readonly Split[] } = {},
): Promise<Partial<Record<Split, DatasetSample[]>>> {
  const out: Partial<Record<Split, DatasetSample[]>> = {};
  for (const split of opts.splits ?? SPLITS) {
    const exists = await fs.stat(splitFile(dir, split)).then(
      () => true,
      () => false,
    );
    if (!exists && opts.splits === undefined) continue;
    out[split] = await loadSplit(dir, split, opts);
  }
  if (Object.keys(out).length === 0) {
    throw new DatasetError(`${path.resolve(dir)}: no split file found (expected anns/train.json, anns/val.json, anns/test.json)`);
  }
  return out;
}
