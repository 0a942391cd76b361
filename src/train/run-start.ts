/**
 * Starting a run folder without ever losing one (docs/reliability.md; the layout itself is
 * src/train/run-folder.ts):
 *
 * - a new run's folder is made only after the config, the data and the model have been
 *   validated and built; until its first resume state is written, a failure (or Ctrl-C) removes
 *   it again, so no half-made folder blocks the retry ("already exists") without being
 *   resumable ("nothing to resume");
 * - `--overwrite` moves the old folder aside (`<runsDir>/.<name>.replaced-<pid>`), and deletes
 *   it only once the new run has its first resume state; a failure before that puts it back;
 * - config.json records absolute paths (data.dir, local model and tokenizer folders), so that
 *   `eval` and `--resume` work from any directory.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TrainConfig } from './config.js';
import { canonicalPath, isInside } from '../util/output-guard.js';

export interface RunFolderStart {
  /** The run is resumable now: drop the replaced folder, if any. */
  commit(): void;
  /** The start failed: remove the new folder and put the replaced one back. */
  rollback(): void;
}

function isNonEmptyDir(p: string): boolean {
  try {
    return statSync(p).isDirectory() && readdirSync(p).length > 0;
  } catch {
    return false;
  }
}

/** Creates `<runDir>/checkpoints`; with `replace`, an existing run folder is moved aside first. */
export function startRunFolder(runDir: string, replace: boolean): RunFolderStart {
  const abs = path.resolve(runDir);
  let aside: string | null = null;
  if (existsSync(abs)) {
    if (!statSync(abs).isDirectory()) throw new Error(`run folder ${abs}: a file of that name exists; pick another name`);
    if (isNonEmptyDir(abs) && !replace) {
      throw new Error(`run folder ${abs} already exists: resume it (--resume), pick another name, or overwrite it`);
    }
    aside = path.join(path.dirname(abs), `.${path.basename(abs)}.replaced-${process.pid}`);
    rmSync(aside, { recursive: true, force: true });
    renameSync(abs, aside);
  }
  let done = false;
  const rollback = (): void => {
    if (done) return;
    done = true;
    process.off('exit', rollback);
    rmSync(abs, { recursive: true, force: true });
    if (aside !== null) renameSync(aside, abs);
  };
  // A second Ctrl-C exits at once: the half-made folder must not outlive the process.
  process.on('exit', rollback);
  try {
    mkdirSync(path.join(abs, 'checkpoints'), { recursive: true });
  } catch (e) {
    rollback();
    throw e;
  }
  return {
    commit: () => {
      if (done) return;
      done = true;
      process.off('exit', rollback);
      if (aside !== null) rmSync(aside, { recursive: true, force: true });
    },
    rollback,
  };
}

/**
 * The run folder may neither lie inside an input (the dataset, a local model or tokenizer folder)
 * nor contain one: `--name images --runs-dir data --overwrite` would otherwise replace the
 * dataset's images, and `--runs-dir . --name data --overwrite` the whole dataset.
 */
export function checkRunFolderPlacement(runDir: string, config: TrainConfig): void {
  const run = canonicalPath(runDir);
  const inputs: [string, string][] = [[config.data.dir, 'the dataset folder (data.dir)']];
  for (const k of ['model', 'tokenizer']) {
    const v = config.model[k];
    if (typeof v === 'string' && existsSync(v)) inputs.push([v, `the model config's ${k} folder`]);
  }
  for (const [p, what] of inputs) {
    const input = canonicalPath(p);
    if (isInside(run, input) || isInside(input, run)) {
      throw new Error(`run folder ${runDir}: overlaps ${what} ${p}; put runs elsewhere (--runs-dir) or pick another --name`);
    }
  }
}

/** A local path as an absolute one; anything else (a preset, a hub id) unchanged. */
function absoluteIfLocal(v: unknown): unknown {
  if (typeof v !== 'string' || v === '') return v;
  return existsSync(v) ? path.resolve(v) : v;
}

/** The configuration with absolute paths, as config.json and the checkpoints record it. */
export function withAbsolutePaths(config: TrainConfig): TrainConfig {
  const model = { ...config.model };
  for (const k of ['model', 'tokenizer']) if (k in model) model[k] = absoluteIfLocal(model[k]);
  return { ...config, runsDir: path.resolve(config.runsDir), data: { ...config.data, dir: path.resolve(config.data.dir) }, model };
}
