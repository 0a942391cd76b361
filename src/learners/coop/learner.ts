/**
 * CoOp (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022): learned text
 * context vectors inserted after BOS, `[BOS, ctx_1..ctx_n, words..., EOS]`; deep prompts
 * (depth d) overwrite positions 1..n at the input of text layers 1..d-1.
 * Parameters: `context_vectors` [depth, n, Dt] (reference `CoOpContextLearner`).
 */
import type { z } from 'zod';
import { BaseLearner, openPromptLearner, textContextVectors } from '../base.js';
import type { LearnerHost, PromptPair } from '../types.js';
import { coopOptionsSchema, type CoOpOptions } from './options.js';

export class CoOpLearner extends BaseLearner {
  readonly name = 'coop' as const;
  readonly usesText = true;
  readonly usesVision = false;
  readonly options: z.output<typeof coopOptionsSchema>;
  readonly initializerIds: number[][] | null;

  constructor(options: CoOpOptions, host: LearnerHost) {
    const o = openPromptLearner(coopOptionsSchema, 'coop', options, host);
    const { vectors, initializerIds } = textContextVectors(o, host, 'coop'); // [depth, n, Dt]
    super(vectors);
    this.options = o;
    this.initializerIds = initializerIds;
  }

  /** text: context_vectors[layer], [n, Dt]. */
  prompts(layer: number): PromptPair {
    return { text: this.ctx(layer) };
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options, numContext: this.numContext, initializerIds: this.initializerIds };
  }
}
