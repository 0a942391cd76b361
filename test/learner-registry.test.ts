// Adding a learner: a throw-away VPT variant defined here, registered with `registerLearner` and no
// other edit, is picked up by `inspect`, the sweep space (a real one-trial sweep), the bench grid,
// the factory's config validation and the report's labels and order; removing it forgets it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  BaseLearner, LEARNER_NAMES, commonOptions, isLearnerName, learnerEntry, learnersFor, registerLearner, LearnerConfigError,
  type LearnerEntry, type LearnerHost, type PromptPair,
} from '../src/learners/index.js';
import { randomVectors } from '../src/learners/base.js';
import { runInspect } from '../src/cli/inspect.js';
import { sweep, sweepSpace } from '../src/cli/sweep.js';
import { benchCells } from '../src/cli/bench.js';
import { learnerLabel, learnerOrder } from '../src/report/paper.js';
import { openStorage, summarizeStudy } from '../src/sweep/index.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { fixturesDir } from './helpers.js';

const TINY = join(fixturesDir(), 'clipseg-tiny');
const NAME = 'vpt_half';

/** VPT whose prompt tokens enter at half scale: a learner this repository does not have. */
const vptHalfSchema = z.object({ ...commonOptions }).strict();
class VptHalfLearner extends BaseLearner {
  readonly name = NAME;
  readonly usesText = false;
  readonly usesVision = true;
  readonly options: z.output<typeof vptHalfSchema>;
  constructor(options: Record<string, unknown>, host: LearnerHost) {
    const o = vptHalfSchema.parse(options);
    if (host.visionDim === null) throw new LearnerConfigError(`${NAME}: needs a token-based vision encoder`);
    super(randomVectors([o.depth, o.numContext, host.visionDim], o.vectorStd));
    this.options = o;
  }
  prompts(layer: number): PromptPair {
    return { vision: this.ctx(layer).mul(0.5) };
  }
  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}

const ENTRY: LearnerEntry = {
  name: NAME, label: 'VPT/2', title: 'VPT (half scale)', summary: 'VPT prompts at half scale (test learner)',
  schema: vptHalfSchema, create: (o, h) => new VptHalfLearner(o, h), text: false, vision: true, models: ['clipseg'],
  referenceClass: 'VPTHalfContextLearner', referenceWrappers: { clipseg: 'VPTCLIPSeg' }, referenceDefaults: {},
  searchRows: { numContext: { type: 'categorical', choices: [2, 3] } },
};

test('a registered learner is known everywhere that reads the registry, and forgotten when removed', async () => {
  assert.equal(isLearnerName(NAME), false);
  const unregister = registerLearner(ENTRY);
  try {
    assert.ok(LEARNER_NAMES.includes(NAME));
    assert.deepEqual(learnersFor('cris').includes(NAME), false);
    assert.throws(() => registerLearner(ENTRY), /already registered/);
    assert.throws(() => registerLearner({ ...ENTRY, name: 'other', referenceClass: 'Other', searchRows: { nope: { type: 'int', low: 1, high: 2 } } }), /search row "nope"/);

    // inspect (its library function): the trainable tensors of the new learner on a tiny CLIPSeg
    const r = await runInspect({ model: TINY, learner: NAME, depth: '2', numContext: '3' });
    assert.equal(r.learner, NAME);
    assert.deepEqual(r.parameters.find((p) => p.name === 'context_learner.context_vectors')?.shape, [2, 3, 64]);

    // the sweep space: the common rows plus the learner's own row under its paper name
    const space = sweepSpace(NAME, 2);
    assert.deepEqual(Object.keys(space.params), ['lr', 'weight_decay', 'prompt_depth', 'num_context']);
    assert.deepEqual(space.params.num_context, { type: 'categorical', choices: [2, 3] });

    // the bench grid: a CLIPSeg cell, no CRIS cell (the entry supports CLIPSeg only)
    const ids = benchCells(['clipseg', 'cris'], [NAME], ['kv=/data/kvasir'], ['upsampler']).map((c) => c.id);
    assert.deepEqual(ids, [`clipseg__${NAME}__kv`, `clipseg__${NAME}__kv__no-upsampler`]);

    // the report: its label and a place in the row order (after the paper's learners)
    assert.equal(learnerLabel(NAME), 'VPT/2');
    assert.equal(learnerOrder().at(-1), NAME);
  } finally {
    unregister();
  }
  assert.equal(isLearnerName(NAME), false);
  assert.ok(!LEARNER_NAMES.includes(NAME));
  await assert.rejects(runInspect({ model: TINY, learner: NAME }), /unknown learner "vpt_half"/);
  assert.throws(() => learnerEntry(NAME), /unknown learner/);
});

test('a one-trial sweep of a registered learner samples its row and trains it', async () => {
  const unregister = registerLearner(ENTRY);
  const dir = mkdtempSync(join(tmpdir(), 'tvs-learner-registry-'));
  try {
    await generateSyntheticDataset('ultrasound', join(dir, 'data'), { size: 64, counts: { train: 4, val: 2, test: 2 }, seed: 3 });
    const cfg = join(dir, 'train.json');
    writeFileSync(cfg, JSON.stringify({
      model: { tokenizer: join(fixturesDir(), 'tokenizer'), imageSize: 64 },
      batchSize: 2, effectiveBatchSize: 2, minEpochs: 1, maxEpochs: 1, data: { workers: 0, promptKey: 'p1' },
    }));
    const storage = `sqlite:${join(dir, 'studies.db')}`;
    const log = console.log;
    console.log = () => {};
    try {
      await sweep({
        model: TINY, learner: NAME, dataset: join(dir, 'data'), trials: '1', storage, study: 'one', workers: '1', seed: '0',
        objective: 'val_loss', pruner: 'none', maxDepth: '2', config: cfg, runsDir: join(dir, 'runs'), quiet: true,
      });
    } finally {
      console.log = log;
    }
    const st = await openStorage(storage);
    try {
      const s = await summarizeStudy(st, 'one');
      assert.equal(s.counts.complete, 1, JSON.stringify(s.trials.map((t) => t.error)));
      const t = s.trials[0]!;
      assert.deepEqual(Object.keys(t.params!).sort(), ['lr', 'num_context', 'prompt_depth', 'weight_decay']);
      assert.ok([2, 3].includes(t.params!.num_context as number));
      const run = JSON.parse((await import('node:fs')).readFileSync(join(t.attrs.runDir as string, 'config.json'), 'utf8')) as { model: Record<string, unknown> };
      assert.equal(run.model.learner, NAME);
      assert.equal(run.model.numContext, t.params!.num_context);
    } finally {
      await st.close();
    }
  } finally {
    unregister();
    rmSync(dir, { recursive: true, force: true });
  }
});
