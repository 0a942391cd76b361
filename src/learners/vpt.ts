/**
 * VPT (Jia et al., "Visual Prompt Tuning", ECCV 2022): learned vision prompt tokens appended
 * after the patch tokens (before pre_layrnorm); deep prompts overwrite the last n tokens at the
 * input of vision layers 1..d-1 (fixtures README quirk 3).
 * Parameters: `context_vectors` [depth, n, Dv], N(0, vectorStd) (reference `VPTContextLearner`).
 */
import { z } from 'zod';
import { BaseLearner, checkDepth, parseOptions, randomVectors } from './base.js';
import { LearnerConfigError, type LearnerHost, type PromptPair } from './types.js';

import { vptOptionsSchema } from './options.js';

export { vptOptionsSchema };
export type VPTOptions = z.input<typeof vptOptionsSchema>;

export function requireVision(host: LearnerHost, name: string): number {
  if (host.visionDim === null) {
    throw new LearnerConfigError(`learner ${name} prompts the vision encoder's tokens, but ${host.family}'s image encoder is a CNN (no tokens to prompt): ` +
      'use a text learner (coop, cocoop) with this model');
  }
  return host.visionDim;
}

export class VPTLearner extends BaseLearner {
  readonly name = 'vpt' as const;
  readonly usesText = false;
  readonly usesVision = true;
  readonly options: z.output<typeof vptOptionsSchema>;

  constructor(options: VPTOptions, host: LearnerHost) {
    const o = parseOptions(vptOptionsSchema, 'vpt', options);
    const dv = requireVision(host, 'vpt');
    checkDepth(o.depth, host, 'vpt');
    super(randomVectors([o.depth, o.numContext, dv], o.vectorStd));
    this.options = o;
  }

  prompts(layer: number): PromptPair {
    return { vision: this.ctx(layer) };
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}
