/**
 * What `tunevlseg inspect` shows of a model + learner configuration: its trainable tensors (names
 * as in checkpoints, shapes, element counts, weight-decay group) and their totals.
 */
import { buildSegmenter, type TunedSegmenter } from './factory.js';

export interface InspectRow {
  name: string;
  shape: number[];
  numel: number;
  decay: boolean;
}

export interface InspectResult {
  model: string;
  learner: string;
  depth: number | null;
  numContext: number | null;
  quirks: string;
  parameters: InspectRow[];
  total: number;
  decayed: number;
  /** A note on the flags (e.g. why --weights was ignored), or absent. */
  note?: string;
}

/** The trainable tensors of a built segmenter. */
export function inspectSegmenter(seg: TunedSegmenter, cfg: Record<string, unknown>): InspectResult {
  const decayed = new Set(seg.decayNames().decayed);
  const parameters = seg.namedTrainable().map(([name, t]) => ({ name, shape: t.shape, numel: t.numel, decay: decayed.has(name) }));
  const learner = seg.context_learner;
  const prompts = learner !== null && (learner.usesText || learner.usesVision);
  return {
    model: String(cfg.model),
    learner: seg.learnerName,
    depth: prompts ? learner.depth : null,
    numContext: prompts ? learner.numContext : null,
    quirks: seg.quirks,
    parameters,
    total: parameters.reduce((s, p) => s + p.numel, 0),
    decayed: parameters.filter((p) => p.decay).reduce((s, p) => s + p.numel, 0),
  };
}

/** Builds the model of `cfg` (a factory config), lists its trainable tensors and frees it. */
export async function inspectModel(cfg: Record<string, unknown>): Promise<InspectResult> {
  const seg = await buildSegmenter(cfg);
  try {
    return inspectSegmenter(seg, cfg);
  } finally {
    seg.dispose();
  }
}
