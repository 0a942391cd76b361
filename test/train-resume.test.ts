// Resume after SIGKILL: a child process trains, is killed with SIGKILL in the middle of an epoch,
// the run folder is resumed (in this process), and the final metrics, checkpoints and per-epoch records
// equal those of an uninterrupted run with the same seed exactly. Once from the epoch-boundary
// resume state, once from a mid-epoch step checkpoint (checkpointEverySteps); then with
// validations inside the epoch (valCheckInterval), on a model whose frozen BatchNorm uses batch
// statistics over accumulated passes: from the state after a mid-epoch validation, and with a
// validation between the optimizer steps that the resumed run must run again.
//
// This file is also the child: with TUNEVLSEG_TRAIN_CHILD set it runs one training job instead
// of registering tests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as T from '../src/torch/index.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { train, resumeRun, TinySegmenter, loadCheckpoint, type TrainConfigInput, type TrainSummary } from '../src/index.js';

interface ChildJob {
  config?: TrainConfigInput;
  /** TinySegmenter with a batch-statistic BatchNorm (its running statistics are part of the state). */
  batchNorm?: boolean;
  resumeDir?: string;
  /** Block forever (until killed) right after this optimizer step, having written `marker`. */
  killAt?: { epoch: number; step: number; marker: string };
}

async function child(job: ChildJob): Promise<void> {
  T.setNumThreads(1);
  const opts = {
    buildSegmenter: () => new TinySegmenter({ imageSize: 32, dropout: 0.2, batchNorm: job.batchNorm === true }),
    onStep: (r: { epoch: number; step: number }) => {
      if (job.killAt && r.epoch === job.killAt.epoch && r.step === job.killAt.step) {
        writeFileSync(job.killAt.marker, `${r.epoch}.${r.step}`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000); // "mid-epoch": wait for SIGKILL
        process.exit(3); // never reached when the parent kills us
      }
    },
  };
  if (job.resumeDir) await resumeRun(job.resumeDir, opts);
  else await train(job.config!, opts);
}

const CHILD = process.env.TUNEVLSEG_TRAIN_CHILD;
if (CHILD !== undefined) {
  await child(JSON.parse(CHILD) as ChildJob);
} else {
  registerTests();
}

function runChild(job: ChildJob, killWhen?: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, TUNEVLSEG_TRAIN_CHILD: JSON.stringify(job) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timer: NodeJS.Timeout | undefined;
    if (killWhen) {
      timer = setInterval(() => {
        if (existsSync(killWhen)) {
          clearInterval(timer);
          p.kill('SIGKILL');
        }
      }, 10);
    }
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (timer) clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

function registerTests(): void {
  let tmp: string;
  let data: string;
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-resume-'));
    data = path.join(tmp, 'shapes');
    await generateSyntheticDataset('shapes', data, { size: 32, counts: { train: 12, val: 4, test: 4 }, seed: 9 });
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const config = (name: string, checkpointEverySteps: number): TrainConfigInput => ({
    name,
    runsDir: path.join(tmp, 'runs'),
    seed: 4,
    data: { dir: data, imageSize: 32, workers: 0 },
    batchSize: 4,
    effectiveBatchSize: 8,
    minEpochs: 1,
    maxEpochs: 2,
    lr: 0.03,
    augment: { p: 0.5 },
    checkpointEverySteps,
    progress: 'none',
  });

  /** Everything of a finished run that must not depend on interruptions (timings dropped). */
  function outcome(run: string): {
    summary: Partial<TrainSummary>;
    epochs: unknown[];
    steps: unknown[];
    validations: unknown[];
    best: Map<string, number[]>;
    last: Map<string, number[]>;
  } {
    const s = JSON.parse(readFileSync(path.join(run, 'summary.json'), 'utf8')) as TrainSummary & Record<string, unknown>;
    const { wallSeconds: _w, resumes: _r, runDir: _d, name: _n, lastEpoch, peakMemory: _m, imagesPerSecond: _i, ...rest } = s;
    const untimed = (r: Record<string, unknown>): Record<string, unknown> => {
      const { seconds: _s, imagesPerSecond: _i, ...keep } = r;
      return keep;
    };
    const lines = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const tensors = (f: string): Map<string, number[]> => {
      const { state } = loadCheckpoint(path.join(run, 'checkpoints', f));
      const out = new Map([...state].map(([k, t]) => [k, Array.from(t.toFloat32Array())]));
      T.dispose([...state.values()]);
      return out;
    };
    return {
      summary: { ...rest, lastEpoch: untimed(lastEpoch as unknown as Record<string, unknown>) as unknown as TrainSummary['lastEpoch'] },
      epochs: lines.filter((l) => l.type === 'epoch').map(untimed),
      steps: lines.filter((l) => l.type === 'step').map(untimed),
      validations: lines.filter((l) => l.type === 'validation').map(untimed),
      best: tensors('best.safetensors'),
      last: tensors('last.safetensors'),
    };
  }

  let reference: ReturnType<typeof outcome>;

  const opts = { buildSegmenter: () => new TinySegmenter({ imageSize: 32, dropout: 0.2 }) };

  test('uninterrupted reference run', async () => {
    T.setNumThreads(1); // as in the child
    await train(config('reference', 0), opts);
    reference = outcome(path.join(tmp, 'runs', 'reference'));
    assert.equal(reference.summary.epochs, 2);
    assert.equal(reference.epochs.length, 2);
  });

  for (const [label, every, expectResumeAt] of [
    ['the last epoch boundary', 0, { epoch: 2, batch: 0 }],
    ['a mid-epoch step checkpoint', 1, { epoch: 2, batch: 4 }],
  ] as const) {
    test(`SIGKILL mid-epoch, resume from ${label}: same final metrics as the uninterrupted run`, async () => {
      const name = `killed-${every}`;
      const run = path.join(tmp, 'runs', name);
      const marker = path.join(tmp, `${name}.marker`);
      // killed after optimizer step 3 of epoch 2 (of 4 steps per epoch): mid-epoch
      const killed = await runChild({ config: config(name, every), killAt: { epoch: 2, step: 3, marker } }, marker);
      assert.equal(killed.signal, 'SIGKILL', `child exit ${killed.code}: ${killed.stderr}`);
      assert.ok(!existsSync(path.join(run, 'summary.json')));
      await resumeRun(run, opts);
      const lines = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const resumeLine = lines.find((l) => l.type === 'resume');
      // with checkpointEverySteps 1 the last state is after step 2 (the step-3 state write may or may not
      // have happened before the kill: onStep runs before it), i.e. batch 4 of epoch 2
      assert.ok(resumeLine, 'metrics.jsonl records the resume');
      assert.equal(resumeLine.epoch, expectResumeAt.epoch);
      assert.equal(resumeLine.batch, expectResumeAt.batch);
      const got = outcome(run);
      assert.deepEqual(got.summary, reference.summary);
      assert.deepEqual(got.epochs, reference.epochs);
      assert.deepEqual(got.steps, reference.steps);
      assert.deepEqual(got.best, reference.best);
      assert.deepEqual(got.last, reference.last);
      const summary = JSON.parse(readFileSync(path.join(run, 'summary.json'), 'utf8')) as TrainSummary;
      assert.equal(summary.resumes, 1);
      // resuming a finished run is refused
      await assert.rejects(resumeRun(run, opts), /already finished/);
    });
  }

  // 7 passes of 4 per epoch, steps of 2 passes (the last one of 1): accumulation with batch-statistic BatchNorms.
  const bnOpts = { buildSegmenter: () => new TinySegmenter({ imageSize: 32, dropout: 0.2, batchNorm: true }) };
  const validating = (name: string, valCheckInterval: number): TrainConfigInput => ({ ...config(name, 0), valCheckInterval });
  const references = new Map<number, ReturnType<typeof outcome>>();

  for (const [interval, label, killStep, expectResumeAt, expectValidations] of [
    // validations after passes 2, 4 and 6 (step boundaries), none after the 7th: killed at step 4 (pass 7), the
    // run resumes from the state written after the pass-6 validation, whose scores the epoch's end then reports
    [
      2,
      'the state written after a mid-epoch validation',
      4,
      { epoch: 2, batch: 6 },
      [
        [1, 2],
        [1, 4],
        [1, 6],
        [2, 2],
        [2, 4],
        [2, 6],
      ],
    ],
    // 0.5 of 7 passes: validations after passes 3 (between steps: no state there) and 6, none after the 7th: killed at
    // step 2 (pass 4), the run resumes from the epoch boundary and runs the pass-3 validation again
    [
      0.5,
      'the epoch boundary, replaying a validation between two optimizer steps',
      2,
      { epoch: 2, batch: 0 },
      [
        [1, 3],
        [1, 6],
        [2, 3],
        [2, 6],
      ],
    ],
  ] as const) {
    test(`valCheckInterval ${interval}: SIGKILL mid-epoch, resume from ${label}: same validations and final metrics`, async () => {
      T.setNumThreads(1);
      if (!references.has(interval)) {
        await train(validating(`ref-vci-${interval}`, interval), bnOpts);
        references.set(interval, outcome(path.join(tmp, 'runs', `ref-vci-${interval}`)));
      }
      const ref = references.get(interval)!;
      assert.deepEqual(
        ref.validations.map((v) => [(v as { epoch: number }).epoch, (v as { batch: number }).batch]),
        expectValidations,
      );
      const name = `killed-vci-${interval}`;
      const run = path.join(tmp, 'runs', name);
      const marker = path.join(tmp, `${name}.marker`);
      const killed = await runChild(
        { config: validating(name, interval), batchNorm: true, killAt: { epoch: 2, step: killStep, marker } },
        marker,
      );
      assert.equal(killed.signal, 'SIGKILL', `child exit ${killed.code}: ${killed.stderr}`);
      await resumeRun(run, bnOpts);
      const lines = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const resumeLine = lines.find((l) => l.type === 'resume')!;
      assert.deepEqual({ epoch: resumeLine.epoch, batch: resumeLine.batch }, expectResumeAt);
      const got = outcome(run);
      assert.deepEqual(got.validations, ref.validations);
      assert.deepEqual(got.summary, ref.summary);
      assert.deepEqual(got.epochs, ref.epochs);
      assert.deepEqual(got.steps, ref.steps);
      assert.deepEqual(got.best, ref.best);
      assert.deepEqual(got.last, ref.last);
      assert.ok(got.last.has('norm.running_mean'), "the BatchNorm's running statistics travel with the state");
    });
  }
}
