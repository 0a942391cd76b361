/**
 * End-to-end fine-tuning as a learner: it adds nothing to the model; its registry entry says it
 * trains the base (`trainsBase`), so the segmenter makes every base weight trainable (`e2e`),
 * without the upsampler (VLSM-Adapter's CLIPSeg baseline, `configs/model/clipseg.yaml`). A tuned
 * checkpoint then holds the whole model.
 */
import { nn } from '../../torch/index.js';
import { parseOptions } from '../base.js';
import type { ContextLearner, LearnerHost, PromptPair } from '../types.js';
import { fullFinetuneOptionsSchema } from './options.js';

export class FullFinetuneLearner extends nn.Module implements ContextLearner {
  readonly name = 'full_finetune' as const;
  readonly depth = 0;
  readonly numContext = 0;
  readonly usesText = false;
  readonly usesVision = false;
  readonly needsImageFeatures = false;

  constructor(options: Record<string, unknown>, _host: LearnerHost) {
    super();
    parseOptions(fullFinetuneOptionsSchema, 'full_finetune', options);
  }

  prompts(): PromptPair {
    return {};
  }

  describe(): Record<string, unknown> {
    return { name: this.name };
  }
}
