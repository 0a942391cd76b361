/**
 * `tunevlseg data check <dir>`: every problem of a dataset folder, with counts, never stopping
 * at the first one. The rules are described in docs/data.md. checkDataset runs the steps in
 * order (layout, folders, splits, duplicates, prompts, files, pair sizes, summary), each
 * reporting into one ProblemLog (check-problems.ts); the file steps are in check-files.ts.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_LAYOUT,
  type DatasetLayout,
  LAYOUT_FILE,
  parseLayoutJson,
  type IndexedEntry,
  type PromptValue,
  parseSplitJson,
  SPLITS,
  type Split,
  sortPromptKeys,
  splitFile,
  usablePromptKeys,
} from './format.js';
import {
  type CheckRules,
  countByCode,
  DEFAULT_CHECK_RULES,
  issueCode,
  PROBLEM_SEVERITY,
  type Problem,
  type ProblemCode,
  ProblemLog,
  type Severity,
} from './check-problems.js';
import { checkFiles, checkPairSizes, collectFileUses, type FileTally, pct, usedFolders } from './check-files.js';

export { type CheckRules, DEFAULT_CHECK_RULES, PROBLEM_SEVERITY, type Problem, type ProblemCode, type Severity } from './check-problems.js';

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

function isEmptyValue(v: PromptValue): boolean {
  return typeof v === 'string' ? v.trim() === '' : v.every((s) => s.trim() === '');
}

/** Checks a dataset folder and reports every problem found (never throws for dataset problems). */
export async function checkDataset(dir: string, opts: CheckOptions = {}): Promise<CheckReport> {
  const root = path.resolve(dir);
  const rules: CheckRules = { ...DEFAULT_CHECK_RULES, ...opts.rules };
  const log = new ProblemLog();
  const rootStat = await fs.stat(root).catch(() => null);
  if (!rootStat?.isDirectory()) {
    // One problem, not one per missing sub-folder and split file.
    log.add('missing_folder', rootStat ? 'not a folder' : 'no such folder', { file: root });
    return emptyReport(root, rules, log.problems);
  }
  const layout = await readLayout(root, log);
  const folderExists = await checkFolders(root, layout, log);
  const { splits, entriesBySplit } = await readSplits(root, log);
  checkDuplicates(root, layout, entriesBySplit, log);
  const prompts = checkPrompts(root, entriesBySplit, log);
  const { uses, pairs } = collectFileUses(root, layout, entriesBySplit);
  const tally = await checkFiles(root, layout, uses, folderExists, rules, opts.concurrency ?? os.availableParallelism(), log);
  checkPairSizes(root, pairs, tally, log);
  return summarise(root, rules, layout, log.problems, splits, tally, prompts);
}

/** The per-split folders of dataset.json (the default layout without one). */
async function readLayout(root: string, log: ProblemLog): Promise<DatasetLayout> {
  const layoutFile = path.join(root, LAYOUT_FILE);
  const layoutText = await fs.readFile(layoutFile, 'utf8').catch(() => null);
  if (layoutText === null) return DEFAULT_LAYOUT;
  const parsed = parseLayoutJson(layoutText, layoutFile);
  for (const i of parsed.issues) {
    log.add(issueCode(i), i.message, {
      file: i.file,
      ...(i.field !== undefined ? { field: i.field } : {}),
    });
  }
  return parsed.layout;
}

/** Every folder the layout names, and anns/: which exist (a missing one is reported once). */
async function checkFolders(root: string, layout: DatasetLayout, log: ProblemLog): Promise<Record<string, boolean>> {
  const folderExists: Record<string, boolean> = {};
  for (const folder of [...usedFolders(layout), 'anns']) {
    const p = path.join(root, folder);
    const st = await fs.stat(p).catch(() => null);
    folderExists[folder] = st?.isDirectory() ?? false;
    if (!folderExists[folder]) log.add('missing_folder', `${folder}/ folder not found`, { file: p });
  }
  return folderExists;
}

/** The split files: each one's summary and its valid entries (missing, unreadable, malformed and empty splits reported). */
async function readSplits(
  root: string,
  log: ProblemLog,
): Promise<{ splits: Record<Split, SplitSummary | null>; entriesBySplit: Map<Split, IndexedEntry[]> }> {
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
        log.addWithSeverity('missing_split', 'warning', `${why} (datasets without a test split can still be trained)`, { file, split });
      } else {
        log.add('missing_split', why, { file, split });
      }
      continue;
    }
    const parsed = parseSplitJson(text, file);
    for (const i of parsed.issues) {
      log.add(issueCode(i), i.message, {
        file: i.file,
        split,
        ...(i.entry !== undefined ? { entry: i.entry } : {}),
        ...(i.field !== undefined ? { field: i.field } : {}),
      });
    }
    if (parsed.total === 0 && parsed.issues.length === 0) {
      // Training needs train and val entries (the trainer refuses an empty one); a test split may be empty.
      const severity: Severity = split === 'test' ? 'warning' : 'error';
      log.addWithSeverity('empty_split', severity, `the split has no entries${split === 'test' ? '' : ' (training needs some)'}`, {
        file,
        split,
      });
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
  return { splits, entriesBySplit };
}

/** Duplicate entries within a split; images used by more than one split (leakage). */
function checkDuplicates(root: string, layout: DatasetLayout, entriesBySplit: ReadonlyMap<Split, IndexedEntry[]>, log: ProblemLog): void {
  const imageSplits = new Map<string, Set<Split>>();
  for (const [split, entries] of entriesBySplit) {
    const seen = new Map<string, number>();
    for (const { index, entry } of entries) {
      const key = `${entry.img_name}\0${entry.mask_name}`;
      const first = seen.get(key);
      if (first !== undefined) {
        log.add(
          'duplicate_entry',
          `duplicates entry ${first} (img_name ${JSON.stringify(entry.img_name)}, mask_name ${JSON.stringify(entry.mask_name)})`,
          {
            file: splitFile(root, split),
            split,
            entry: index,
          },
        );
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
    if (s.size > 1)
      log.add('split_overlap', `${path.relative(root, file)} is used in ${[...s].join(' and ')} (data leakage between splits)`, { file });
  }
}

/** Each prompt key's use over all valid entries; entries without a usable prompt, and keys empty in some entries only. */
function checkPrompts(root: string, entriesBySplit: ReadonlyMap<Split, IndexedEntry[]>, log: ProblemLog): PromptKeySummary[] {
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
        log.add('empty_prompt', 'the entry has no non-empty prompt', { file, split, entry: index, field: 'prompts' });
        continue;
      }
      for (const key of sortPromptKeys(Object.keys(entry.prompts))) {
        const value = entry.prompts[key] as PromptValue;
        // A key empty in every entry (like the benchmark's p0) is a convention, not an error.
        if (isEmptyValue(value) && (keyStats.get(key)?.nonEmpty ?? 0) > 0) {
          log.add('empty_prompt', `prompt "${key}" is empty here but not in other entries`, {
            file,
            split,
            entry: index,
            field: `prompts.${key}`,
          });
        }
      }
    }
  }
  return sortPromptKeys(keyStats.keys()).map((k) => keyStats.get(k) as PromptKeySummary);
}

/** The report: problems in a stable order (code, split, entry, file) with their counts, and the summaries. */
function summarise(
  root: string,
  rules: CheckRules,
  layout: DatasetLayout,
  problems: Problem[],
  splits: Record<Split, SplitSummary | null>,
  tally: FileTally,
  prompts: PromptKeySummary[],
): CheckReport {
  const sizeCounts = new Map<string, { width: number; height: number; count: number }>();
  for (const [w, h] of tally.imageSizes.values()) {
    const k = `${w}x${h}`;
    const c = sizeCounts.get(k);
    if (c === undefined) sizeCounts.set(k, { width: w, height: h, count: 1 });
    else c.count++;
  }
  const bySize = [...sizeCounts.values()];
  const byArea = [...bySize].sort((a, b) => a.width * a.height - b.width * b.height || a.width - b.width);
  const counts = countByCode(problems);
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
      checked: tally.imagesChecked,
      readable: tally.imageSizes.size,
      distinctSizes: bySize.length,
      minSize: first ? [first.width, first.height] : null,
      maxSize: last ? [last.width, last.height] : null,
      commonSizes: bySize.sort((a, b) => b.count - a.count || a.width - b.width).slice(0, 5),
      formats: tally.imageFormats,
    },
    masks: {
      checked: tally.masksChecked,
      readable: tally.maskSizes.size,
      formats: tally.maskFormats,
      maxMidGreyFraction: tally.maxMid,
      softEdgeMasks: tally.softEdges,
      meanForeground: tally.maskSizes.size > 0 ? tally.fgSum / tally.maskSizes.size : 0,
    },
    prompts,
    rules,
    layout,
  };
}

function emptyReport(dir: string, rules: CheckRules, problems: Problem[]): CheckReport {
  const errors = problems.filter((p) => p.severity === 'error').length;
  const counts = countByCode(problems);
  return {
    dir,
    ok: errors === 0,
    errors,
    warnings: problems.length - errors,
    counts,
    problems,
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
  const lines: string[] = [];
  const fmtCounts = (r: Record<string, number>): string =>
    Object.entries(r)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  lines.push(`Dataset check: ${report.dir}`);
  const perSplit = SPLITS.some((s) => report.layout[s].images !== 'images' || report.layout[s].masks !== 'masks');
  if (perSplit) {
    lines.push(
      `Folders (${LAYOUT_FILE}): ${SPLITS.map((s) => `${s} ${report.layout[s].images}/ + ${report.layout[s].masks}/`).join('; ')}`,
    );
  }
  lines.push('');
  lines.push('Splits');
  for (const split of SPLITS) {
    const s = report.splits[split];
    if (s === null) {
      lines.push(`  ${split.padEnd(5)}  (missing)`);
      continue;
    }
    if (s.malformed) {
      lines.push(`  ${split.padEnd(5)}  (malformed JSON)`);
      continue;
    }
    const invalid = s.entries - s.validEntries;
    lines.push(
      `  ${split.padEnd(5)}  ${String(s.entries).padStart(6)} entries${invalid > 0 ? ` (${invalid} invalid)` : ''}, ${s.images} images, ${s.masks} masks`,
    );
  }
  const im = report.images;
  lines.push('Images');
  lines.push(`  ${im.readable}/${im.checked} readable; formats: ${fmtCounts(im.formats)}`);
  if (im.minSize !== null && im.maxSize !== null) {
    const common = im.commonSizes.map((c) => `${c.width}x${c.height} (${c.count})`).join(', ');
    lines.push(`  ${im.distinctSizes} distinct sizes, ${im.minSize.join('x')} to ${im.maxSize.join('x')}; most common: ${common}`);
  }
  const mk = report.masks;
  lines.push('Masks');
  lines.push(`  ${mk.readable}/${mk.checked} readable; formats: ${fmtCounts(mk.formats)}; mean foreground ${pct(mk.meanForeground)}`);
  const soft =
    mk.softEdgeMasks > 0 ? `; ${mk.softEdgeMasks} mask(s) have a few (soft edges or JPEG ringing: fine, thresholded at 0.5)` : '';
  lines.push(
    `  mid-grey pixels (gray ${report.rules.midGreyLow}-${report.rules.midGreyHigh}): at most ${pct(mk.maxMidGreyFraction)} of a mask` +
      ` (non-binary above ${pct(report.rules.nonBinaryFraction)})${soft}`,
  );
  if (report.prompts.length > 0) {
    lines.push('Prompts');
    const allEmpty = report.prompts.filter((p) => p.nonEmpty === 0).map((p) => p.key);
    const lists = report.prompts.filter((p) => p.lists > 0 && p.nonEmpty > 0).map((p) => p.key);
    const strings = report.prompts.filter((p) => p.lists === 0 && p.nonEmpty > 0).map((p) => p.key);
    if (strings.length > 0) lines.push(`  strings: ${strings.join(', ')}`);
    if (lists.length > 0) lines.push(`  lists (one picked per sample): ${lists.join(', ')}`);
    if (allEmpty.length > 0) lines.push(`  empty in every entry (do not select): ${allEmpty.join(', ')}`);
    const partial = report.prompts.filter((p) => p.missing > 0 && p.nonEmpty > 0);
    for (const p of partial) lines.push(`  ${p.key} is missing from ${p.missing} entr${p.missing === 1 ? 'y' : 'ies'}`);
  }
  lines.push('');
  if (report.problems.length === 0) {
    lines.push('No problems found.');
  } else {
    lines.push(`Problems: ${report.errors} error(s), ${report.warnings} warning(s)`);
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
      lines.push(`  ${sev === 'error' ? 'ERROR  ' : 'warning'} ${code} (${list.length})`);
      for (const p of list.slice(0, maxPer)) {
        const loc: string[] = [];
        const rel = p.file === undefined ? undefined : path.relative(report.dir, p.file) || p.file;
        if (rel !== undefined && !p.message.includes(rel)) loc.push(rel);
        if (p.entry !== undefined && !p.message.includes(`entry ${p.entry}`)) loc.push(`${p.split} entry ${p.entry}`);
        if (p.field !== undefined && (code === 'invalid_entry' || code === 'empty_prompt' || code === 'path_escape'))
          loc.push(`field "${p.field}"`);
        lines.push(`      - ${loc.length > 0 ? `${loc.join(': ')}: ` : ''}${p.message}`);
      }
      if (list.length > maxPer) lines.push(`      ... and ${list.length - maxPer} more`);
    }
  }
  lines.push('');
  lines.push(
    report.ok ? `Result: OK${report.warnings > 0 ? ` (${report.warnings} warning(s))` : ''}` : `Result: FAILED (${report.errors} error(s))`,
  );
  return lines.join('\n');
}
