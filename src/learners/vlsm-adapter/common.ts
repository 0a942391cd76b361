/**
 * What VLSM-Adapter's two CLIPSeg adapters share, without libtorch (the registry and the sweep
 * read it): the options, the training recipe of the original's configs and its search space.
 *
 * Reference: github.com/naamiinepal/vlsm-adapter @ d5b5a5e (MICCAI 2024), src/models/clipseg_adapter.py,
 * configs/model/clipseg_{shallow,dense}_adapter.yaml, configs/experiment/clipseg_*_adapter_{v,vl,vlc}.yaml,
 * configs/callbacks/default.yaml, configs/hparams_search/clipseg_optuna.yaml, scripts/finetune.py.
 */
import { z } from 'zod';
import type { OriginalSweep, SearchRow, TrainingRecipe } from '../entry.js';
import { LearnerConfigError, type QuirkMode } from '../types.js';

export const VLSM_ADAPTER_REFERENCE = 'github.com/naamiinepal/vlsm-adapter @ d5b5a5e';

/** The conditional adapter's bottleneck, hard-coded in the reference whatever `adapter_dim` says. */
export const REFERENCE_COND_ADAPTER_DIM = 256;

/** The options of both adapters (reference kwargs adapter_dim, adapter_in_v, adapter_in_l, adapter_in_cond). */
export function adapterOptionsSchema(defaultDim: number) {
  return z
    .object({
      /** Bottleneck width of the encoder adapters (`adapter_dim`; the yaml: 512 shallow, 64 dense). */
      adapterDim: z.number().int().positive().default(defaultDim),
      /** Adapters on the vision side (`adapter_in_v`): the experiments' "v". */
      adapterInV: z.boolean().default(true),
      /** Adapters on the text side (`adapter_in_l`): "l". */
      adapterInL: z.boolean().default(true),
      /** An adapter on the conditional embedding (`adapter_in_cond`): "c". */
      adapterInCond: z.boolean().default(true),
    })
    .strict();
}
export type AdapterOptions = z.output<ReturnType<typeof adapterOptionsSchema>>;

/** Refuses a configuration with nothing to train. */
export function requireSomeAdapter(o: AdapterOptions, name: string): void {
  if (!o.adapterInV && !o.adapterInL && !o.adapterInCond) {
    throw new LearnerConfigError(`learner ${name}: adapterInV, adapterInL and adapterInCond are all false: no adapter to train`);
  }
}

/** The class defaults of CLIPSeg{Shallow,Dense}Adapter (adapter_dim has none: the yaml's value stands in). */
export const adapterReferenceDefaults = (dim: number): Record<string, unknown> => ({
  adapterDim: dim,
  adapterInV: true,
  adapterInL: true,
  adapterInCond: true,
});

/**
 * configs/callbacks/default.yaml: `early_stopping: {monitor: "val/dice_epoch", patience: 20,
 * min_delta: 0.0001, mode: "max"}`. Both quirks modes: the paper says nothing of early stopping,
 * so there is nothing for `fixed` to follow instead.
 */
export const VLSM_ADAPTER_EARLY_STOPPING = Object.freeze({ monitor: 'val_dice', patience: 20, minDelta: 1e-4 });

/**
 * The original's recipe (configs/model/clipseg_*_adapter.yaml and the experiments): AdamW with
 * weight decay 1e-3 on every trainable tensor, gradient clipping at norm 0.5, ReduceLROnPlateau
 * (factor 0.3, patience 5) on the validation loss, 10-200 epochs with early stopping on the
 * validation Dice (`val/dice_epoch`, mode max, patience 20, min_delta 1e-4: configs/callbacks/
 * default.yaml, which also picks the best checkpoint by it), batch 32, no augmentation (resize and normalise only), and
 * DiceCELoss(lambda_dice 1.5, lambda_ce 1.0) applied to sigmoid(logits): the double sigmoid,
 * which `quirks: fixed` replaces by DiceCELoss(sigmoid=True) on the logits. Precision 16-mixed
 * is the original's too; it is the run's `precision` (CUDA only), not part of the recipe.
 */
export function adapterRecipe(
  lr: number,
  modelYaml: string,
  source: string = `${VLSM_ADAPTER_REFERENCE}: configs/model/${modelYaml} (lr, weight_decay, loss, scheduler), configs/experiment/${modelYaml.replace('.yaml', '')}_*.yaml ` +
    '(epochs, gradient_clip_val), configs/callbacks/default.yaml (early stopping), scripts/finetune.py (batch 32)',
): Readonly<Record<QuirkMode, TrainingRecipe>> {
  const config = {
    lr,
    weightDecay: 1e-3,
    gradClipNorm: 0.5,
    plateau: { factor: 0.3, patience: 5 },
    minEpochs: 10,
    maxEpochs: 200,
    earlyStopping: VLSM_ADAPTER_EARLY_STOPPING,
    effectiveBatchSize: 32,
    augment: { p: 0 },
  };
  return {
    reference: {
      source,
      config: { ...config, loss: { lambdaDice: 1.5, lambdaCe: 1, appliedTo: 'probabilities' } },
      decayEveryTensor: true,
    },
    fixed: { source, config: { ...config, loss: { lambdaDice: 1.5, lambdaCe: 1, appliedTo: 'logits' } }, decayEveryTensor: true },
  };
}

/**
 * configs/hparams_search/clipseg_optuna.yaml, the original's one search space: `model.optimizer.lr:
 * interval(1e-6, 1e-3)` (hydra's optuna sweeper: a uniform float) and `datamodule.batch_size:
 * choice(16, 32, 64, 128)`, TPE (seed 1234, 10 start-up trials, 20 trials), `direction: maximize`
 * on `optimized_metric: "val_dice_epoch"`: what `train.py` returns from the fit's last
 * `callback_metrics`, i.e. the last validation's Dice (`last_val_dice`; the module logs it as
 * `val/dice_epoch`, so the name as written matches no key and `get_metric_value` raises: the
 * published file fails its first trial, docs/quirks.md A10). `fixed` maximises the best
 * checkpoint's validation Dice (`val_dice`), as TuneVLSeg's fixed objective takes the best
 * checkpoint's loss. `quirks: reference` sweeps it under the original's names; `fixed` under the short ones.
 */
export const VLSM_ADAPTER_SEARCH_ROWS: Readonly<Record<string, SearchRow>> = {
  lr: { type: 'float', low: 1e-6, high: 1e-3 },
  batch_size: { type: 'categorical', choices: [16, 32, 64, 128] },
};
export const VLSM_ADAPTER_SWEEP: OriginalSweep = {
  file: `${VLSM_ADAPTER_REFERENCE}: configs/hparams_search/clipseg_optuna.yaml`,
  seed: 1234,
  nTrials: 20,
  objective: { reference: 'last_val_dice', fixed: 'val_dice' },
  params: { 'optimizer.lr': VLSM_ADAPTER_SEARCH_ROWS.lr!, 'datamodule.batch_size': VLSM_ADAPTER_SEARCH_ROWS.batch_size! },
};
