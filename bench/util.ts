// Helpers shared by the benchmarks: timing, medians, the PyTorch baseline runner.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** `--name value` from the command line as a non-negative number, or `fallback` when absent. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} expects a number, got ${process.argv[i + 1]}`);
  return v;
}

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

/**
 * A PyTorch baseline kept running beside the benchmark: each call sends one line (a command)
 * and awaits one JSON line back. Lets a bench interleave our runs with PyTorch's, so both see
 * the same machine load.
 */
export class PythonWorker {
  private readonly proc: import('node:child_process').ChildProcessWithoutNullStreams;
  private buf = '';
  private waiting: ((line: string) => void)[] = [];
  private stderr = '';
  constructor(script: string, args: string[] = []) {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: install Debian's python3-torch (scripts/bootstrap.sh)`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.proc = spawnChild(PYTHON, [script, ...args]);
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    this.proc.stdout.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.waiting.shift()?.(line);
      }
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: `python exited ${code}: ${this.stderr}` }));
    });
  }
  call<T>(cmd: string): Promise<T> {
    return new Promise((resolve, reject) => {
      this.waiting.push((line) => {
        const v = JSON.parse(line) as T & { error?: string };
        if (v.error) reject(new Error(v.error));
        else resolve(v);
      });
      this.proc.stdin.write(cmd + '\n');
    });
  }
  close(): void {
    this.proc.stdin.end();
  }
}
import { spawn as spawnChild } from 'node:child_process';
