// The contract between a tunable segmentation model and the trainer / evaluator / predictor.
// `PromptedClipSeg` (a frozen VLSM + a context learner + the learnable upsampler)
// implements it; so can an end-to-end fine-tuned model or a test double.
import type { Tensor, nn, optim } from '../torch/index.js';

export interface TextInputs {
  /** [B, L] int64 token ids */
  inputIds: Tensor;
  /** [B, L] int64, 1 = real token, 0 = padding */
  attentionMask: Tensor;
}

export interface SegmenterInfo {
  /** square input size in pixels (352 for CLIPSeg rd64, 416 for CRIS) */
  imageSize: number;
  /** per-channel normalisation applied to [0,1] RGB images */
  mean: [number, number, number];
  std: [number, number, number];
}

export interface Segmenter extends nn.Module {
  readonly info: SegmenterInfo;
  /**
   * Reproduce the original implementation (`reference`) or do what the paper says (`fixed`).
   * Training follows it too: soft loss targets, weight decay 0, augmentation (docs/quirks.md).
   * Absent: `reference`.
   */
  readonly quirks?: 'reference' | 'fixed';
  /** Tokenises prompts the way the model expects (padding to the longest). */
  tokenize(prompts: string[]): TextInputs;
  /** Logits [B, 1, S, S] for normalised images [B, 3, S, S] and tokenised prompts. */
  forward(pixelValues: Tensor, text: TextInputs): Tensor;
  /**
   * The method's own recipe decays every trainable tensor by the configured weight decay (VLSM-Adapter's
   * AdamW over all parameters); TuneVLSeg's quirk 19 (0 means torch's 0.01) then does not apply. Absent: false.
   */
  readonly decaysEveryTensor?: boolean;
  /** AdamW parameter groups for the trainable tensors: decayed (Linear/Conv weights) and not. */
  parameterGroups(weightDecay: number): optim.ParamGroupInput[];
  /** Only the learnable tensors, by stable name (what a tuned checkpoint stores). */
  learnableState(): Map<string, Tensor>;
  /** Loads a learnable state saved by `learnableState` (strict: names and shapes). */
  loadLearnableState(state: Map<string, Tensor>, source?: string): void;
  /** JSON-safe description stored in checkpoint metadata (base model, learner config...). */
  describe(): Record<string, unknown>;
}
