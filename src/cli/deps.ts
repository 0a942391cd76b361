// What a command may be handed instead of its defaults (tests, applications embedding the CLI):
// a segmenter factory, where results go and where progress is drawn.
import type { BuildSegmenter } from '../train/records.js';
import { checkModelKeys } from './model-flag.js';

export interface CommandDeps {
  /** Replaces the factory of src/tuning (tests, embedding applications). */
  buildSegmenter?: BuildSegmenter;
  /** Where results/JSON go (default console.log). */
  print?: (line: string) => void;
  /** Progress bar stream (default stderr). */
  stream?: NodeJS.WritableStream;
}

/** The segmenter factory of src/tuning (with the --model key check), loaded only when a command needs a model. */
export async function loadDefaultFactory(): Promise<BuildSegmenter> {
  const mod = await import('../tuning/factory.js');
  return (model) => {
    checkModelKeys(model, 'model config');
    return mod.buildSegmenter(model as Parameters<typeof mod.buildSegmenter>[0]);
  };
}

/** The segmenter factory to use: the one handed in, else src/tuning's. */
export async function factoryOf(deps: CommandDeps): Promise<BuildSegmenter> {
  return deps.buildSegmenter ?? (await loadDefaultFactory());
}

/** Where a command prints its results. */
export function printerOf(deps: CommandDeps): (line: string) => void {
  return deps.print ?? ((l: string) => console.log(l));
}
