// `npm run parity -- <fixtures-dir>`: finds every case folder under the directory, runs the
// matching case kind, prints one JSON line per case and a final {"cases":N,"failed":M}.
import { readdirSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { TensorReport } from './compare.js';

export interface CaseResult {
  /** name -> comparison (tensors, losses, ids, counts...) */
  tensors: Record<string, TensorReport>;
  notes?: string[];
}

export interface CaseKind {
  name: string;
  /** True when this kind handles the folder (it holds case.json or cases.json). */
  matches(dir: string, caseJson: Record<string, unknown> | null): boolean;
  run(dir: string, caseJson: Record<string, unknown> | null): Promise<CaseResult> | CaseResult;
}

export interface CaseLine {
  case: string;
  kind: string;
  pass: boolean;
  tensors: Record<string, TensorReport>;
  error?: string;
  notes?: string[];
  seconds: number;
}

function readJson(p: string): Record<string, unknown> | null {
  if (!existsSync(p)) return null;
  return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
}

/** Every folder below root (root included) that holds case.json or cases.json, sorted. */
export function findCaseDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (existsSync(join(d, 'case.json')) || existsSync(join(d, 'cases.json'))) out.push(d);
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

export async function runParity(
  root: string,
  kinds: CaseKind[],
  emit: (line: CaseLine) => void = (l) => console.log(JSON.stringify(l)),
): Promise<{ cases: number; failed: number }> {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`parity: ${root} is not a folder`);
  const dirs = findCaseDirs(root);
  let failed = 0;
  for (const dir of dirs) {
    const rel = relative(root, dir) || '.';
    const t0 = performance.now();
    let line: CaseLine;
    try {
      const cj = readJson(join(dir, 'case.json')) ?? readJson(join(dir, 'cases.json'));
      const kind = kinds.find((k) => k.matches(dir, cj));
      if (!kind) {
        line = { case: rel, kind: 'unknown', pass: false, tensors: {}, error: 'no parity kind recognises this case folder', seconds: 0 };
      } else {
        const r = await kind.run(dir, cj);
        const pass = Object.keys(r.tensors).length > 0 && Object.values(r.tensors).every((t) => t.pass);
        line = { case: rel, kind: kind.name, pass, tensors: r.tensors, notes: r.notes, seconds: 0 };
        if (Object.keys(r.tensors).length === 0) line.error = 'the case compared nothing';
      }
    } catch (e) {
      line = { case: rel, kind: 'error', pass: false, tensors: {}, error: (e as Error).message, seconds: 0 };
    }
    line.seconds = Math.round(performance.now() - t0) / 1000;
    if (!line.pass) failed++;
    emit(line);
  }
  return { cases: dirs.length, failed };
}
