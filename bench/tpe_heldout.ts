/**
 * The second set of functions used to choose DEFAULT_SETTINGS (see docs/sweep.md): median best
 * value after 30 trials over 200 seeds (1000..1199), DEFAULT_SETTINGS against OPTUNA_SETTINGS
 * (which reproduces Optuna 3.1's multivariate TPE, see the parity test), both through
 * `sampleForTrial`.
 *
 *   node dist/bench/tpe_heldout.js [--seeds 200]
 */

import { DEFAULT_SETTINGS, OPTUNA_SETTINGS, sampleForTrial, tpeOptionsFromSettings } from '../src/sweep/tpe.js';
import type { TpeSettings } from '../src/sweep/tpe.js';
import type { Params, SearchSpace } from '../src/sweep/space.js';
import { median, runSerial } from './tpe.js';

type Fn = { space: SearchSpace; f: (p: Params) => number };
const box = (lo: number, hi: number, n: number): SearchSpace => ({
  params: Object.fromEntries(Array.from({ length: n }, (_, i) => [`x${i}`, { type: 'float', low: lo, high: hi }])) as SearchSpace['params'],
});
const xs = (p: Params, n: number): number[] => Array.from({ length: n }, (_, i) => p[`x${i}`] as number);
const H3A = [
  [3, 10, 30],
  [0.1, 10, 35],
  [3, 10, 30],
  [0.1, 10, 35],
];
const H3P = [
  [0.3689, 0.117, 0.2673],
  [0.4699, 0.4387, 0.747],
  [0.1091, 0.8732, 0.5547],
  [0.03815, 0.5743, 0.8828],
];
const HAL = [1, 1.2, 3, 3.2];

export const HELD_OUT: Record<string, Fn> = {
  rosenbrock2: {
    space: box(-2, 2, 2),
    f: (p) => {
      const [x, y] = xs(p, 2) as [number, number];
      return (1 - x) ** 2 + 100 * (y - x * x) ** 2;
    },
  },
  camel6: {
    space: { params: { x0: { type: 'float', low: -3, high: 3 }, x1: { type: 'float', low: -2, high: 2 } } },
    f: (p) => {
      const [x, y] = xs(p, 2) as [number, number];
      return (4 - 2.1 * x * x + x ** 4 / 3) * x * x + x * y + (-4 + 4 * y * y) * y * y;
    },
  },
  goldstein: {
    space: box(-2, 2, 2),
    f: (p) => {
      const [x, y] = xs(p, 2) as [number, number];
      return (
        (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x * x - 14 * y + 6 * x * y + 3 * y * y)) *
        (30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x * x + 48 * y - 36 * x * y + 27 * y * y))
      );
    },
  },
  levy4: {
    space: box(-10, 10, 4),
    f: (p) => {
      const w = xs(p, 4).map((x) => 1 + (x - 1) / 4);
      let s = Math.sin(Math.PI * w[0]!) ** 2;
      for (let i = 0; i < 3; i++) s += (w[i]! - 1) ** 2 * (1 + 10 * Math.sin(Math.PI * w[i]! + 1) ** 2);
      return s + (w[3]! - 1) ** 2 * (1 + Math.sin(2 * Math.PI * w[3]!) ** 2);
    },
  },
  styblinski4: { space: box(-5, 5, 4), f: (p) => 0.5 * xs(p, 4).reduce((s, x) => s + x ** 4 - 16 * x * x + 5 * x, 0) },
  ackley3: {
    space: box(-5, 5, 3),
    f: (p) => {
      const x = xs(p, 3);
      const a = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / 3);
      const b = x.reduce((s, v) => s + Math.cos(2 * Math.PI * v), 0) / 3;
      return -20 * Math.exp(-0.2 * a) - Math.exp(b) + 20 + Math.E;
    },
  },
  hartmann3: {
    space: box(0, 1, 3),
    f: (p) => {
      const x = xs(p, 3);
      let t = 0;
      for (let i = 0; i < 4; i++) {
        let s = 0;
        for (let j = 0; j < 3; j++) s += H3A[i]![j]! * (x[j]! - H3P[i]![j]!) ** 2;
        t += HAL[i]! * Math.exp(-s);
      }
      return -t;
    },
  },
  logsphere3: {
    space: {
      params: {
        a: { type: 'float', low: 1e-5, high: 1, log: true },
        b: { type: 'float', low: 1e-4, high: 10, log: true },
        c: { type: 'int', low: 1, high: 1000, log: true },
      },
    },
    f: (p) =>
      (Math.log10(p['a'] as number) + 2.2) ** 2 + (Math.log10(p['b'] as number) + 0.5) ** 2 / 2 + (Math.log10(p['c'] as number) - 1.7) ** 2,
  },
  mixed2: {
    space: {
      params: {
        lr: { type: 'float', low: 1e-6, high: 1e-2, log: true },
        wd: { type: 'float', low: 1e-5, high: 1e-1, log: true },
        depth: { type: 'int', low: 1, high: 12 },
        opt: { type: 'categorical', choices: ['sgd', 'adam', 'adamw'] },
        heads: { type: 'categorical', choices: [4, 8, 16] },
        drop: { type: 'float', low: 0, high: 0.5, step: 0.05 },
      },
    },
    f: (p) => {
      const u = Math.log10(p['lr'] as number) + 3.5 + (p['opt'] === 'sgd' ? 1 : 0);
      const d = (p['depth'] as number) - 8;
      return (
        u * u +
        0.3 * (Math.log10(p['wd'] as number) + 3) ** 2 +
        0.05 * d * d +
        (p['opt'] === 'adamw' ? 0 : 0.3) +
        (p['heads'] === 8 ? 0 : 0.2) +
        2 * ((p['drop'] as number) - 0.15) ** 2 +
        (0.2 * Math.abs(u) * d * d) / 16
      );
    },
  },
};

function main(): void {
  const i = process.argv.indexOf('--seeds');
  const seeds = i >= 0 ? Number(process.argv[i + 1]) : 200;
  const run = (fn: Fn, settings: TpeSettings): number => {
    const o = tpeOptionsFromSettings(settings);
    const best: number[] = [];
    for (let seed = 1000; seed < 1000 + seeds; seed++)
      best.push(runSerial(fn, 30, (space, h, seq) => sampleForTrial(space, h, { ...o, seed, seq })));
    return median(best);
  };
  const result: Record<string, { ours: number; optuna_settings: number }> = {};
  console.log(`held-out functions: 30 trials, ${seeds} seeds, median best (lower is better)`);
  console.log(`${'function'.padEnd(12)} ${'ours'.padStart(12)} ${'optuna-set'.padStart(12)}`);
  for (const [name, fn] of Object.entries(HELD_OUT)) {
    result[name] = { ours: run(fn, DEFAULT_SETTINGS), optuna_settings: run(fn, OPTUNA_SETTINGS) };
    console.log(
      `${name.padEnd(12)} ${result[name].ours.toPrecision(6).padStart(12)} ${result[name].optuna_settings.toPrecision(6).padStart(12)}`,
    );
  }
  console.log(JSON.stringify({ functions: result, seeds, trials: 30 }));
}

main();
