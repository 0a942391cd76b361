/**
 * Configuration defaults that follow the quirks mode (docs/quirks.md), without libtorch:
 * `parseTrainConfig` fills a null `seed` / `weightDecay` from them, so a run folder's
 * config.json records the number that was used.
 *
 * `reference` takes the original's experiment configs (naamiinepal/tunevlseg @ 7956bcd,
 * `configs/experiment/coop/clipseg.yaml` and `coop/cris.yaml`): `seed: 12345` and
 * `model.weight_decay: 0.0`, which `ImageTextMaskModule.get_optim_groups` turns into torch's
 * default 0.01 on every tensor that gets a gradient (quirk 19, reference-semantics.ts).
 * `fixed` keeps this project's own defaults: seed 0, decay 0.01 on Linear/Conv weights.
 */

export type QuirksMode = 'reference' | 'fixed';

/** `seed: 12345` of the original's experiment configs. */
export const REFERENCE_SEED = 12345;
/** `model.weight_decay: 0.0` of the original's experiment configs (quirk 19 gives it meaning). */
export const REFERENCE_WEIGHT_DECAY = 0;

/** The quirks mode a run's `model` section asks for (the segmenter factory's default: reference). */
export function quirksOfModel(model: Record<string, unknown> | undefined): QuirksMode {
  return model?.quirks === 'fixed' ? 'fixed' : 'reference';
}

export function defaultSeed(quirks: QuirksMode): number {
  return quirks === 'reference' ? REFERENCE_SEED : 0;
}

export function defaultWeightDecay(quirks: QuirksMode): number {
  return quirks === 'reference' ? REFERENCE_WEIGHT_DECAY : 0.01;
}
