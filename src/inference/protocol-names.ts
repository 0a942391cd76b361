/**
 * The evaluation protocols' names, the tables' default and one line describing each
 * (src/inference/protocols.ts implements them). Torch-free, so that the report layer, which runs
 * without libtorch, spells them from the same place.
 */

export const EVAL_PROTOCOLS = ['model-resolution-reference', 'original-size', 'model-resolution'] as const;
export type EvalProtocol = (typeof EVAL_PROTOCOLS)[number];

/** What tables and `report` show unless told otherwise: the paper writes predictions back at each image's size. */
export const DEFAULT_TABLE_PROTOCOL: EvalProtocol = 'original-size';

/** One line per protocol, for captions and `--help`. */
export const PROTOCOL_DESCRIPTIONS: Readonly<Record<EvalProtocol, string>> = {
  'model-resolution-reference': "the original's Lightning val/test Dice: model side, truth = gray 255 only, p >= 0.5, global IoU",
  'original-size': "the original's eval_metrics.py: bicubic to each mask's size, 8-bit PNG, both > 127, MONAI Dice/IoU per image",
  'model-resolution': 'model side, truth gray >= 128, p > threshold, per-sample Dice/IoU',
};

export function parseProtocol(name: string, what = '--protocol'): EvalProtocol {
  if ((EVAL_PROTOCOLS as readonly string[]).includes(name)) return name as EvalProtocol;
  throw new Error(`${what}: unknown evaluation protocol "${name}"; expected one of ${EVAL_PROTOCOLS.join(', ')}`);
}
