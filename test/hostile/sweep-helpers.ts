// Shared by the hostile sweep tests: a tiny dataset and training config, the CLI as a child
// process, and content hashes of folder trees (to prove that earlier outputs did not change).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot, fixturesDir } from '../helpers.js';
import { generateSyntheticDataset } from '../../src/data/synthetic.js';

export const tinyModel = (): string => join(fixturesDir(), 'clipseg-tiny');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): CliResult {
  return spawnSync(process.execPath, [join(repoRoot(), 'bin', 'tunevlseg.js'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TUNEVLSEG_THREADS: '1', ...env },
    timeout: 300_000,
  });
}

/**
 * `tunevlseg sweep` of VPT on the tiny CLIPSeg with what every hostile sweep test gives it (the
 * dataset, storage, training config and runs folder), `more` flags after them, then `--quiet`.
 */
export function tinySweepArgs(
  o: { data: string; storage: string; config: string; runsDir: string; trials?: number; study?: string },
  ...more: string[]
): string[] {
  return [
    'sweep',
    ...['--dataset', o.data, '--model', tinyModel(), '--learner', 'vpt'],
    ...(o.trials !== undefined ? ['--trials', String(o.trials)] : []),
    ...(o.study !== undefined ? ['--study', o.study] : []),
    ...['--storage', o.storage, '-c', o.config, '--runs-dir', o.runsDir],
    ...more,
    '--quiet',
  ];
}

/** A synthetic dataset in <dir>/data and a one-epoch training config <dir>/train.json (extra keys merged in). */
export async function tinySweepSetup(dir: string, extra: Record<string, unknown> = {}): Promise<{ data: string; config: string }> {
  const data = join(dir, 'data');
  await generateSyntheticDataset('ultrasound', data, { size: 64, counts: { train: 8, val: 4, test: 4 }, seed: 1 });
  const config = join(dir, 'train.json');
  writeFileSync(
    config,
    JSON.stringify({
      model: { tokenizer: join(fixturesDir(), 'tokenizer'), imageSize: 64 },
      batchSize: 4,
      effectiveBatchSize: 8,
      minEpochs: 1,
      maxEpochs: 1,
      data: { workers: 0, promptKey: 'p1' },
      ...extra,
    }),
  );
  return { data, config };
}

/** Every file under `dir` (recursively) -> sha256 of its bytes; `skip` filters relative paths out. */
export function treeHashes(dir: string, skip: (rel: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      if (skip(rel)) continue;
      if (statSync(p).isDirectory()) walk(p);
      else out[rel] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** Every file under `dir`, for searching their bytes. */
export function allFiles(dir: string): string[] {
  return Object.keys(treeHashes(dir)).map((rel) => join(dir, rel));
}
