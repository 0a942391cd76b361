/**
 * A run's configuration, resolved and read back: from a config file and overrides (what `train`
 * and a sweep's trials start from: defaults < file < key flags < `--model k=v` < `--set k=v`),
 * and from a run folder's config.json (what `--resume`, `eval` and `predict` of a run read).
 * Torch-free, so the CLI resolves a config before it loads libtorch.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseJson } from '../util/json.js';
import {
  applyOverrides,
  configLeaves,
  keyPaths,
  parseAssignments,
  parseFlagValue,
  parseTrainConfig,
  readConfigFile,
  type ConfigSources,
  type TrainConfig,
} from './config.js';
import { RUN_FILES, runFiles } from './run-folder.js';

export interface ConfigRequest {
  /** A YAML or JSON config file. */
  file?: string | undefined;
  /** Config keys given by their own flags: [key, raw value, flag]. */
  leaves: readonly [string, string, string][];
  /** `--model k=v` values, parsed: [model key, value, where from]. */
  model: readonly [string, unknown, string][];
  /** `--set a.b=value` items. */
  set: readonly string[];
  /** One line per epoch instead of a progress bar. */
  quiet?: boolean | undefined;
}

/**
 * Resolves a configuration from a file (optional) and overrides: defaults < file < key flags <
 * --model k=v < --set k=v. Returns it with the source of every key (for error messages).
 */
export function resolveTrainConfig(r: ConfigRequest): { config: TrainConfig; sources: ConfigSources } {
  const sources: ConfigSources = new Map();
  let base: Record<string, unknown> = {};
  if (r.file) {
    base = readConfigFile(r.file);
    for (const k of keyPaths(base)) sources.set(k, r.file);
  }
  const leaves = new Map(configLeaves().map((l) => [l.key, l]));
  const overrides: [string, unknown][] = [];
  for (const [key, raw, flag] of r.leaves) {
    overrides.push([key, parseFlagValue(leaves.get(key), raw)]);
    sources.set(key, flag);
  }
  const modelSets = r.model.map(([k, v, from]): [string, unknown, string] => [`model.${k}`, v, from]);
  for (const [k, v, from] of [...modelSets, ...parseAssignments(r.set, '--set')]) {
    overrides.push([k, v]);
    sources.set(k, from);
  }
  if (r.quiet) overrides.push(['progress', 'lines']);
  const merged = applyOverrides(base, overrides);
  return { config: parseTrainConfig(merged, sources), sources };
}

/** Reads a run folder's resolved configuration (config.json). */
export function readRunConfig(runDir: string): TrainConfig {
  const file = runFiles(runDir).config;
  if (!existsSync(file)) throw new Error(`${runDir}: not a run folder (no config.json)`);
  return parseTrainConfig(parseJson<unknown>(readFileSync(file, 'utf8')));
}

/** A run given as a folder, or as a name under runsDir (`train --resume`). */
export function locateRun(run: string, runsDir: string): string {
  if (existsSync(path.join(run, RUN_FILES.config))) return path.resolve(run);
  const under = path.join(runsDir, run);
  if (existsSync(path.join(under, RUN_FILES.config))) return path.resolve(under);
  throw new Error(
    `--resume ${run}: no run folder there (looked for ${path.resolve(run, RUN_FILES.config)} and ${path.resolve(under, RUN_FILES.config)})`,
  );
}

/**
 * The configuration `--resume` continues: the run's saved config.json, where the folder is now,
 * with the progress display asked for (else the run's).
 */
export function resumeConfig(runDir: string, progress?: TrainConfig['progress']): TrainConfig {
  const saved = readRunConfig(runDir);
  const dir = path.resolve(runDir);
  return parseTrainConfig({ ...saved, runsDir: path.dirname(dir), name: path.basename(dir), progress: progress ?? saved.progress });
}
