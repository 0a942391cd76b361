/**
 * The context-learner interface (DESIGN.md "The context-learner interface") and what a learner
 * is told about the frozen model it serves.
 *
 * A learner is a Module that, for layer `i < depth`, gives the prompt tokens each encoder must
 * carry into that layer: text prompts `[n, Dt]` (or `[B, n, Dt]` when they depend on the image,
 * CoCoOp) and vision prompts `[n, Dv]`. Encoders never know which learner they serve; the
 * segmenters in src/tuning ask `prompts(layer)` once per layer and forward pass.
 */
import type { Tensor, nn } from '../torch/index.js';
import type { EncoderLayerHooks } from '../models/clip/layers.js';

/**
 * A registered learner's name (as in configs). The registry (src/learners/registry.ts) is the one
 * list of them: `LEARNER_NAMES`, `isLearnerName`, `learnerEntry`.
 */
export type LearnerName = string;

/** The base-model families a learner can serve. */
export type BaseFamily = 'clipseg' | 'cris';

/**
 * `reference`: reproduce the original implementation's quirks (fixtures README 1-16);
 * `fixed`: do what the paper describes (docs/learners.md lists every difference).
 */
export type QuirkMode = 'reference' | 'fixed';

export interface PromptPair {
  /** Text prompt tokens for this layer: [n, Dt], or [B, n, Dt] for image-conditioned learners. */
  text?: Tensor;
  /** Vision prompt tokens for this layer: [n, Dv]. */
  vision?: Tensor;
}

/** The text encoder's states a conditional-embedding hook may read. */
export interface TextStates {
  /** The prompt's token ids [B, L] (int64). */
  inputIds: Tensor;
  /** HF hidden_states: [0] the encoder input, [i + 1] layer i's output (before final_layer_norm); null unless asked for. */
  hiddenStates: Tensor[] | null;
}

/**
 * What a method that is not prompt tokens does to the frozen model (DESIGN.md, the learner
 * interface's last paragraph: adapters, LoRA): hook points the segmenter hands to the encoders,
 * and two it applies between the encoders and the decoder. Each returns what replaces its
 * argument; the encoders never know which method answers.
 */
export interface ModelHooks {
  /** Inside every text / vision encoder layer (sub-block outputs, Linear layers). */
  text?: EncoderLayerHooks;
  vision?: EncoderLayerHooks;
  /** The decoder's inputs: one [B, S, Dv] per extract layer, in extract_layers order. */
  visionActivations?: (activations: Tensor[]) => Tensor[];
  /** The conditional embedding [B, P] (text_projection of the pooled text) before the decoder's FiLM. */
  conditional?: (conditional: Tensor, text: TextStates) => Tensor;
  /** `conditional` reads `text.hiddenStates` (the encoder then keeps them). */
  readsTextHiddenStates?: boolean;
}

export interface ContextLearner extends nn.Module {
  readonly name: LearnerName;
  /** Layers that receive fresh prompts (1 = input only). */
  readonly depth: number;
  /** Prompt tokens per layer. */
  readonly numContext: number;
  /** Whether the text / vision encoder gets prompts. */
  readonly usesText: boolean;
  readonly usesVision: boolean;
  /** CoCoOp: the text prompts depend on an image feature vector [B, imageFeatureDim]. */
  readonly needsImageFeatures: boolean;
  /**
   * The prompts of layer `layer` (0 = encoder input). Multimodal learners compute both sides
   * from one unified prompt; call once per layer and forward pass (no state is kept).
   */
  prompts(layer: number, imageFeatures?: Tensor): PromptPair;
  /** Hooks of a method that acts on the model rather than through prompt tokens (adapters, LoRA); absent for prompt learners. */
  readonly hooks?: ModelHooks;
  /** JSON-safe resolved options (stored in checkpoint metadata; rebuilds the same learner). */
  describe(): Record<string, unknown>;
}

/** The CLIP encoders' layout (CLIPSeg): what the hook-based methods are built from. */
export interface EncoderLayout {
  textLayers: number;
  visionLayers: number;
  /** Vision layers the segmentation forward runs: max(extract_layers) + 1. */
  visionLayersRun: number;
  /** The vision layers whose outputs feed the decoder (0-based indices: HF hidden_states[l + 1]). */
  extractLayers: readonly number[];
  /** text_projection's output width (the conditional embedding). */
  projectionDim: number;
  textIntermediate: number;
  visionIntermediate: number;
}

/** What a learner needs to know about the frozen model. */
export interface LearnerHost {
  family: BaseFamily;
  /** Text transformer width (the token-embedding width). */
  textDim: number;
  /** Vision transformer width (null: no token-based vision encoder, e.g. CRIS's ResNet). */
  visionDim: number | null;
  /** Width of the image feature vector CoCoOp conditions on (CLIPSeg projection_dim; CRIS embed dim). */
  imageFeatureDim: number;
  /** Deepest valid prompt depth: min(text layers, vision layers) for CLIPSeg, text layers for CRIS. */
  maxDepth: number;
  /** Human description of maxDepth for error messages. */
  maxDepthWhy: string;
  /** The frozen token-embedding matrix [vocab, textDim] (context initializers are embedded with it). */
  tokenEmbedding: Tensor;
  /** Tokenises without special tokens (context initializers); null when no tokenizer is available. */
  tokenize: ((text: string) => number[]) | null;
  quirks: QuirkMode;
  /** The CLIP encoders' layout (CLIPSeg); absent when the model has none (CRIS). */
  encoders?: EncoderLayout;
  /**
   * The context width the reference passes for randomly initialised text context vectors when it
   * differs from textDim (CRIS: word_dim, quirk 14). Undefined = textDim.
   */
  referenceContextDim?: number;
}

export class LearnerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LearnerConfigError';
  }
}
