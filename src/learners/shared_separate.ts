/**
 * Shared Separate (TuneVLSeg): one unified prompt of sharedDim per layer, projected separately
 * to the text width and to the vision width: text_i = tproj_i(ctx_i), vision_i = vproj_i(ctx_i).
 * Parameters: `context_vectors` [depth, n, sharedDim], `textual_projection_layers.{i}.*`,
 * `visual_projection_layers.{i}.*` (reference `SharedSeparateLearner`).
 *
 * Quirk 9 (`quirks: 'reference'`): with intermediateDim null the projections are plain
 * Linear(sharedDim, D) (useProjNorm is ignored) and the per-layer copies start identical
 * (deepcopy). `fixed`: Linear(sharedDim, D, no bias) -> LayerNorm(D) when useProjNorm (the
 * paper's "Linear + LayerNorm"; indices `.0`, `.1`) and independently initialised layers.
 */
import { z } from 'zod';
import { nn, tidy } from '../torch/index.js';
import { BaseLearner, buildProjection, checkDepth, parseOptions, projectionList, randomVectors, type Projection } from './base.js';
import { requireVision } from './vpt.js';
import type { LearnerHost, PromptPair } from './types.js';

import { sharedSeparateOptionsSchema } from './options.js';

export { sharedSeparateOptionsSchema };
export type SharedSeparateOptions = z.input<typeof sharedSeparateOptionsSchema>;

export class SharedSeparateLearner extends BaseLearner {
  readonly name = 'shared_separate' as const;
  readonly usesText = true;
  readonly usesVision = true;
  readonly options: z.output<typeof sharedSeparateOptionsSchema>;
  readonly quirks: LearnerHost['quirks'];
  readonly textual_projection_layers: nn.ModuleList<Projection>;
  readonly visual_projection_layers: nn.ModuleList<Projection>;

  constructor(options: SharedSeparateOptions, host: LearnerHost) {
    const o = parseOptions(sharedSeparateOptionsSchema, 'shared_separate', options);
    const dv = requireVision(host, 'shared_separate');
    checkDepth(o.depth, host, 'shared_separate');
    super(randomVectors([o.depth, o.numContext, o.sharedDim], o.vectorStd));
    this.options = o;
    this.quirks = host.quirks;
    const fixed = host.quirks === 'fixed';
    const make = (out: number): Projection => {
      if (fixed && o.intermediateDim === null && o.useProjNorm) {
        return new nn.Sequential(new nn.Linear(o.sharedDim, out, false), new nn.LayerNorm(out)) as Projection;
      }
      return buildProjection('shared_separate', o.sharedDim, out, o);
    };
    this.textual_projection_layers = this.registerModule('textual_projection_layers',
      projectionList(o.depth, o.useUnifiedProjection, () => make(host.textDim), !fixed));
    this.visual_projection_layers = this.registerModule('visual_projection_layers',
      projectionList(o.depth, o.useUnifiedProjection, () => make(dv), !fixed));
  }

  prompts(layer: number): PromptPair {
    const ctx = this.ctx(layer);
    return tidy(() => ({
      text: this.textual_projection_layers.at(layer).forward(ctx),
      vision: this.visual_projection_layers.at(layer).forward(ctx),
    }));
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}
