/**
 * MaPLe (Khattak et al., "MaPLe: Multi-modal Prompt Learning", CVPR 2023): text context vectors
 * (CoOp's, initialised from "a photo of a") and vision prompts projected from them per layer:
 * vision_i = proj_i(ctx_i) with proj_i = Linear(Dt, 64) -> ReLU -> Linear(64, Dv, no bias) -> LayerNorm(Dv)
 * (yaml options; quirk 8). Parameters: `context_vectors` [depth, n, Dt], `projection_layers.{i}.{0,2,3}.*`.
 */
import type { z } from 'zod';
import { nn, tidy } from '../../torch/index.js';
import { BaseLearner, buildProjection, openVisionPromptLearner, projectionList, textContextVectors, type Projection } from '../base.js';
import type { LearnerHost, PromptPair } from '../types.js';
import { mapleOptionsSchema, type MapleOptions } from './options.js';

export class MapleLearner extends BaseLearner {
  readonly name = 'maple' as const;
  readonly usesText = true;
  readonly usesVision = true;
  readonly options: z.output<typeof mapleOptionsSchema>;
  readonly initializerIds: number[][] | null;
  readonly projection_layers: nn.ModuleList<Projection>;

  constructor(options: MapleOptions, host: LearnerHost) {
    const { o, dv } = openVisionPromptLearner(mapleOptionsSchema, 'maple', options, host);
    const { vectors, initializerIds } = textContextVectors(o, host, 'maple'); // [depth, n, Dt]
    super(vectors);
    this.options = o;
    this.initializerIds = initializerIds;
    // proj_in_dim = context dim, proj_out_dim = visual dim, use_final_bias = True (reference).
    this.projection_layers = this.registerModule(
      'projection_layers',
      projectionList(o.depth, o.useUnifiedProjection, () => buildProjection('maple', this.contextDim, dv, o, true), false),
    );
  }

  /** text: ctx[layer] [n, Dt]; vision: proj_layer(ctx[layer]) [n, Dv]. */
  prompts(layer: number): PromptPair {
    const ctx = this.ctx(layer);
    return { text: ctx, vision: tidy(() => this.projection_layers.at(layer).forward(ctx)) };
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options, numContext: this.numContext, initializerIds: this.initializerIds };
  }
}
