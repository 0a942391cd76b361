/**
 * Reading a bench folder's files leniently (docs/report.md): JSON and JSONL readers that record
 * a problem naming the file (and line) instead of throwing, the trainer's non-finite numbers,
 * and the path checks every reader shares. Nothing here knows what a cell is.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';

export interface Problem {
  /** The file (or folder), relative to the bench folder. */
  file: string;
  message: string;
  /** The cell's folder name, when the problem belongs to a cell. */
  cell?: string;
}

/** JSON.parse that restores `{"$number": "Infinity"}` (the trainer's non-finite numbers). */
export function parseJsonText(text: string): unknown {
  return JSON.parse(text, (_k, x: unknown) => {
    if (typeof x === 'object' && x !== null && !Array.isArray(x)) {
      const keys = Object.keys(x);
      if (keys.length === 1 && keys[0] === '$number') return Number((x as { $number: unknown }).$number);
    }
    return x;
  });
}

export const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export const zodIssues = (e: z.ZodError): string =>
  e.issues.map((i) => (i.path.length ? `field "${i.path.join('.')}": ${i.message}` : i.message)).join('; ');

export const finiteOrNull = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
export const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Collects the problems met while reading one bench folder. */
export class Ctx {
  problems: Problem[] = [];
  constructor(readonly benchDir: string) {}
  rel(p: string): string {
    const r = path.relative(this.benchDir, p);
    return r === '' ? '.' : r.split(path.sep).join('/');
  }
  add(file: string, message: string, cell?: string): void {
    this.problems.push({ file: this.rel(file), message, ...(cell !== undefined ? { cell } : {}) });
  }
  readJson(file: string, cell?: string): unknown {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      this.add(file, `cannot read: ${errMessage(e)}`, cell);
      return undefined;
    }
    try {
      return parseJsonText(text);
    } catch (e) {
      this.add(file, `malformed JSON: ${errMessage(e)}`, cell);
      return undefined;
    }
  }
  /** Parsed lines of a JSONL file; a torn last line (no newline) is ignored, other bad lines are problems. */
  readJsonl(file: string, cell?: string): Array<{ line: number; value: unknown }> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      this.add(file, `cannot read: ${errMessage(e)}`, cell);
      return [];
    }
    const lines = text.split('\n');
    const out: Array<{ line: number; value: unknown }> = [];
    lines.forEach((l, i) => {
      if (l.trim() === '') return;
      try {
        out.push({ line: i + 1, value: parseJsonText(l) });
      } catch (e) {
        const torn = i === lines.length - 1 && !text.endsWith('\n');
        if (!torn) this.add(file, `line ${i + 1}: malformed JSON: ${errMessage(e)}`, cell);
      }
    });
    return out;
  }
}

export const isDir = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};
export const isFile = (p: string): boolean => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** A relative path that stays inside its folder. */
export const safeName = (n: string): boolean =>
  n !== '' && !path.isAbsolute(n) && !/^[A-Za-z]:[\\/]/.test(n) && !n.split(/[\\/]/).includes('..');
