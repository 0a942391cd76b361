/**
 * What a registry entry says about a learner (src/learners/registry.ts keeps the table). The type
 * lives apart from the table so that a learner's own folder (`src/learners/<name>/entry.ts`)
 * can describe it and the list of built-ins (builtins.ts) can list it without an import cycle.
 */
import type { z } from 'zod';
import type { BaseFamily, ContextLearner, LearnerHost, LearnerName, QuirkMode } from './types.js';

/** One search-space row (structurally a src/sweep `Distribution`). */
export type SearchRow =
  | { readonly type: 'float'; readonly low: number; readonly high: number; readonly log?: boolean; readonly step?: number }
  | { readonly type: 'int'; readonly low: number; readonly high: number; readonly log?: boolean; readonly step?: number }
  | { readonly type: 'categorical'; readonly choices: readonly (string | number | boolean | null)[] };

/**
 * The original's sweep of a learner (naamiinepal/tunevlseg @ 7956bcd, `file`; VLSM-Adapter's
 * methods: naamiinepal/vlsm-adapter @ d5b5a5e): its Optuna distributions as hydra-optuna-sweeper
 * 1.2 builds them from the file's `params`, in the file's order, named by their key without the
 * leading `model.` (src/learners/param-names.ts maps the names to our config keys), and the file's
 * sampler seed and `n_trials`. The sampler's other settings are the same in every file
 * (ORIGINAL_SETTINGS in src/sweep/tpe.ts).
 */
export interface OriginalSweep {
  readonly file: string;
  readonly seed: number;
  readonly nTrials: number;
  /**
   * What its Optuna optimised, as `sweep --objective auto` names it per quirks mode (src/experiment
   * trial.ts `SweepObjective`). Absent: TuneVLSeg's, `val_loss` (the last epoch's, reference,
   * quirk 21) / `best_val_loss` (fixed).
   */
  readonly objective?: Readonly<Record<QuirkMode, 'val_loss' | 'best_val_loss' | 'val_dice' | 'last_val_dice'>>;
  readonly params: Readonly<Record<string, SearchRow>>;
}

/**
 * How a method adapts the model, for the report's grouping: prompt tokens (the paper's six),
 * adapter modules, low-rank weight updates, or every weight.
 */
export type MethodFamily = 'prompt' | 'adapter' | 'lora' | 'full';
export const METHOD_FAMILIES: readonly MethodFamily[] = ['prompt', 'adapter', 'lora', 'full'];
/** Display names of the families (report tables). */
export const METHOD_FAMILY_LABELS: Readonly<Record<MethodFamily, string>> = {
  prompt: 'Prompt tuning',
  adapter: 'Adapters',
  lora: 'LoRA',
  full: 'Full fine-tuning',
};

/**
 * The training recipe of a method's original code: defaults for keys of the training config
 * (src/train/config.ts: `lr`, `weightDecay`, `gradClipNorm`, `plateau`, `loss`, ...). A run's own
 * config (file, flags, a sweep's sampled values) overrides each key; keys not named keep the
 * project's defaults.
 */
export interface TrainingRecipe {
  /** Where the values come from (docs, `inspect --json`). */
  source: string;
  config: Readonly<Record<string, unknown>>;
  /**
   * Weight decay on every trainable tensor (the original hands all of them to AdamW with its
   * weight_decay), instead of the paper learners' Linear/Conv weights only.
   */
  decayEveryTensor?: boolean;
}

/** A learner class: options (validated by its schema) and the model it serves. */
export type LearnerClass = new (options: Record<string, unknown>, host: LearnerHost) => ContextLearner;

/**
 * One active command of the original's run scripts (naamiinepal/tunevlseg @ 7956bcd,
 * `scripts/schedule_*.sh`) that trains the learner: the overrides `--recipe` applies.
 */
export interface OriginalRunScript {
  readonly file: string;
  readonly family: BaseFamily;
  /** Dataset keys of its active commands (src/experiment/recipes.ts names them by folder). */
  readonly datasets: readonly string[];
  readonly batchSize: number;
  /** `+trainer.accumulate_grad_batches` as passed on the command line (1 when not passed). */
  readonly accumulate: number;
  /** `model.net.use_new_last_layer=false` passed. */
  readonly noUpsampler?: true;
  /** `model.net.context_learner.context_initializer=null` passed. */
  readonly gaussianInit?: true;
  /** `+trainer.val_check_interval` passed. */
  readonly valCheckInterval?: number;
}

export interface LearnerEntry {
  /** The name configs, run folders and cell ids use. */
  name: LearnerName;
  /** Short label of the paper's tables ("Shared Sep") and full title ("Shared Separate"). */
  label: string;
  title: string;
  /** Row position in the paper's Tables 3 and 5 (lower first); learners without one come last. */
  paperOrder?: number;
  summary: string;
  /** Options schema (strict zod object with the yaml defaults). */
  schema: z.ZodObject;
  /**
   * Loads the learner's class (its folder's learner.ts). The class needs libtorch and the entry
   * does not, so the report and the sweep read the registry without libtorch; classes.ts loads
   * the classes when a model is built (`createLearner`).
   */
  load?: () => Promise<LearnerClass>;
  /** Builds the learner for a model, for a learner registered at run time with its class at hand (instead of `load`). */
  create?: (options: Record<string, unknown>, host: LearnerHost) => ContextLearner;
  /** Which encoders get prompts. */
  text: boolean;
  vision: boolean;
  /** Base-model families it applies to (CRIS's image encoder is a CNN: text learners only). */
  models: readonly BaseFamily[];
  /** The reference's learner class (fixtures' case.json `context_learner.class`; the wrapper class for methods without a learner class). */
  referenceClass: string;
  /** The reference wrapper class per family (case.json `wrapper_class`). */
  referenceWrappers: Readonly<Partial<Record<BaseFamily, string>>>;
  /** The reference class's own defaults (our option names), for keys a reference section leaves out. */
  referenceDefaults: Readonly<Record<string, unknown>>;
  /** The learner's own search-space rows (paper Tab. 2), in our option names; the common rows are the sweep's. */
  searchRows: Readonly<Record<string, SearchRow>>;
  /** The original's sweep of this learner, when it has one (reference sweeps use it; see OriginalSweep). */
  originalSweep?: OriginalSweep;
  /** The original's run-script commands that train this learner (what `--recipe` applies; src/experiment/recipes.ts). */
  originalRunScripts?: readonly OriginalRunScript[];
  /** How it adapts the model (report grouping). Default 'prompt'. */
  family?: MethodFamily;
  /** The learnable upsampler's default (the non-prompt methods' original wrappers have none). Default true. */
  upsampler?: boolean;
  /** It trains the base model's own weights (full fine-tuning: the segmenter's `e2e`). */
  trainsBase?: boolean;
  /** The original's training recipe per quirks mode (absent: the project's defaults, TuneVLSeg's recipe). */
  recipe?: Readonly<Partial<Record<QuirkMode, TrainingRecipe>>>;
  /**
   * Sweep rows replacing the common ones (`lr`, `weight_decay`, `prompt_depth`) for a method that
   * has no prompt depth or whose original searched another space; keys are sweep parameter names.
   */
  trainingSearchRows?: Readonly<Record<string, SearchRow>>;
}
