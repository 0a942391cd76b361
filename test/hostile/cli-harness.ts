// Shared by the test/hostile/ suite: runs the real `tunevlseg` binary on tiny models and
// synthetic data, and hashes folders so a test can prove that nothing it did not mean to write
// changed.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { generateSyntheticDataset } from '../../src/data/synthetic.js';
import { fixturesDir, repoRoot } from '../helpers.js';

export const bin = path.join(repoRoot(), 'bin', 'tunevlseg.js');
export const tinyModel = path.join(fixturesDir(), 'clipseg-tiny');
export const tinyTokenizer = path.join(fixturesDir(), 'tokenizer');

/** `--model` flags of the tiny CLIPSeg with a text learner (a few seconds per training run). */
export const tinyModelFlags = ['--model', tinyModel, '--model', `tokenizer=${tinyTokenizer}`, '--model', 'learner=coop'];

/** Flags of a short training run on a 32 px synthetic dataset. */
export const quickTrainFlags = [
  '--image-size',
  '32',
  '--loader-threads',
  '0',
  '--batch-size',
  '2',
  '--effective-batch-size',
  '2',
  '--min-epochs',
  '1',
  '--max-epochs',
  '1',
  '--progress',
  'none',
];

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for matching a message wherever it went. */
  all: string;
}

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ ...process.env, TUNEVLSEG_THREADS: '1', ...extra });

/** Runs the CLI to completion; `timeout` kills a hang (the test then fails on the status). */
export function tvs(args: string[], o: { cwd?: string; env?: Record<string, string>; timeout?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    cwd: o.cwd ?? process.cwd(),
    env: env(o.env),
    timeout: o.timeout ?? 120_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}\n${r.stderr}` };
}

/** Starts the CLI in the background (for two processes at once and Ctrl-C). */
export function tvsStart(args: string[], o: { cwd?: string } = {}): { child: ReturnType<typeof spawn>; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [bin, ...args], { cwd: o.cwd ?? process.cwd(), env: env() });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr, all: `${stdout}\n${stderr}` }));
  });
  return { child, done };
}

/** Polls until `cond` holds (or throws after `ms`). */
export async function waitFor(cond: () => boolean, ms = 120_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** sha256 of every file under `dir` (relative path -> hash); symlinks and FIFOs by their kind only. */
export function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      const rel = path.relative(dir, p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out[rel] = createHash('sha256').update(readFileSync(p)).digest('hex');
      else out[rel] = st.isSymbolicLink() ? 'symlink' : 'special';
    }
  };
  walk(dir);
  return out;
}

/** A tiny synthetic dataset (32 px, 4/2/2 samples). */
export async function makeDataset(dir: string): Promise<string> {
  await generateSyntheticDataset('ultrasound', dir, { size: 32, counts: { train: 4, val: 2, test: 2 }, seed: 2 });
  return dir;
}
