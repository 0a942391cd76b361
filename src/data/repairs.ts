/**
 * Files the decoder had to mend to read (./tiff-header.ts), told once per dataset: one line per
 * problem with how many files had it and an example, not one line per file. `data convert`,
 * `data import` and `data check` collect what their decodes report; `train`, `eval` and
 * `predict` scan the image headers of their samples before loading (`warnAboutRepairs`).
 */
import path from 'node:path';
import { pool } from './pool.js';
import { tiffFileProblem } from './tiff-header.js';

/** Counts mended files per problem. */
export class RepairTally {
  private readonly byProblem = new Map<string, Set<string>>();

  add(file: string, problem: string | undefined | null): void {
    if (problem === undefined || problem === null) return;
    let files = this.byProblem.get(problem);
    if (files === undefined) this.byProblem.set(problem, (files = new Set()));
    files.add(file);
  }

  /** Whether `file` needed a mend. */
  has(file: string): boolean {
    for (const files of this.byProblem.values()) if (files.has(file)) return true;
    return false;
  }

  get size(): number {
    return this.byProblem.size;
  }

  /** One line per problem: `<n> file(s): <problem> (e.g. <file>)`, files relative to `root`. */
  lines(root?: string): string[] {
    return [...this.byProblem].map(([problem, files]) => {
      const first = [...files].sort()[0] as string;
      const shown = root === undefined ? first : path.relative(root, first) || first;
      return `${files.size} file(s): ${problem} (e.g. ${shown})`;
    });
  }
}

/** The header problems of image files (headers only: cheap), tallied. */
export async function scanRepairs(files: readonly string[], concurrency = 8): Promise<RepairTally> {
  const tally = new RepairTally();
  const found: (string | null)[] = new Array(files.length).fill(null);
  await pool(files, concurrency, async (f, i) => {
    if (/\.tiff?$/i.test(f)) found[i] = await tiffFileProblem(f);
  });
  files.forEach((f, i) => tally.add(f, found[i]));
  return tally;
}

const told = new Set<string>();
let sink: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

/** Where the warnings go (default stderr), starting afresh (nothing told yet); returns the previous sink (tests). */
export function setRepairWarningSink(fn: (line: string) => void): (line: string) => void {
  const prev = sink;
  sink = fn;
  told.clear();
  return prev;
}

/**
 * Warns, once per process and line, about the images the decoder will mend: the commands that
 * train, evaluate or predict call it with their samples' images before loading them.
 */
export async function warnAboutRepairs(
  files: readonly string[],
  o: { root?: string; say?: (line: string) => void } = {},
): Promise<string[]> {
  const lines = (await scanRepairs(files)).lines(o.root).map((l) => `warning: ${l}`);
  for (const l of lines) {
    if (told.has(l)) continue;
    told.add(l);
    (o.say ?? sink)(l);
  }
  return lines;
}
