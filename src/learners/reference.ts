/**
 * Reading the reference's learner configuration (the `context_learner` section of a hydra yaml or
 * of a fixture case.json, snake_case) into a learner name and our options (camelCase).
 * Unknown keys are errors, so a new reference option is noticed instead of silently dropped.
 */
import { learnerForReferenceClass } from './registry.js';
import { LearnerConfigError, type LearnerName } from './types.js';

/** reference key -> our option key (the documented name table, docs/learners.md). */
export const REFERENCE_OPTION_NAMES: Readonly<Record<string, string>> = Object.freeze({
  prompt_depth: 'depth',
  num_context: 'numContext',
  vector_std: 'vectorStd',
  context_initializer: 'contextInitializer',
  intermediate_dim: 'intermediateDim',
  use_proj_norm: 'useProjNorm',
  use_lora_proj: 'useLoraProj',
  use_unified_projection: 'useUnifiedProjection',
  norm_image_features: 'normImageFeatures',
  shared_dim: 'sharedDim',
  // VLSM-Adapter's CLIPSeg{Shallow,Dense}Adapter kwargs
  adapter_dim: 'adapterDim',
  adapter_in_v: 'adapterInV',
  adapter_in_l: 'adapterInL',
  adapter_in_cond: 'adapterInCond',
  // HF peft's LoraConfig (lora_dropout is `dropout`, already SharedAttn's name)
  r: 'rank',
  lora_alpha: 'alpha',
});

/** nn.TransformerEncoderLayer kwargs of SharedAttn's `unified_projector` -> our options. */
export const REFERENCE_PROJECTOR_NAMES: Readonly<Record<string, string>> = Object.freeze({
  nhead: 'heads',
  dim_feedforward: 'feedforward',
  dropout: 'dropout',
  norm_first: 'normFirst',
  activation: 'activation',
  layer_norm_eps: 'layerNormEps',
});

/** Our option name -> the reference's (paper Tab. 2) name: the inverse of the two tables above. */
export function referenceOptionName(ours: string): string {
  const hit = Object.entries({ ...REFERENCE_OPTION_NAMES, ...REFERENCE_PROJECTOR_NAMES }).find(([, o]) => o === ours);
  if (!hit)
    throw new LearnerConfigError(`option "${ours}" has no reference name (add it to REFERENCE_OPTION_NAMES in src/learners/reference.ts)`);
  return hit[0];
}

/** The reference's (paper Tab. 2) name -> our option name, or undefined. */
export function optionForReferenceName(ref: string): string | undefined {
  return REFERENCE_OPTION_NAMES[ref] ?? REFERENCE_PROJECTOR_NAMES[ref];
}

/** Keys of the reference section that carry no option (documentation, class names, fixed values). */
const IGNORED = new Set(['class', '_target_', '_partial_', 'tokenizer', 'note']);

export interface ReferenceLearner {
  name: LearnerName;
  options: Record<string, unknown>;
}

/**
 * `{class: "CoOpContextLearner", prompt_depth: 3, ...}` (plus, optionally, the initializer's
 * token ids) -> `{ name: 'coop', options: { depth: 3, ... } }`.
 */
export function learnerFromReference(section: Record<string, unknown>, initializerIds?: number[] | number[][] | null): ReferenceLearner {
  const cls = section.class ?? section._target_;
  if (typeof cls !== 'string')
    throw new LearnerConfigError('reference learner config: no "class" (or "_target_") naming the learner class');
  const entry = learnerForReferenceClass(cls.split('.').pop()!);
  const options: Record<string, unknown> = { ...entry.referenceDefaults };
  for (const [k, v] of Object.entries(section)) {
    if (IGNORED.has(k)) continue;
    if (k === 'unified_projector') {
      if (typeof v !== 'object' || v === null)
        throw new LearnerConfigError('reference learner config: unified_projector must be an object');
      for (const [pk, pv] of Object.entries(v as Record<string, unknown>)) {
        if (IGNORED.has(pk) || pk === 'd_model') continue;
        if (pk === 'batch_first') {
          if (pv !== false)
            throw new LearnerConfigError(
              'reference learner config: unified_projector.batch_first must be false (as the reference builds it)',
            );
          continue;
        }
        const ours = REFERENCE_PROJECTOR_NAMES[pk];
        if (!ours) throw new LearnerConfigError(`reference learner config: unknown unified_projector key "${pk}"`);
        options[ours] = pv;
      }
      continue;
    }
    const ours = REFERENCE_OPTION_NAMES[k];
    if (!ours) throw new LearnerConfigError(`reference learner config (${cls}): unknown key "${k}"`);
    options[ours] = v;
  }
  if (
    initializerIds !== undefined &&
    initializerIds !== null &&
    options.contextInitializer !== null &&
    options.contextInitializer !== undefined
  ) {
    options.contextInitializerIds = initializerIds;
  }
  return { name: entry.name, options };
}
