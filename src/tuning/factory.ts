/**
 * `buildSegmenter(config)`: a typed, zod-validated model config -> a ready `Segmenter`
 * (PromptedClipSeg for CLIPSeg, PromptedCris for CRIS). The config is config.ts's, the base model
 * comes from base-model.ts (hub ids through the resolver handed in), and a tuned checkpoint is
 * read, checked and loaded by checkpoint.ts (docs/learners.md).
 */
import { join } from 'node:path';
import { noGrad } from '../torch/index.js';
import { CLIPSegForImageSegmentation, clipsegConfigToJson } from '../models/clipseg/index.js';
import { CRIS, loadCris } from '../models/cris/index.js';
import { LearnerConfigError } from '../learners/types.js';
import { PromptedClipSeg, clipsegDepthLimit, type BaseModelInfo } from './clipseg.js';
import { PromptedCris, crisDepthLimit, tuningCrisConfig } from './cris.js';
import { SegmenterConfigError, configJson, learnerOptionsOf, parseSegmenterConfig, type SegmenterConfigInput } from './config.js';
import { fingerprintWeights, hubResolver, loadTokenizer, resolveBase, sha256, type ModelResolver } from './base-model.js';

export * from './config.js';
export { familyOfModelSpec, fingerprintWeights, hubResolver, type ModelResolver } from './base-model.js';

export type TunedSegmenter = PromptedClipSeg | PromptedCris;

export interface BuildOptions {
  /** Resolves hub ids to folders (default: src/hub's cache, loaded on first use). */
  resolveModel?: ModelResolver;
}

/**
 * Builds a ready segmenter from a model config (the trainer's `model` section). Base weights come
 * from a local folder (CLIPSegForImageSegmentation.fromPretrained / loadCris) or the hub cache.
 */
export async function buildSegmenter(
  raw: SegmenterConfigInput | Record<string, unknown> = {},
  o: BuildOptions = {},
): Promise<TunedSegmenter> {
  const cfg = parseSegmenterConfig(raw);
  const resolveModel = o.resolveModel ?? hubResolver;
  const src = await resolveBase(cfg, resolveModel);
  const tokenizer = await loadTokenizer(cfg, src.dir, resolveModel);
  const learnerOptions = learnerOptionsOf(cfg);
  const common = {
    learner: cfg.learner,
    learnerOptions,
    quirks: cfg.quirks,
    useNewLastLayer: cfg.useNewLastLayer,
    newLastLayerKernelSize: cfg.newLastLayerKernelSize,
    residualRatio: cfg.residualRatio,
    noFreezeLastLayer: cfg.noFreezeLastLayer,
    e2e: cfg.e2e,
    frozenCacheBytes: Math.round(cfg.frozenCacheMb * 1024 * 1024),
    factoryConfig: configJson(cfg),
  };
  let seg: TunedSegmenter;
  if (src.family === 'clipseg') {
    const configHash = sha256(JSON.stringify(clipsegConfigToJson(src.config)));
    let model: CLIPSegForImageSegmentation;
    let base: BaseModelInfo;
    if (src.dir && !cfg.randomWeights) {
      model = CLIPSegForImageSegmentation.fromPretrained(src.dir);
      base = { id: src.id, fingerprint: fingerprintWeights(join(src.dir, 'model.safetensors')), configHash };
    } else {
      model = noGrad(() => new CLIPSegForImageSegmentation(src.config));
      model.eval();
      base = { id: src.id, fingerprint: `random:${configHash.slice(0, 16)}`, configHash };
    }
    if (cfg.imageSize === undefined && src.dir === null && 'inputSize' in src && src.inputSize) cfg.imageSize = src.inputSize;
    try {
      seg = new PromptedClipSeg(model, {
        ...common,
        tokenizer: tokenizer ?? model.tokenizer,
        base,
        ...(cfg.imageSize ? { imageSize: cfg.imageSize } : {}),
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
  } else {
    if (cfg.imageSize !== undefined && cfg.imageSize !== src.config.imgSize) {
      throw new SegmenterConfigError(
        `imageSize ${cfg.imageSize}: CRIS runs at its config's imgSize ${src.config.imgSize} (set it when converting the checkpoint)`,
      );
    }
    const configHash = sha256(JSON.stringify(src.config));
    let model: CRIS;
    let base: BaseModelInfo;
    const config = tuningCrisConfig(src.config, { e2e: cfg.e2e });
    if (src.dir && !cfg.randomWeights) {
      model = loadCris(src.dir, { config });
      base = { id: src.id, fingerprint: fingerprintWeights(join(src.dir, 'model.safetensors')), configHash };
    } else {
      model = noGrad(() => new CRIS(config));
      base = { id: src.id, fingerprint: `random:${configHash.slice(0, 16)}`, configHash };
    }
    try {
      seg = new PromptedCris(model, { ...common, tokenizer, base });
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  if (cfg.device && cfg.device !== 'cpu') seg.to(cfg.device);
  return seg;
}

/**
 * The deepest prompt the config's base model takes, read from its config alone (no weights are
 * loaded): what `sweep` clamps its depth range to before any trial runs.
 */
export async function promptDepthLimit(
  raw: SegmenterConfigInput | Record<string, unknown>,
  resolveModel: ModelResolver = hubResolver,
): Promise<{ maxDepth: number; maxDepthWhy: string }> {
  const src = await resolveBase(parseSegmenterConfig(raw), resolveModel);
  return src.family === 'clipseg' ? clipsegDepthLimit(src.config) : crisDepthLimit(src.config);
}

export { LearnerConfigError, SegmenterConfigError };
