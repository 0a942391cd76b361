/**
 * CoCoOp (Zhou et al., "Conditional Prompt Learning for Vision-Language Models", CVPR 2022):
 * CoOp's context vectors plus a per-image bias, ctx[i] + proj_i(f), where f is the image
 * feature vector (CLIPSeg: visual_projection(post_layernorm(CLS)) of the unprompted vision
 * tower, quirk 7; CRIS: the attention-pool output averaged over H, W, quirk 14), L2-normalised
 * when normImageFeatures. proj_i = Linear(f, 64) -> ReLU -> Linear(64, Dt, no bias) -> LayerNorm(Dt, no bias)
 * with the yaml options (the final bias is always off for CoCoOp).
 * Parameters: `context_vectors` [depth, n, Dt], `projection_layers.{i}.{0,2,3}.*`.
 */
import type { z } from 'zod';
import { type Tensor, nn, tidy } from '../../torch/index.js';
import { BaseLearner, buildProjection, openPromptLearner, projectionList, textContextVectors, type Projection } from '../base.js';
import { LearnerConfigError, type LearnerHost, type PromptPair } from '../types.js';
import { cocoopOptionsSchema, type CoCoOpOptions } from './options.js';

export class CoCoOpLearner extends BaseLearner {
  readonly name = 'cocoop' as const;
  readonly usesText = true;
  readonly usesVision = false;
  override readonly needsImageFeatures = true;
  readonly options: z.output<typeof cocoopOptionsSchema>;
  readonly initializerIds: number[][] | null;
  readonly projection_layers: nn.ModuleList<Projection>;
  readonly imageFeatureDim: number;

  constructor(options: CoCoOpOptions, host: LearnerHost) {
    const o = openPromptLearner(cocoopOptionsSchema, 'cocoop', options, host);
    const { vectors, initializerIds } = textContextVectors(o, host, 'cocoop'); // [depth, n, Dt]
    super(vectors);
    this.options = o;
    this.initializerIds = initializerIds;
    this.imageFeatureDim = host.imageFeatureDim;
    // proj_in_dim = visual_dim, proj_out_dim = context dim, use_final_bias = False (reference).
    this.projection_layers = this.registerModule(
      'projection_layers',
      projectionList(
        o.depth,
        o.useUnifiedProjection,
        () => buildProjection('cocoop', host.imageFeatureDim, this.contextDim, o, false),
        false,
      ),
    );
  }

  /** ctx[layer] + proj_layer(f), [B, n, Dt]. */
  prompts(layer: number, imageFeatures?: Tensor): PromptPair {
    if (!imageFeatures) throw new LearnerConfigError('learner cocoop: prompts() needs the image features [B, D]');
    if (imageFeatures.ndim !== 2 || imageFeatures.size(1) !== this.imageFeatureDim) {
      throw new LearnerConfigError(
        `learner cocoop: image features must be [B, ${this.imageFeatureDim}], got [${imageFeatures.shape.join(', ')}]`,
      );
    }
    const ctx = this.ctx(layer);
    return {
      text: tidy(() => {
        const f = this.options.normImageFeatures ? imageFeatures.div(imageFeatures.norm(2, -1, true)) : imageFeatures;
        return this.projection_layers.at(layer).forward(f).unsqueeze(1).add(ctx);
      }),
    };
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options, numContext: this.numContext, initializerIds: this.initializerIds };
  }
}
