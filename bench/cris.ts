/**
 * CRIS benchmark: no-grad forward and a CoOp-style prompt-tuning step (4 context vectors
 * inserted after BOS through the text hooks; DiceCE; backward to the context only) on random
 * weights, batch 2.
 *
 *   npm run bench -- cris [--size tiny|rn50|both] [--runs 3]
 *
 * rn50 is the paper's CRIS (RN50, 416x416, ~150M parameters: a few GB of RAM with the backward).
 * Prints one line per measurement and, last, a JSON object with the medians in seconds.
 * Never passes/fails on time.
 */
import { diceCELoss } from '../src/inference/loss.js';
import {
  CRIS,
  crisRn50,
  crisTiny,
  eosIndexForContext,
  extendPadMaskForContext,
  insertContextAfterBos,
  type CrisConfig,
} from '../src/models/cris/index.js';
import { cat, dispose, noGrad, randn, tidy, tensor, liveTensors, getNumThreads } from '../src/torch/index.js';
import { median, timeRuns } from './util.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const size = arg('size', 'tiny');
const runs = Number(arg('runs', '3'));
const time = (fn: () => void): number[] => timeRuns(fn, runs, 1);

// "a photo of a polyp." and "skin lesion" (CLIP ids), padded to the longest with 49407.
const IDS = [
  [49406, 320, 1125, 539, 320, 16386, 269, 49407],
  [49406, 3575, 15083, 49407, 49407, 49407, 49407, 49407],
];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0, 0, 0],
];

function bench(name: string, cfg: CrisConfig): Record<string, number> {
  const t0 = performance.now();
  const model = new CRIS(cfg);
  model.requiresGrad_(false); // COOPCRIS(freeze_all=True): only the prompts learn
  const build = (performance.now() - t0) / 1000;
  const s = cfg.imgSize;
  const px = randn([2, 3, s, s]);
  const labels = randn([2, 1, s, s]).gt(0).float();
  const ids = tensor(IDS, { dtype: 'int64' });
  const mask = tensor(MASK, { dtype: 'int64' });
  const ctx = randn([4, cfg.clip.transformerWidth]).mul_(0.02).requiresGrad_(true);
  const inputs = { pixelValues: px, inputIds: ids, attentionMask: mask };
  const live = liveTensors();
  const fwd = time(() =>
    noGrad(() =>
      tidy(() => {
        model.forward(inputs);
      }),
    ),
  );
  const step = time(() =>
    tidy(() => {
      const out = model.forward(inputs, {
        prepare: (c) => ({
          inputEmbeds: insertContextAfterBos(c.tokenEmbeds, ctx),
          padMask: extendPadMaskForContext(c.padMask, 4),
          eosIndex: eosIndexForContext(c.inputIds, 4),
        }),
        afterBlock: (i, h) => (i < 1 ? cat([h.slice(1, 0, 1), ctx.unsqueeze(0).expand(2, 4, h.size(2)), h.slice(1, 5)], 1) : h),
      });
      diceCELoss(out.logits, labels).loss.backward();
      ctx.zeroGrad();
    }),
  );
  const leaked = liveTensors() - live;
  console.log(
    `${name}: build ${build.toFixed(2)} s; no-grad forward ${median(fwd).toFixed(3)} s; prompt step (fwd+loss+backward) ${median(step).toFixed(3)} s; ` +
      `${(model.numParameters() / 1e6).toFixed(1)}M params; threads ${getNumThreads()}; leaked tensors ${leaked}`,
  );
  dispose([px, labels, ids, mask, ctx]);
  model.dispose();
  return { build_s: build, forward_s: median(fwd), prompt_step_s: median(step), leaked };
}

const result: Record<string, Record<string, number>> = {};
if (size === 'tiny' || size === 'both') result.tiny = bench('cris-tiny (64x64)', { ...crisTiny() });
if (size === 'rn50' || size === 'both') result.rn50 = bench('cris-rn50 (416x416)', crisRn50({ dropout: 0 }));
console.log(JSON.stringify({ bench: 'cris', batch: 2, runs, results: result }));
