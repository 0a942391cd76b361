/**
 * The accuracy cost of bf16-mixed on CPU (docs/gpu.md), measured two ways:
 *
 * 1. Every learner fixture case (tiny CLIPSeg / CRIS with the real architectures and fixed
 *    weights, ../shared/fixtures/*-tiny/learners): forward + DiceCE + backward in float32 and
 *    under bfloat16 autocast, from the same parameters: max |logits| difference, loss
 *    difference, and the largest gradient difference relative to the tensor's max.
 * 2. Training the tiny segmenter on synthetic shapes with the trainer in 32 and bf16-mixed
 *    (same seeds): best validation Dice of each, and the difference.
 *
 *   node dist/bench/precision_cost.js [--seeds 3] [--epochs 6]
 *
 * Last stdout line: {"bench":"precision_cost", "fixtures": {...}, "training": {...}}.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as T from '../src/torch/index.js';
import { learnerCaseDirs, loadLearnerCase } from './learner-cases.js';
import { loadStateStrict } from '../src/tuning/common.js';
import { diceCELoss } from '../src/inference/loss.js';
import { float32 } from '../src/inference/precision.js';
import { train, TinySegmenter } from '../src/index.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';

const arg = (n: string, d: number): number =>
  process.argv.includes(`--${n}`) ? Number(process.argv[process.argv.indexOf(`--${n}`) + 1]) : d;
const fixtures = join(process.cwd(), '..', 'shared', 'fixtures');
T.setNumThreads(2);

const cases: Record<string, { logits_max_abs: number; logits_max: number; loss_abs: number; grad_max_rel: number }> = {};
const dirs = learnerCaseDirs(fixtures);
for (const dir of dirs) {
  const { seg, params, inputs } = loadLearnerCase(dir);
  try {
    loadStateStrict(new Map(seg.namedTrainable()), params, 'precision cost');
    const run = (bf16: boolean): { logits: T.Tensor; loss: number; grads: Map<string, T.Tensor | null> } => {
      seg.zeroGrad();
      const r = T.tidy(() => {
        const fwd = (): T.Tensor =>
          float32(
            seg.forward(inputs.get('pixel_values')!, { inputIds: inputs.get('input_ids')!, attentionMask: inputs.get('attention_mask')! }),
          );
        const l = bf16 ? T.autocast('cpu', 'bfloat16', fwd) : fwd();
        const d = diceCELoss(l, inputs.get('labels')!).loss;
        d.backward();
        return { logits: l.detach(), loss: d.item() };
      });
      return { ...r, grads: new Map(seg.namedTrainable().map(([k, p]) => [k, p.grad ? p.grad.clone() : null])) };
    };
    const a = run(false);
    const b = run(true);
    let g = 0;
    for (const [k, x] of a.grads) {
      const y = b.grads.get(k);
      if (x && y)
        g = Math.max(
          g,
          T.tidy(() => x.sub(y).abs().max().item() / Math.max(1e-12, x.abs().max().item())),
        );
    }
    const name = dir.slice(fixtures.length + 1);
    cases[name] = {
      logits_max_abs: T.tidy(() => a.logits.sub(b.logits).abs().max().item()),
      logits_max: T.tidy(() => a.logits.abs().max().item()),
      loss_abs: Math.abs(a.loss - b.loss),
      grad_max_rel: g,
    };
    console.log(
      `${name.padEnd(40)} logits max |d| ${cases[name]!.logits_max_abs.toExponential(2)} (of max ${cases[name]!.logits_max.toFixed(2)}), ` +
        `loss |d| ${cases[name]!.loss_abs.toExponential(2)}, grad max rel ${g.toExponential(2)}`,
    );
    T.dispose([a.logits, b.logits, ...a.grads.values(), ...b.grads.values()]);
  } finally {
    seg.dispose();
    T.dispose([...params.values(), ...inputs.values()]);
  }
}

const tmp = mkdtempSync(join(os.tmpdir(), 'tunevlseg-precision-cost-'));
const training: { seed: number; dice32: number; diceBf16: number; ips32: number; ipsBf16: number }[] = [];
try {
  const data = join(tmp, 'shapes');
  await generateSyntheticDataset('shapes', data, { size: 64, counts: { train: 48, val: 16, test: 16 }, seed: 11 });
  for (let seed = 0; seed < arg('seeds', 3); seed++) {
    const dice: Record<string, { dice: number; ips: number }> = {};
    for (const precision of ['32', 'bf16-mixed'] as const) {
      const s = await train(
        {
          name: `${precision}-${seed}`,
          runsDir: join(tmp, 'runs'),
          seed,
          precision,
          data: { dir: data, imageSize: 64, workers: 0 },
          batchSize: 8,
          effectiveBatchSize: 8,
          minEpochs: arg('epochs', 6),
          maxEpochs: arg('epochs', 6),
          lr: 0.02,
          progress: 'none',
        },
        { buildSegmenter: () => new TinySegmenter({ imageSize: 64, channels: 16 }) },
      );
      dice[precision] = { dice: s.val.dice, ips: s.imagesPerSecond };
    }
    training.push({
      seed,
      dice32: dice['32']!.dice,
      diceBf16: dice['bf16-mixed']!.dice,
      ips32: dice['32']!.ips,
      ipsBf16: dice['bf16-mixed']!.ips,
    });
    console.log(
      `tiny training seed ${seed}: best val Dice 32 ${dice['32']!.dice.toFixed(4)}, bf16-mixed ${dice['bf16-mixed']!.dice.toFixed(4)}`,
    );
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
const vals = Object.values(cases);
console.log(
  JSON.stringify({
    bench: 'precision_cost',
    fixtures: {
      cases: vals.length,
      max_logits_abs: Math.max(...vals.map((c) => c.logits_max_abs)),
      max_loss_abs: Math.max(...vals.map((c) => c.loss_abs)),
      max_grad_rel: Math.max(...vals.map((c) => c.grad_max_rel)),
      per_case: cases,
    },
    training: {
      runs: training,
      mean_dice_32: mean(training.map((r) => r.dice32)),
      mean_dice_bf16: mean(training.map((r) => r.diceBf16)),
      mean_dice_delta: mean(training.map((r) => r.diceBf16 - r.dice32)),
    },
  }),
);
