/**
 * VPT (Jia et al., "Visual Prompt Tuning", ECCV 2022): learned vision prompt tokens appended
 * after the patch tokens (before pre_layrnorm); deep prompts overwrite the last n tokens at the
 * input of vision layers 1..d-1 (fixtures README quirk 3).
 * Parameters: `context_vectors` [depth, n, Dv], N(0, vectorStd) (reference `VPTContextLearner`).
 */
import type { z } from 'zod';
import { BaseLearner, openVisionPromptLearner, randomVectors } from '../base.js';
import type { LearnerHost, PromptPair } from '../types.js';
import { vptOptionsSchema, type VPTOptions } from './options.js';

export class VPTLearner extends BaseLearner {
  readonly name = 'vpt' as const;
  readonly usesText = false;
  readonly usesVision = true;
  readonly options: z.output<typeof vptOptionsSchema>;

  constructor(options: VPTOptions, host: LearnerHost) {
    const { o, dv } = openVisionPromptLearner(vptOptionsSchema, 'vpt', options, host);
    super(randomVectors([o.depth, o.numContext, dv], o.vectorStd)); // [depth, n, Dv]
    this.options = o;
  }

  /** vision: context_vectors[layer], [n, Dv]. */
  prompts(layer: number): PromptPair {
    return { vision: this.ctx(layer) };
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}
