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
import type { z } from 'zod';
import { nn, tidy } from '../../torch/index.js';
import { BaseLearner, buildProjection, openVisionPromptLearner, projectionList, randomVectors, type Projection } from '../base.js';
import type { LearnerHost, PromptPair } from '../types.js';
import { sharedSeparateOptionsSchema, type SharedSeparateOptions } from './options.js';

export class SharedSeparateLearner extends BaseLearner {
  readonly name = 'shared_separate' as const;
  readonly usesText = true;
  readonly usesVision = true;
  readonly options: z.output<typeof sharedSeparateOptionsSchema>;
  readonly quirks: LearnerHost['quirks'];
  readonly textual_projection_layers: nn.ModuleList<Projection>;
  readonly visual_projection_layers: nn.ModuleList<Projection>;

  constructor(options: SharedSeparateOptions, host: LearnerHost) {
    const { o, dv } = openVisionPromptLearner(sharedSeparateOptionsSchema, 'shared_separate', options, host);
    super(randomVectors([o.depth, o.numContext, o.sharedDim], o.vectorStd)); // [depth, n, sharedDim]
    this.options = o;
    this.quirks = host.quirks;
    const fixed = host.quirks === 'fixed';
    const make = (out: number): Projection => {
      if (fixed && o.intermediateDim === null && o.useProjNorm) {
        return new nn.Sequential(new nn.Linear(o.sharedDim, out, false), new nn.LayerNorm(out)) as Projection;
      }
      return buildProjection('shared_separate', o.sharedDim, out, o);
    };
    this.textual_projection_layers = this.registerModule(
      'textual_projection_layers',
      projectionList(o.depth, o.useUnifiedProjection, () => make(host.textDim), !fixed),
    );
    this.visual_projection_layers = this.registerModule(
      'visual_projection_layers',
      projectionList(o.depth, o.useUnifiedProjection, () => make(dv), !fixed),
    );
  }

  /** text: tproj_layer(ctx[layer]) [n, Dt]; vision: vproj_layer(ctx[layer]) [n, Dv]. */
  prompts(layer: number): PromptPair {
    const ctx = this.ctx(layer); // [n, sharedDim]
    return tidy(() => ({
      text: this.textual_projection_layers.at(layer).forward(ctx),
      vision: this.visual_projection_layers.at(layer).forward(ctx),
    }));
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}
