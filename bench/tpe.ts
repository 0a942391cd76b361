/**
 * TPE benchmark: our sampler against Optuna 3.1's on the same functions and trial budget.
 *
 *   npx tsc -p <config> && node dist/bench/tpe.js [--trials 30] [--seeds 20] [--univariate]
 *
 * For each function and seed 0..seeds-1, a serial study of `trials` trials (minimisation) is
 * run with
 *   - ours: `sampleForTrial` with DEFAULT_SETTINGS, what studies use by default,
 *   - ours/optuna-rng: `TPESampler` with OPTUNA_SETTINGS, driven by Optuna's random streams,
 *     which reproduces Optuna's numbers (a parity check, not a contender),
 *   - random: uniform random search, for scale,
 * and `/usr/bin/python3 bench/tpe_optuna.py` runs `optuna.samplers.TPESampler(seed=seed,
 * multivariate=True, n_startup_trials=10)`. Both sides use multivariate TPE (as the paper's
 * sweeps did) unless --univariate. Printed: the median over seeds of the best value found.
 * The last stdout line is a JSON object {"functions": {name: {"ours": x, "optuna": y}}, ...}.
 */

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Params, SearchSpace } from '../src/sweep/space.js';
import { DEFAULT_SETTINGS, OPTUNA_SETTINGS, TPESampler, randomParams, sampleForTrial, tpeOptionsFromSettings } from '../src/sweep/tpe.js';
import type { TpeOptions, TrialObservation } from '../src/sweep/tpe.js';
import { MT19937 } from '../src/sweep/random.js';

interface BenchFunction {
  readonly space: SearchSpace;
  readonly f: (p: Params) => number;
}

const num = (p: Params, k: string): number => p[k] as number;

const HA = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const HP = [
  [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
  [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
  [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.665],
  [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
];
const HALPHA = [1.0, 1.2, 3.0, 3.2];
const ACT: Record<string, number> = { relu: 0.35, gelu: 0.0, tanh: 0.9, silu: 0.15 };

/** Must stay identical to FUNCTIONS in bench/tpe_optuna.py. */
export const FUNCTIONS: Record<string, BenchFunction> = {
  branin: {
    space: { params: { x1: { type: 'float', low: -5, high: 10 }, x2: { type: 'float', low: 0, high: 15 } } },
    f: (p) => {
      const x1 = num(p, 'x1');
      const x2 = num(p, 'x2');
      const b = 5.1 / (4 * Math.PI ** 2);
      const c = 5 / Math.PI;
      return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10;
    },
  },
  hartmann6: {
    space: {
      params: Object.fromEntries([0, 1, 2, 3, 4, 5].map((i) => [`x${i}`, { type: 'float', low: 0, high: 1 }])) as SearchSpace['params'],
    },
    f: (p) => {
      let total = 0;
      for (let i = 0; i < 4; i++) {
        let inner = 0;
        for (let j = 0; j < 6; j++) inner += (HA[i] as number[])[j]! * (num(p, `x${j}`) - (HP[i] as number[])[j]!) ** 2;
        total += HALPHA[i]! * Math.exp(-inner);
      }
      return -total;
    },
  },
  mixed: {
    space: {
      params: {
        lr: { type: 'float', low: 1e-5, high: 1e-1, log: true },
        depth: { type: 'int', low: 1, high: 10 },
        act: { type: 'categorical', choices: ['relu', 'gelu', 'tanh', 'silu'] },
      },
    },
    f: (p) => {
      const u = (Math.log10(num(p, 'lr')) + 5) / 4;
      const v = (num(p, 'depth') - 1) / 9;
      return 3 * (u - 0.68) ** 2 + 2 * (v - 0.55) ** 2 + 1.5 * (u - 0.68) * (v - 0.55) + ACT[p['act'] as string]!;
    },
  },
};

type Proposer = (space: SearchSpace, history: readonly TrialObservation[], seq: number) => Params;

/** Best value of one serial study. */
export function runSerial(fn: BenchFunction, trials: number, propose: Proposer): number {
  const history: TrialObservation[] = [];
  let best = Infinity;
  for (let i = 0; i < trials; i++) {
    const params = propose(fn.space, history, i);
    const value = fn.f(params);
    history.push({ params, state: 'complete', value });
    best = Math.min(best, value);
  }
  return best;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function main(): void {
  const trials = arg('--trials', 30);
  const seeds = arg('--seeds', 20);
  const multivariate = !process.argv.includes('--univariate');
  const ours: TpeOptions = tpeOptionsFromSettings({ ...DEFAULT_SETTINGS, multivariate, nStartupTrials: 10 });
  const optunaLike: TpeOptions = tpeOptionsFromSettings({ ...OPTUNA_SETTINGS, multivariate, nStartupTrials: 10 });

  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const py = spawnSync(
    '/usr/bin/python3',
    [path.join(root, 'bench', 'tpe_optuna.py'), String(trials), String(seeds), ...(multivariate ? [] : ['--univariate'])],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    },
  );
  if (py.status !== 0) throw new Error(`bench/tpe_optuna.py failed (status ${py.status}): ${py.stderr}`);
  const optuna = JSON.parse(py.stdout.trim().split('\n').at(-1) as string) as {
    optuna_version: string;
    functions: Record<string, number[]>;
  };

  const result: Record<string, { ours: number; optuna: number; ours_optuna_rng: number; random: number }> = {};
  console.log(
    `TPE bench: ${trials} trials, ${seeds} seeds, ${multivariate ? 'multivariate' : 'univariate'} TPE, median of best value (lower is better)`,
  );
  console.log(
    `${'function'.padEnd(11)} ${'ours'.padStart(11)} ${'optuna'.padStart(11)} ${'ours/opt-rng'.padStart(13)} ${'random'.padStart(11)}`,
  );
  for (const [name, fn] of Object.entries(FUNCTIONS)) {
    const oursValues: number[] = [];
    const oursOptunaRng: number[] = [];
    const random: number[] = [];
    for (let seed = 0; seed < seeds; seed++) {
      oursValues.push(runSerial(fn, trials, (space, history, seq) => sampleForTrial(space, history, { ...ours, seed, seq })));
      const sampler = new TPESampler({ ...optunaLike, seed });
      oursOptunaRng.push(runSerial(fn, trials, (space, history) => sampler.sample(space, history)));
      const rng = new MT19937(seed);
      random.push(runSerial(fn, trials, (space) => randomParams(space, rng)));
    }
    const opt = optuna.functions[name];
    if (!opt) throw new Error(`tpe_optuna.py returned no results for ${name}`);
    result[name] = { ours: median(oursValues), optuna: median(opt), ours_optuna_rng: median(oursOptunaRng), random: median(random) };
    const r = result[name];
    const fmt = (x: number, w: number): string => x.toFixed(6).padStart(w);
    console.log(`${name.padEnd(11)} ${fmt(r.ours, 11)} ${fmt(r.optuna, 11)} ${fmt(r.ours_optuna_rng, 13)} ${fmt(r.random, 11)}`);
  }
  const met = Object.values(result).every((r) => r.ours <= r.optuna);
  console.log(`target (ours <= optuna on every function): ${met ? 'met' : 'NOT met'}`);
  console.log(JSON.stringify({ functions: result, trials, seeds, multivariate, optuna_version: optuna.optuna_version, target_met: met }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
