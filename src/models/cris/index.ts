// CRIS (CLIP-Driven Referring Image Segmentation) for tunevlseg: config + presets, the model,
// its CLIP ResNet backbone, and loading a converted checkpoint folder.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, dispose } from '../../torch/index.js';
import { shellQuote } from '../../util/shell-quote.js';
import { CRIS } from './model.js';
import { parseCrisConfig, type CrisConfig } from './config.js';

export * from './config.js';
export * from './clip.js';
export * from './layers.js';
export * from './model.js';
export * from './key-map.js';
export * from './convert.js';

/** Loads `<dir>/model.safetensors` strictly into a CRIS built from an explicit config. */
export function loadCrisWeights(model: CRIS, weightsPath: string): void {
  const { tensors } = loadSafetensors(weightsPath);
  try {
    model.loadStateDict(tensors, { source: weightsPath });
  } finally {
    dispose([...tensors.values()]);
  }
}

/**
 * A CRIS from a folder written by `tunevlseg convert` (config.json + model.safetensors),
 * loaded strictly, in eval mode. `device` moves it after loading.
 */
export function loadCris(dir: string, opts: { device?: string; config?: CrisConfig } = {}): CRIS {
  const cfgPath = join(dir, 'config.json');
  const weights = join(dir, 'model.safetensors');
  if (!existsSync(weights))
    throw new Error(`loadCris: ${weights} not found (convert a .pth with \`tunevlseg convert <file> --to ${shellQuote(dir)}\`)`);
  let config = opts.config;
  if (!config) {
    if (!existsSync(cfgPath)) throw new Error(`loadCris: ${cfgPath} not found and no config given`);
    const json = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    if (json.model_type !== 'cris')
      throw new Error(`loadCris: ${cfgPath}: model_type must be "cris", got ${JSON.stringify(json.model_type)}`);
    config = parseCrisConfig(json, cfgPath);
  }
  const model = new CRIS(config);
  loadCrisWeights(model, weights);
  if (opts.device) model.to(opts.device);
  return model;
}
