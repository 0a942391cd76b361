/**
 * Pruners (Optuna 3.1 semantics) and parameter importance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MedianPruner, PercentilePruner, SuccessiveHalvingPruner, nanPercentile } from '../src/sweep/pruners.js';
import type { PruneContext } from '../src/sweep/pruners.js';
import { paramImportances } from '../src/sweep/importance.js';
import type { TrialRecord } from '../src/sweep/storage.js';
import { categorical, float, int } from '../src/sweep/space.js';
import type { SearchSpace } from '../src/sweep/space.js';
import { MT19937 } from '../src/sweep/random.js';
import { randomParams } from '../src/sweep/tpe.js';

type T = PruneContext['trials'][number];
const trial = (number: number, state: T['state'], values: number[]): T => ({
  number,
  state,
  intermediate: values.map((v, i) => [i, v] as const),
});
const ctxFor = (values: number[], trials: readonly T[], direction: 'minimize' | 'maximize' = 'minimize'): PruneContext => {
  const me = trial(99, 'running', values);
  return { trial: me, trials: [...trials, me], direction };
};

test('nanPercentile interpolates linearly like NumPy', () => {
  assert.equal(nanPercentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(nanPercentile([4, NaN, 1, 3, 2], 25), 1.75);
  assert.ok(Number.isNaN(nanPercentile([NaN], 50)));
});

test("MedianPruner prunes a trial whose best value is worse than the completed trials' median at its step", () => {
  const done = [
    trial(0, 'complete', [5, 4, 3]),
    trial(1, 'complete', [6, 5, 4]),
    trial(2, 'complete', [7, 6, 5]),
    trial(3, 'pruned', [0, 0]),
  ];
  const p = new MedianPruner({ nStartupTrials: 3 });
  assert.equal(p.prune(ctxFor([5.5, 5.2], done)), true, 'best 5.2 > median 5 at step 1');
  assert.equal(p.prune(ctxFor([5.5, 4.9], done)), false);
  assert.equal(p.prune(ctxFor([4.8, 5.2], done)), false, 'the best value so far counts');
  assert.equal(p.prune(ctxFor([5.5, 5.2], done.slice(0, 2))), false, 'fewer than nStartupTrials completed');
  assert.equal(p.prune(ctxFor([4, 4.5], done, 'maximize')), true, 'maximise: best 4.5 < median 5');
  assert.equal(p.prune(ctxFor([4, 6.5], done, 'maximize')), false);
  assert.equal(p.prune(ctxFor([5.5, NaN, NaN], done)), true, 'NaNs ignored: best 5.5 > median 4 at step 2');
  assert.equal(p.prune(ctxFor([NaN], done)), true, 'only NaNs: pruned');
  assert.equal(p.prune(ctxFor([9, 9, 9, 9], done)), false, 'nobody else reached step 3');
});

test('PercentilePruner honours warm-up and interval steps', () => {
  const done = [trial(0, 'complete', [1, 1, 1, 1, 1]), trial(1, 'complete', [2, 2, 2, 2, 2])];
  const p = new PercentilePruner({ percentile: 25, nStartupTrials: 1, nWarmupSteps: 1, intervalSteps: 2 });
  assert.equal(p.prune(ctxFor([9], done)), false, 'step 0 is warm-up');
  assert.equal(p.prune(ctxFor([9, 9], done)), true, 'step 1 is a checkpoint: 9 > 1.25');
  assert.equal(p.prune(ctxFor([9, 9, 9], done)), false, 'step 2 is between checkpoints');
  assert.equal(p.prune(ctxFor([9, 9, 9, 9], done)), true, 'step 3 is the next checkpoint');
  assert.equal(p.prune(ctxFor([9, 1.2], done)), false, '1.2 is within the best 25%');
  assert.throws(() => new PercentilePruner({ percentile: 101 }), /percentile/);
});

test('SuccessiveHalvingPruner keeps the top 1/rf at each rung', () => {
  const done = [trial(0, 'complete', [10, 9, 8, 7, 6]), trial(1, 'complete', [10, 5, 4, 3, 2])];
  const p = new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });
  assert.equal(p.prune(ctxFor([10], done)), false, 'before rung 0 (step 1)');
  assert.equal(p.prune(ctxFor([10, 7], done)), true, 'rung 0: 7 is not the best of {9, 5, 7}');
  assert.equal(p.prune(ctxFor([10, 4], done)), false, 'rung 0: 4 is promoted');
  assert.equal(p.prune(ctxFor([10, 4, 3], done)), false, 'rung 1 (step 2): 3 beats {8, 4}');
  assert.equal(p.prune(ctxFor([10, 4, 4.5], done)), true, 'rung 1: 4.5 loses to 4');
  assert.equal(p.prune(ctxFor([10, 4, 3], done, 'maximize')), true, 'maximise: 4 is not the top of {9, 5, 4} at rung 0');
  const auto = new SuccessiveHalvingPruner();
  assert.equal(auto.prune(ctxFor([1], [])), false, "min resource 'auto' waits for a completed trial");
});

test('importance ranks the parameter that drives the objective first', () => {
  const space: SearchSpace = {
    params: { lr: float(1e-5, 1e-1, { log: true }), depth: int(1, 10), act: categorical(['relu', 'gelu', 'tanh']), noise: float(0, 1) },
  };
  const rng = new MT19937(3);
  const trials: TrialRecord[] = Array.from({ length: 80 }, (_, i) => {
    const params = randomParams(space, rng);
    const value = (Math.log10(params['lr'] as number) + 3) ** 2 + (params['act'] === 'tanh' ? 0.8 : 0) + 0.02 * (params['depth'] as number);
    return {
      id: i,
      studyId: 1,
      number: i,
      seq: i,
      state: 'complete',
      params,
      value,
      intermediate: [],
      workerId: null,
      heartbeatAt: null,
      startedAt: null,
      finishedAt: null,
      retryOf: null,
      error: null,
      attrs: {},
    };
  });
  const imp = paramImportances(space, trials);
  assert.deepEqual(imp.map((x) => x.param).slice(0, 2), ['lr', 'act']);
  assert.ok(Math.abs(imp.reduce((s, x) => s + x.importance, 0) - 1) < 1e-12);
  const noise = imp.find((x) => x.param === 'noise')!;
  assert.ok(noise.importance < 0.1, `noise importance ${noise.importance}`);
  assert.equal(imp[0]!.n, 80);
  // Failed trials and too few trials contribute nothing.
  assert.ok(paramImportances(space, trials.slice(0, 2)).every((x) => x.importance === 0));
});
