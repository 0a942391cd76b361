// The demo's flags -> DemoOptions: integer and positive checks naming the flag, `--learners`
// (or all) with "did you mean", `--model` as a folder and/or model config keys.
import type { DemoOptions } from '../demo/run.js';
import { demoAllLearners } from '../demo/settings.js';
import type { LearnerName } from '../learners/types.js';
import { checkModelKeys, modelFlagConfig } from './model-flag.js';
import { learnerList } from './flags.js';

export interface DemoFlags {
  runDir?: string;
  overwrite?: boolean;
  model: string[];
  learners?: string;
  steps?: string;
  lr?: string;
  batchSize?: number;
  depth?: string;
  numContext?: string;
  train?: string;
  val?: string;
  test?: string;
  sourceTest?: string;
  seed?: number;
  quirks?: 'fixed' | 'reference';
  threads?: number;
  json?: boolean;
  quiet?: boolean;
}

function int(flag: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  return x;
}

function pos(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!(x > 0) || !Number.isFinite(x)) throw new Error(`${flag}: expected a positive number, got ${JSON.stringify(v)}`);
  return x;
}

/** `--learners a,b,c` (or all) -> learner names; unknown names are refused with "did you mean". */
export function parseLearnerList(v: string): LearnerName[] {
  if (v.trim() === 'all') return demoAllLearners();
  try {
    return (learnerList(v, undefined) as string).split(',') as LearnerName[];
  } catch (e) {
    throw new Error(`--learners: ${(e as Error).message}`);
  }
}

/** `--model` values: a base model folder and/or key=value keys for every learner's model config. */
function demoModel(values: string[]): { modelDir?: string; modelConfig: Record<string, unknown> } {
  const { model, ...modelConfig } = modelFlagConfig(values);
  if ('learner' in modelConfig) throw new Error('demo: choose learners with --learners, not --model learner=...');
  checkModelKeys(modelConfig, '--model');
  return { ...(model !== undefined ? { modelDir: String(model) } : {}), modelConfig };
}

/** Every option the flags set (the run's signal and log are the command's). */
export function demoOptionsOf(f: DemoFlags): Omit<DemoOptions, 'signal' | 'log'> {
  const counts = Object.fromEntries(
    (
      [
        ['train', f.train],
        ['val', f.val],
        ['test', f.test],
      ] as const
    )
      .map(([k, v]) => [k, int(`--${k}`, v)] as const)
      .filter(([, v]) => v !== undefined),
  );
  return {
    ...(f.runDir ? { runDir: f.runDir } : {}),
    ...(f.overwrite ? { overwrite: true } : {}),
    ...demoModel(f.model),
    ...(f.learners ? { learners: parseLearnerList(f.learners) } : {}),
    ...(f.steps !== undefined ? { steps: int('--steps', f.steps)! } : {}),
    ...(f.lr !== undefined ? { lr: pos('--lr', f.lr)! } : {}),
    ...(f.batchSize !== undefined ? { batchSize: f.batchSize } : {}),
    ...(f.depth !== undefined ? { depth: int('--depth', f.depth)! } : {}),
    ...(f.numContext !== undefined ? { numContext: int('--num-context', f.numContext)! } : {}),
    ...(f.sourceTest !== undefined ? { sourceTestImages: int('--source-test', f.sourceTest)! } : {}),
    ...(f.seed !== undefined ? { seed: f.seed } : {}),
    ...(f.quirks !== undefined ? { quirks: f.quirks } : {}),
    ...(f.threads !== undefined ? { threads: f.threads } : {}),
    targetCounts: counts,
  };
}
