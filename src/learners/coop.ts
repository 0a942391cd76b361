/**
 * CoOp (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022): learned text
 * context vectors inserted after BOS, `[BOS, ctx_1..ctx_n, words..., EOS]`; deep prompts
 * (depth d) overwrite positions 1..n at the input of text layers 1..d-1.
 * Parameters: `context_vectors` [depth, n, Dt] (reference `CoOpContextLearner`).
 */
import { z } from 'zod';
import type { Tensor } from '../torch/index.js';
import { BaseLearner, checkDepth, parseOptions, textContextVectors } from './base.js';
import { LearnerConfigError, type LearnerHost, type PromptPair } from './types.js';

import { coopOptionsSchema } from './options.js';

export { coopOptionsSchema };
export type CoOpOptions = z.input<typeof coopOptionsSchema>;

/**
 * The width of randomly initialised text context vectors. The reference passes CRIS's word_dim
 * (quirk 14): it only works with an initializer, so `reference` refuses random init there.
 */
export function textContextDim(host: LearnerHost, name: string, random: boolean): number {
  const ref = host.referenceContextDim;
  if (random && ref !== undefined && ref !== host.textDim && host.quirks === 'reference') {
    throw new LearnerConfigError(`learner ${name}: random context vectors on ${host.family} (contextInitializer: null) are broken in the reference ` +
      `(quirk 14: it sizes them with word_dim ${ref}, but the text transformer is ${host.textDim} wide); ` +
      "give a contextInitializer, or set quirks: 'fixed' to size them with the text width");
  }
  return host.textDim;
}

export class CoOpLearner extends BaseLearner {
  readonly name = 'coop' as const;
  readonly usesText = true;
  readonly usesVision = false;
  readonly options: z.output<typeof coopOptionsSchema>;
  readonly initializerIds: number[][] | null;

  constructor(options: CoOpOptions, host: LearnerHost) {
    const o = parseOptions(coopOptionsSchema, 'coop', options);
    checkDepth(o.depth, host, 'coop');
    const random = o.contextInitializer === null && o.contextInitializerIds === undefined;
    const { vectors, initializerIds } = textContextVectors(o, host, 'coop', textContextDim(host, 'coop', random));
    super(vectors);
    this.options = o;
    this.initializerIds = initializerIds;
  }

  prompts(layer: number): PromptPair {
    return { text: this.ctx(layer) };
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options, numContext: this.numContext, initializerIds: this.initializerIds };
  }
}
