// CRIS configuration: typed, validated (zod), with named presets, a reader for the
// reference's snake_case `model_config` (fixtures' case.json) and shape inference from a
// state dict (as the reference's `build_model` does for the CLIP part).
//
// Reference: github.com/naamiinepal/tunevlseg @ 7956bcd, src/models/components/cris_model
// (CRIS.__init__ arguments and clip.build_model).
import { z } from 'zod';

/** The CLIP ModifiedResNet + text transformer hyperparameters (OpenAI `CLIP.__init__`). */
export interface ClipResNetConfig {
  /** Output width of the attention pool and of `text_projection` (1024 for RN50). */
  embedDim: number;
  /** Resolution CLIP was trained at; the attnpool grid is imageResolution / 32. */
  imageResolution: number;
  /** Bottleneck blocks per stage ([3, 4, 6, 3] for RN50). */
  visionLayers: [number, number, number, number];
  /** Stem width (64 for RN50); the ResNet feature width is 32x this. */
  visionWidth: number;
  /** Attention-pool heads; the reference derives visionWidth * 32 / 64. */
  visionHeads: number;
  contextLength: number;
  vocabSize: number;
  transformerWidth: number;
  /** The reference (build_model) derives transformerWidth / 64. */
  transformerHeads: number;
  transformerLayers: number;
}

/** CRIS (reference `CRIS.__init__`) hyperparameters plus the CLIP backbone's. */
export interface CrisConfig {
  clip: ClipResNetConfig;
  /** Channels of vis_c3, vis_c4, vis_c5 (backbone outputs). */
  fpnIn: [number, number, number];
  fpnOut: [number, number, number];
  /** Decoder width (= fpnOut[1]); the projector works at visDim / 2. */
  visDim: number;
  /** Width of the text state (= clip.embedDim). */
  wordDim: number;
  /** Transformer decoder layers. */
  numLayers: number;
  numHead: number;
  dimFfn: number;
  dropout: number;
  /** Logits are resized (bicubic, align_corners=True) to imgSize x imgSize. */
  imgSize: number;
  /** Backbone parameters get requiresGrad=false (reference default true). */
  freezeEncoder: boolean;
  /** Text length limit (CLIP context, 77). */
  maxLength: number;
}

const pos = z.number().int().positive();
const triple = z.tuple([pos, pos, pos]);

export const clipResNetConfigSchema = z
  .object({
    embedDim: pos,
    imageResolution: pos,
    visionLayers: z.tuple([pos, pos, pos, pos]),
    visionWidth: pos,
    visionHeads: pos,
    contextLength: pos,
    vocabSize: pos,
    transformerWidth: pos,
    transformerHeads: pos,
    transformerLayers: pos,
  })
  .strict();

export const crisConfigSchema = z
  .object({
    clip: clipResNetConfigSchema,
    fpnIn: triple,
    fpnOut: triple,
    visDim: pos,
    wordDim: pos,
    numLayers: pos,
    numHead: pos,
    dimFfn: pos,
    dropout: z.number().min(0).max(1),
    imgSize: pos,
    freezeEncoder: z.boolean(),
    maxLength: pos,
  })
  .strict();

function fail(where: string, msg: string): never {
  throw new Error(`CRIS config${where ? ` (${where})` : ''}: ${msg}`);
}

/** Checks the cross-field constraints the reference relies on (it would fail later with a shape error). */
export function checkCrisConfig(c: CrisConfig, where = ''): CrisConfig {
  const r = crisConfigSchema.safeParse(c);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '<root>'}: ${i.message}`).join('; ');
    fail(where, issues);
  }
  const k = c.clip;
  if (k.transformerWidth % k.transformerHeads !== 0)
    fail(where, `clip.transformerWidth ${k.transformerWidth} is not divisible by clip.transformerHeads ${k.transformerHeads}`);
  if ((k.visionWidth * 32) % k.visionHeads !== 0)
    fail(where, `clip.visionWidth*32 = ${k.visionWidth * 32} is not divisible by clip.visionHeads ${k.visionHeads}`);
  if (c.fpnIn[0] !== k.visionWidth * 8)
    fail(where, `fpnIn[0] must be the layer2 width visionWidth*8 = ${k.visionWidth * 8}, got ${c.fpnIn[0]}`);
  if (c.fpnIn[1] !== k.visionWidth * 16)
    fail(where, `fpnIn[1] must be the layer3 width visionWidth*16 = ${k.visionWidth * 16}, got ${c.fpnIn[1]}`);
  if (c.fpnIn[2] !== k.embedDim) fail(where, `fpnIn[2] must be the attnpool output clip.embedDim = ${k.embedDim}, got ${c.fpnIn[2]}`);
  if (c.wordDim !== k.embedDim) fail(where, `wordDim ${c.wordDim} must equal clip.embedDim ${k.embedDim} (the text state width)`);
  if (c.visDim !== c.fpnOut[1]) fail(where, `visDim ${c.visDim} must equal fpnOut[1] ${c.fpnOut[1]} (the neck output width)`);
  if (c.visDim !== k.transformerWidth)
    fail(
      where,
      `visDim ${c.visDim} must equal clip.transformerWidth ${k.transformerWidth} (the decoder cross-attends to the text features)`,
    );
  if (c.visDim % c.numHead !== 0) fail(where, `visDim ${c.visDim} is not divisible by numHead ${c.numHead}`);
  if (c.visDim % 4 !== 0) fail(where, `visDim ${c.visDim} must be a multiple of 4 (2-D sine position encoding)`);
  if (k.transformerWidth % 2 !== 0) fail(where, `clip.transformerWidth must be even (1-D sine position encoding)`);
  if (c.maxLength > k.contextLength) fail(where, `maxLength ${c.maxLength} exceeds clip.contextLength ${k.contextLength}`);
  return c;
}

/**
 * Image normalisation of the reference's CRIS experiments (configs/experiment/coop/cris.yaml:
 * OpenAI CLIP's mean/std, bicubic resize to img_size 416). Prompts use the CLIP tokenizer
 * (`CIDAS/clipseg-rd64`), padded to the longest.
 */
export const CRIS_IMAGE_MEAN: readonly [number, number, number] = Object.freeze([0.48145466, 0.4578275, 0.40821073]) as readonly [
  number,
  number,
  number,
];
export const CRIS_IMAGE_STD: readonly [number, number, number] = Object.freeze([0.26862954, 0.26130258, 0.27577711]) as readonly [
  number,
  number,
  number,
];

/** OpenAI CLIP RN50 (as loaded from `RN50.pt`). */
export function clipRn50(): ClipResNetConfig {
  return {
    embedDim: 1024,
    imageResolution: 224,
    visionLayers: [3, 4, 6, 3],
    visionWidth: 64,
    visionHeads: 32,
    contextLength: 77,
    vocabSize: 49408,
    transformerWidth: 512,
    transformerHeads: 8,
    transformerLayers: 12,
  };
}

/**
 * The paper's CRIS (configs/model/coop/cris.yaml): RN50, 416x416, dropout 0.2. Note the reference's
 * experiment configs (configs/experiment/coop/cris.yaml) override the dropout to 0 for training.
 */
export function crisRn50(overrides: Partial<Omit<CrisConfig, 'clip'>> = {}): CrisConfig {
  return checkCrisConfig(
    {
      clip: clipRn50(),
      fpnIn: [512, 1024, 1024],
      fpnOut: [256, 512, 1024],
      visDim: 512,
      wordDim: 1024,
      numLayers: 3,
      numHead: 8,
      dimFfn: 2048,
      dropout: 0.2,
      imgSize: 416,
      freezeEncoder: true,
      maxLength: 77,
      ...overrides,
    },
    'crisRn50',
  );
}

/** The parity fixture's tiny random CRIS (`cris-tiny/case.json` model_config). */
export function crisTiny(): CrisConfig {
  return checkCrisConfig(
    {
      clip: {
        embedDim: 128,
        imageResolution: 96,
        visionLayers: [1, 1, 1, 1],
        visionWidth: 8,
        visionHeads: 4,
        contextLength: 77,
        vocabSize: 49408,
        transformerWidth: 64,
        transformerHeads: 1,
        transformerLayers: 3,
      },
      fpnIn: [64, 128, 128],
      fpnOut: [32, 64, 128],
      visDim: 64,
      wordDim: 128,
      numLayers: 2,
      numHead: 4,
      dimFfn: 128,
      dropout: 0,
      imgSize: 64,
      freezeEncoder: true,
      maxLength: 77,
    },
    'crisTiny',
  );
}

const num = (o: Record<string, unknown>, k: string, where: string): number => {
  const v = o[k];
  if (typeof v !== 'number') fail(where, `field ${k}: expected a number, got ${JSON.stringify(v)}`);
  return v;
};
const arr = (o: Record<string, unknown>, k: string, n: number, where: string): number[] => {
  const v = o[k];
  if (!Array.isArray(v) || v.length !== n || v.some((x) => typeof x !== 'number'))
    fail(where, `field ${k}: expected ${n} numbers, got ${JSON.stringify(v)}`);
  return v as number[];
};

/**
 * Reads the reference's snake_case form: `{clip: {embed_dim, vision_layers, ...}, cris: {fpn_in, ...}}`
 * (the fixtures' `case.json.model_config`). Heads follow build_model: text width/64, vision width*32/64.
 */
export function crisConfigFromReference(modelConfig: unknown, where = 'model_config'): CrisConfig {
  if (typeof modelConfig !== 'object' || modelConfig === null) fail(where, 'expected an object with `clip` and `cris`');
  const mc = modelConfig as Record<string, unknown>;
  const clip = mc.clip as Record<string, unknown> | undefined;
  const cris = mc.cris as Record<string, unknown> | undefined;
  if (!clip || typeof clip !== 'object') fail(where, 'missing object `clip`');
  if (!cris || typeof cris !== 'object') fail(where, 'missing object `cris`');
  const w = `${where}.clip`,
    wc = `${where}.cris`;
  const width = num(clip, 'transformer_width', w);
  const visionWidth = num(clip, 'vision_width', w);
  if (cris.return_intermediate === true)
    fail(wc, 'return_intermediate=true is not supported (the reference CRIS.forward cannot use it either)');
  return checkCrisConfig(
    {
      clip: {
        embedDim: num(clip, 'embed_dim', w),
        imageResolution: num(clip, 'image_resolution', w),
        visionLayers: arr(clip, 'vision_layers', 4, w) as [number, number, number, number],
        visionWidth,
        visionHeads: (visionWidth * 32) / 64,
        contextLength: num(clip, 'context_length', w),
        vocabSize: num(clip, 'vocab_size', w),
        transformerWidth: width,
        transformerHeads: typeof clip.transformer_heads === 'number' ? clip.transformer_heads : Math.floor(width / 64),
        transformerLayers: num(clip, 'transformer_layers', w),
      },
      fpnIn: arr(cris, 'fpn_in', 3, wc) as [number, number, number],
      fpnOut: arr(cris, 'fpn_out', 3, wc) as [number, number, number],
      visDim: num(cris, 'vis_dim', wc),
      wordDim: num(cris, 'word_dim', wc),
      numLayers: num(cris, 'num_layers', wc),
      numHead: num(cris, 'num_head', wc),
      dimFfn: num(cris, 'dim_ffn', wc),
      dropout: num(cris, 'dropout', wc),
      imgSize: typeof cris.img_size === 'number' ? cris.img_size : 416,
      freezeEncoder: typeof cris.freeze_encoder === 'boolean' ? cris.freeze_encoder : true,
      maxLength: typeof cris.max_length === 'number' ? cris.max_length : 77,
    },
    where,
  );
}

/** Parses our own JSON form (config.json written by `tunevlseg convert`); `model_type` is ignored. */
export function parseCrisConfig(json: unknown, where = 'config.json'): CrisConfig {
  if (typeof json !== 'object' || json === null) fail(where, 'expected an object');
  const { model_type: _t, ...rest } = json as Record<string, unknown>;
  return checkCrisConfig(rest as unknown as CrisConfig, where);
}

/** Shape access for inference: name -> shape. */
export type ShapeMap = Map<string, number[]>;

function shapeOf(shapes: ShapeMap, key: string, what: string): number[] {
  const s = shapes.get(key);
  if (!s) throw new Error(`cannot infer ${what}: the checkpoint has no key ${key}`);
  return s;
}

function countIndices(shapes: ShapeMap, prefix: string): number {
  const idx = new Set<string>();
  for (const k of shapes.keys()) if (k.startsWith(prefix)) idx.add(k.slice(prefix.length).split('.')[0]!);
  return idx.size;
}

/**
 * The CLIP ModifiedResNet config from state-dict shapes, exactly as the reference's build_model
 * (heads: width/64 for text, vision width*32/64). `prefix` is '' for a CLIP checkpoint and
 * 'backbone.' inside CRIS.
 */
export function inferClipConfig(shapes: ShapeMap, prefix = ''): ClipResNetConfig {
  const p = prefix;
  const pe = shapeOf(shapes, `${p}visual.attnpool.positional_embedding`, 'the attnpool grid');
  const grid = Math.round(Math.sqrt(pe[0]! - 1));
  if (grid * grid + 1 !== pe[0]) throw new Error(`${p}visual.attnpool.positional_embedding has ${pe[0]} rows: not grid^2 + 1`);
  const visionWidth = shapeOf(shapes, `${p}visual.layer1.0.conv1.weight`, 'the vision width')[0]!;
  const width = shapeOf(shapes, `${p}ln_final.weight`, 'the text width')[0]!;
  const layers = [1, 2, 3, 4].map((b) => countIndices(shapes, `${p}visual.layer${b}.`)) as [number, number, number, number];
  return {
    embedDim: shapeOf(shapes, `${p}text_projection`, 'embed_dim')[1]!,
    imageResolution: grid * 32,
    visionLayers: layers,
    visionWidth,
    visionHeads: (visionWidth * 32) / 64,
    contextLength: shapeOf(shapes, `${p}positional_embedding`, 'context_length')[0]!,
    vocabSize: shapeOf(shapes, `${p}token_embedding.weight`, 'vocab_size')[0]!,
    transformerWidth: width,
    transformerHeads: Math.max(1, Math.floor(width / 64)),
    transformerLayers: countIndices(shapes, `${p}transformer.resblocks.`),
  };
}

/** What a CRIS state dict cannot tell (no weights depend on it). */
export interface CrisUnshapedHyper {
  numHead: number;
  dropout: number;
  imgSize: number;
  freezeEncoder: boolean;
  maxLength: number;
}

/** A full CRIS config from state-dict shapes plus the hyperparameters weights do not fix (defaults: the paper's). */
export function inferCrisConfig(shapes: ShapeMap, hyper: Partial<CrisUnshapedHyper> = {}): CrisConfig {
  const f = (k: string, what: string): number[] => shapeOf(shapes, k, what);
  const paper = crisRn50();
  return checkCrisConfig(
    {
      clip: inferClipConfig(shapes, 'backbone.'),
      fpnIn: [
        f('neck.f3_v_proj.0.weight', 'fpn_in[0]')[1]!,
        f('neck.f2_v_proj.0.weight', 'fpn_in[1]')[1]!,
        f('neck.f1_v_proj.0.weight', 'fpn_in[2]')[1]!,
      ],
      fpnOut: [
        f('neck.f3_v_proj.0.weight', 'fpn_out[0]')[0]!,
        f('neck.f2_v_proj.0.weight', 'fpn_out[1]')[0]!,
        f('neck.f1_v_proj.0.weight', 'fpn_out[2]')[0]!,
      ],
      visDim: f('decoder.norm.weight', 'vis_dim')[0]!,
      wordDim: f('proj.txt.weight', 'word_dim')[1]!,
      numLayers: countIndices(shapes, 'decoder.layers.'),
      dimFfn: f('decoder.layers.0.ffn.0.weight', 'dim_ffn')[0]!,
      numHead: hyper.numHead ?? paper.numHead,
      dropout: hyper.dropout ?? paper.dropout,
      imgSize: hyper.imgSize ?? paper.imgSize,
      freezeEncoder: hyper.freezeEncoder ?? paper.freezeEncoder,
      maxLength: hyper.maxLength ?? paper.maxLength,
    },
    'inferred from the checkpoint',
  );
}

/**
 * CRIS's presets, by the names a model config may give (`model: cris-tiny`); CRIS weights are not
 * on the hub, so a preset builds random weights only (`randomWeights: true`). The one table of
 * them (CLIPSeg's is src/models/clipseg/config.ts CLIPSEG_PRESETS). `cris`: the paper's RN50 with
 * the dropout 0 the reference's experiment configs train with.
 */
export const CRIS_PRESETS: Readonly<Record<string, () => CrisConfig>> = Object.freeze({
  cris: () => crisRn50({ dropout: 0 }),
  'cris-rn50': () => crisRn50({ dropout: 0 }),
  'cris-tiny': crisTiny,
});
