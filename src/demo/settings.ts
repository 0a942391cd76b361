/**
 * The demo's defaults that its command shows in --help (steps, learning rates, which learners),
 * apart from the demo itself so that reading them loads no libtorch.
 */
import type { LearnerName } from '../learners/types.js';
import { learnerFamily, learnersFor, type MethodFamily } from '../learners/registry.js';

/** Default optimizer steps per learner and learning rate of the prompt learners (measured: docs/demo.md). */
export const DEMO_STEPS = 300;
export const DEMO_LR = 1e-2;
/**
 * The demo's learning rate by method family (`--learners all`): prompts take DEMO_LR; the methods
 * that change weights would be wrecked by it in 300 steps (full fine-tuning most of all), so they
 * take rates scaled to how much of the model they move (measured: docs/demo.md).
 */
export const DEMO_FAMILY_LR: Readonly<Record<MethodFamily, number>> = { prompt: DEMO_LR, adapter: 3e-3, lora: 3e-3, full: 3e-4 };

/** The learners the demo tunes by default: the paper's six (the prompt learners of CLIPSeg). */
export const demoDefaultLearners = (): LearnerName[] => learnersFor('clipseg').filter((l) => learnerFamily(l) === 'prompt');
/** `--learners all`: every CLIPSeg learner of the registry (adapters, LoRA, full fine-tuning too). */
export const demoAllLearners = (): LearnerName[] => learnersFor('clipseg');
