// Helpers shared by the benchmarks: timing, medians, the PyTorch baseline runner.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs fn `warmup` times untimed, then `runs` times; returns seconds per run. */
export function timeRuns(fn: () => void, runs: number, warmup = 1): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}

export const PYTHON = process.env.TUNEVLSEG_TORCH_PYTHON ?? '/usr/bin/python3';

/** Runs a PyTorch baseline script and returns the JSON object on its last stdout line. */
export function runPython<T>(script: string, args: string[] = []): T {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: install Debian's python3-torch (scripts/bootstrap.sh --bench)`);
  const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

export const fmt = (s: number): string => `${(s * 1000).toFixed(1)} ms`;
