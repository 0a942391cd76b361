/**
 * Search-space DSL: constructors, validation with paths in errors, conditional walking, and
 * the TuneVLSeg per-learner spaces of the paper.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SpaceError,
  activeDistributions,
  allDistributions,
  categorical,
  checkParams,
  contains,
  float,
  int,
  parseSpace,
  walkSpace,
} from '../src/sweep/space.js';
import { COMMON_SPACE, learnerSpace, tuneVLSegSpace } from '../src/experiment/spaces.js';
import type { LearnerName } from '../src/learners/types.js';
import type { SearchSpace } from '../src/sweep/space.js';

test('constructors build plain data and reject bad ranges', () => {
  assert.deepEqual(float(1e-5, 5e-3, { log: true }), { type: 'float', low: 1e-5, high: 5e-3, log: true });
  assert.deepEqual(int(1, 10), { type: 'int', low: 1, high: 10 });
  assert.deepEqual(int(0, 12, { step: 3 }), { type: 'int', low: 0, high: 12, step: 3 });
  assert.deepEqual(categorical([true, false]), { type: 'categorical', choices: [true, false] });
  assert.throws(() => float(0, 1, { log: true }), /low > 0/);
  assert.throws(() => float(1, 1), /low < high/);
  assert.throws(() => float(0, 1, { log: true, step: 0.1 }), /both/);
  assert.throws(() => int(0.5, 3), /integers/);
  assert.throws(() => int(1, 8, { log: true, step: 2 }), /step 1/);
  assert.throws(() => categorical([]), /non-empty/);
  // A repeated choice is kept (Optuna allows it; the original's CoCoOp sweep lists 32 twice).
  assert.deepEqual(categorical([32, 129, 32]), { type: 'categorical', choices: [32, 129, 32] });
  assert.throws(() => categorical([{} as unknown as string]), /not a string/);
});

test('parseSpace checks JSON from storage and names the path of the problem', () => {
  const ok = parseSpace(JSON.parse(JSON.stringify(tuneVLSegSpace())));
  assert.deepEqual(ok, tuneVLSegSpace());
  assert.throws(
    () => parseSpace({ params: { lr: { type: 'float', low: 0, high: 1, log: true } } }),
    (e: unknown) => e instanceof SpaceError && /space\.params\.lr/.test(e.message),
  );
  assert.throws(() => parseSpace({ params: { a: { type: 'normal', low: 0, high: 1 } } }), /unknown type/);
  assert.throws(() => parseSpace({ params: {}, extra: 1 }), /unexpected key "extra"/);
  assert.throws(
    () => parseSpace({ params: { k: categorical(['a']) }, when: { k: { b: { params: {} } } } }),
    /space\.when\.k\.b.*not one of the choices/,
  );
  assert.throws(() => parseSpace({ params: { x: float(0, 1) }, when: { x: {} } }), /must be a categorical/);
  assert.throws(
    () => parseSpace({ params: { k: categorical(['a']) }, when: { k: { a: { params: { k: float(0, 1) } } } } }),
    /defined twice/,
  );
});

test('walkSpace opens sub-spaces by the values chosen, in order', () => {
  const space: SearchSpace = {
    params: { model: categorical(['small', 'big']), lr: float(1e-4, 1e-1, { log: true }) },
    when: { model: { big: { params: { layers: int(2, 8) } }, small: { params: { width: int(8, 64) } } } },
  };
  const order: string[] = [];
  const params = walkSpace(space, (name, d) => {
    order.push(name);
    return name === 'model' ? 'big' : d.type === 'int' ? d.low : 0.01;
  });
  assert.deepEqual(order, ['model', 'lr', 'layers']);
  assert.deepEqual(params, { model: 'big', lr: 0.01, layers: 2 });
  const active = activeDistributions(tuneVLSegSpace(), {
    learner: 'maple',
    lr: 1e-3,
    weight_decay: 1e-4,
    prompt_depth: 3,
    intermediate_dim: 64,
    use_lora_proj: false,
  });
  assert.deepEqual([...active.keys()], ['learner', 'lr', 'weight_decay', 'prompt_depth', 'intermediate_dim', 'use_lora_proj']);
});

test('checkParams and contains enforce ranges, steps and the active set', () => {
  const space = learnerSpace('shared_attn');
  const good = { lr: 2e-4, weight_decay: 1e-3, prompt_depth: 4, nhead: 20, dropout: 0.3, dim_feedforward: 1280, norm_first: true };
  checkParams(space, good);
  assert.throws(() => checkParams(space, { ...good, nhead: 24 }), /nhead/);
  assert.throws(() => checkParams(space, { ...good, prompt_depth: 11 }), /prompt_depth/);
  assert.throws(() => checkParams(space, { ...good, extra: 1 }), /not active/);
  const { dropout: _d, ...missing } = good;
  assert.throws(() => checkParams(space, missing), /dropout.*missing/);
  assert.equal(contains(int(0, 12, { step: 3 }), 6), true);
  assert.equal(contains(int(0, 12, { step: 3 }), 7), false);
  assert.equal(contains(float(0.1, 0.55, { step: 0.05 }), 0.35000000000000003), true);
  assert.equal(contains(categorical([null, 1]), null), true);
});

test("TuneVLSeg spaces follow the paper's Tab. 2", () => {
  assert.deepEqual(COMMON_SPACE.params, {
    lr: { type: 'float', low: 1e-5, high: 5e-3, log: true },
    weight_decay: { type: 'float', low: 1e-5, high: 1e-2, log: true },
    prompt_depth: { type: 'int', low: 1, high: 10 },
  });
  const own = (l: LearnerName): string[] => Object.keys(learnerSpace(l).params).filter((k) => !(k in COMMON_SPACE.params));
  assert.deepEqual(own('coop'), []);
  assert.deepEqual(own('vpt'), []);
  assert.deepEqual(own('cocoop'), ['intermediate_dim', 'use_lora_proj']);
  // The original sweep config (configs/hparams_search) offers CoCoOp {32, 129}.
  assert.deepEqual(learnerSpace('cocoop').params['intermediate_dim'], { type: 'categorical', choices: [32, 129] });
  assert.deepEqual(learnerSpace('maple').params['intermediate_dim'], { type: 'categorical', choices: [32, 64, 96] });
  assert.deepEqual(learnerSpace('shared_separate').params['shared_dim'], { type: 'categorical', choices: [32, 64] });
  const sa = learnerSpace('shared_attn').params;
  assert.deepEqual(sa['nhead'], { type: 'categorical', choices: [16, 20, 32] });
  assert.deepEqual(sa['dropout'], { type: 'float', low: 0.1, high: 0.55 });
  assert.deepEqual(sa['dim_feedforward'], { type: 'categorical', choices: [1280, 1420] });
  assert.deepEqual(sa['norm_first'], { type: 'categorical', choices: [true, false] });
  assert.throws(() => learnerSpace('bogus' as never), /unknown learner/);
  const all = allDistributions(tuneVLSegSpace(['vpt', 'maple']));
  assert.deepEqual([...all.keys()], ['learner', 'lr', 'weight_decay', 'prompt_depth', 'intermediate_dim', 'use_lora_proj']);
});
