/**
 * Guards for everything a command writes (docs/reliability.md):
 *
 * - `ensureOutputDir`: creates an output folder one level at a time and fails at once, naming
 *   the path, when it cannot be made or written. (`mkdirSync(..., { recursive: true })` spins
 *   forever under /proc; a non-recursive walk gets a plain error there.)
 * - `requireRegularFile`: an input must be a regular file; a FIFO, socket or device would block
 *   the reader forever, a folder is a different request.
 * - `assertNoOverwrite`: no planned output may be an input file, sit inside a protected input
 *   folder (a dataset), or be planned twice (`b.jpg` and `b.png` both give `b.png`).
 *
 * Paths are compared after resolving symlinks of their nearest existing ancestor, so a
 * symlinked or `..`-spelled output folder cannot slip past.
 */
import { accessSync, constants, mkdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';

/** An output that cannot be written where asked; the message names the path. */
export class OutputPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputPathError';
  }
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/** `realpath` of the nearest existing ancestor, with the missing tail appended. */
export function canonicalPath(p: string): string {
  const abs = path.resolve(p);
  const tail: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(realpathSync(cur), ...tail.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      tail.push(path.basename(cur));
      cur = parent;
    }
  }
}

/**
 * Makes sure `dir` is a folder this process can write into, creating it (and missing parents)
 * one level at a time. `what` names the folder in errors (e.g. `--runs-dir`); the user's
 * spelling of the path is kept.
 */
export function ensureOutputDir(dir: string, what = 'output folder'): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  let cur = abs;
  let st = statOrNull(cur);
  while (st === null) {
    const parent = path.dirname(cur);
    if (parent === cur) throw new OutputPathError(`${what} ${dir}: no existing parent folder`);
    missing.push(cur);
    cur = parent;
    st = statOrNull(cur);
  }
  if (!st.isDirectory()) throw new OutputPathError(`${what} ${dir}: ${cur} is not a folder`);
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statOrNull(d)?.isDirectory()) continue;
      throw new OutputPathError(`${what} ${dir}: cannot create ${d} (${code ?? (e as Error).message})`);
    }
  }
  try {
    accessSync(abs, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new OutputPathError(`${what} ${dir}: not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  // /proc, /sys and friends pass access() for root but refuse files: probe with the filesystem.
  if (isPseudoFilesystem(abs)) throw new OutputPathError(`${what} ${dir}: a kernel pseudo-filesystem, not a place for files`);
}

const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];

function isPseudoFilesystem(abs: string): boolean {
  if (process.platform !== 'linux') return false;
  const real = canonicalPath(abs);
  return PSEUDO_ROOTS.some((r) => real === r || real.startsWith(`${r}/`));
}

/** Throws unless `file` exists and is a regular file (symlinks followed); `what` prefixes the message. */
export function requireRegularFile(file: string, what: string): void {
  const st = statOrNull(file);
  if (st === null) throw new OutputPathError(`${what}: ${file} does not exist`);
  if (st.isDirectory()) throw new OutputPathError(`${what}: ${file} is a folder`);
  if (!st.isFile()) throw new OutputPathError(`${what}: ${file} is not a regular file (a FIFO, socket or device would block reading)`);
}

/** `child` is `parent` or lies under it (absolute, canonical paths). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export interface OverwriteCheck {
  /** Files the command will write (any spelling). */
  outputs: readonly string[];
  /** Files the command reads; none may be overwritten. */
  inputs: readonly string[];
  /** Folders nothing may be written into (a dataset folder, a folder of input images). */
  protectedDirs?: readonly { dir: string; what: string }[];
  /** Names the command in messages, e.g. `predict`. */
  command: string;
  /** How the user can fix it, appended to each message. */
  hint?: string;
}

/**
 * Refuses a write plan that would overwrite an input, write inside a protected folder, or write
 * one file twice. Call it before anything is written.
 */
export function assertNoOverwrite(c: OverwriteCheck): void {
  const hint = c.hint ? `; ${c.hint}` : '';
  for (const p of c.protectedDirs ?? []) {
    const dir = canonicalPath(p.dir);
    const hit = c.outputs.find((o) => isInside(canonicalPath(o), dir));
    if (hit !== undefined) {
      throw new OutputPathError(`${c.command}: the output ${hit} would be written inside ${p.what} ${p.dir}${hint}`);
    }
  }
  const inputs = new Map(c.inputs.map((i) => [canonicalPath(i), i]));
  const planned = new Map<string, string>();
  for (const o of c.outputs) {
    const key = canonicalPath(o);
    const input = inputs.get(key);
    if (input !== undefined) throw new OutputPathError(`${c.command}: the output ${o} would overwrite the input ${input}${hint}`);
    const twice = planned.get(key);
    if (twice !== undefined) throw new OutputPathError(`${c.command}: two outputs are the same file ${o}${hint}`);
    planned.set(key, o);
  }
}
