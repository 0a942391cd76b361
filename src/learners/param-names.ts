/**
 * Sweep parameter names -> the training-config key a trial sets: the one table.
 *
 * A study names its parameters one of two ways:
 * - the original's (`quirks: reference`): its sweep file's keys without the leading `model.`
 *   (configs/hparams_search/*_optuna.yaml): `optimizer.lr`, `weight_decay`,
 *   `net.context_learner.prompt_depth`, `net.context_learner.unified_projector.nhead`, ...;
 * - the paper's Tab. 2 names (`quirks: fixed`): `lr`, `weight_decay`, `prompt_depth`, `nhead`, ...
 * Learner options go through the reference name tables of reference.ts, so a learner option
 * with a reference name needs no entry here.
 */
import { REFERENCE_OPTION_NAMES, REFERENCE_PROJECTOR_NAMES } from './reference.js';

/** Where a sweep parameter goes: a top-level training key, or a key of `model` (learner options, `learner`). */
export type TrainParamKey = 'lr' | 'weightDecay' | 'effectiveBatchSize';
export type ConfigTarget = { readonly scope: 'train'; readonly key: TrainParamKey } | { readonly scope: 'model'; readonly key: string };

/** Training keys by parameter name (both spellings). */
const TRAIN_PARAMS: Readonly<Record<string, TrainParamKey>> = Object.freeze({
  lr: 'lr',
  'optimizer.lr': 'lr', // the original's model.optimizer.lr (torch.optim.AdamW's lr)
  weight_decay: 'weightDecay', // model.weight_decay there, the same name in Tab. 2
  // VLSM-Adapter's sweep (configs/hparams_search/clipseg_optuna.yaml): samples per optimizer step
  batch_size: 'effectiveBatchSize',
  'datamodule.batch_size': 'effectiveBatchSize',
});

/** The original's prefixes of learner options (its `model.net.context_learner` section). */
const LEARNER_PREFIX = 'net.context_learner.';
const PROJECTOR_PREFIX = 'net.context_learner.unified_projector.';

/** The config key a sweep parameter sets, or undefined when the name is none of the above. */
export function configTargetOf(name: string): ConfigTarget | undefined {
  const train = TRAIN_PARAMS[name];
  if (train) return { scope: 'train', key: train };
  if (name === 'learner') return { scope: 'model', key: 'learner' };
  let option: string | undefined;
  if (name.startsWith(PROJECTOR_PREFIX)) option = REFERENCE_PROJECTOR_NAMES[name.slice(PROJECTOR_PREFIX.length)];
  else if (name.startsWith(LEARNER_PREFIX)) option = REFERENCE_OPTION_NAMES[name.slice(LEARNER_PREFIX.length)];
  else option = REFERENCE_OPTION_NAMES[name] ?? REFERENCE_PROJECTOR_NAMES[name];
  return option ? { scope: 'model', key: option } : undefined;
}

/** The parameter of `names` that sets `target` (e.g. the prompt depth: model `depth`), if any. */
export function paramFor(names: Iterable<string>, target: ConfigTarget): string | undefined {
  for (const n of names) {
    const t = configTargetOf(n);
    if (t && t.scope === target.scope && t.key === target.key) return n;
  }
  return undefined;
}
