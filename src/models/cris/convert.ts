// Converting a pickled PyTorch checkpoint (.pth/.pt) of CRIS or OpenAI's CLIP RN50 into
// `model.safetensors` + `config.json`: the one step that reads pickles.
//
// Reading: libtorch's loaders through the addon (`loadPickledTensors`: TorchScript archives such
// as OpenAI's RN50.pt, and zip pickles libtorch can parse); where libtorch fails (Python's
// OrderedDict state dicts, one-item dicts), the restricted torch.save reader of src/torch that
// never executes anything. Keys then go through the key map (key-map.ts), are validated against
// the model's own state-dict keys and shapes, floating tensors become float32 (the reference
// runs `.float()`), and `model.safetensors` + `config.json` are written.
import { mkdirSync, renameSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Tensor, dispose, saveSafetensors } from '../../torch/index.js';
import { N, type NativeHandle } from '../../torch/native.js';
import { readTorchSaveZip } from '../../torch/torch-pickle.js';
import { CRIS } from './model.js';
import { ClipResNet } from './clip.js';
import {
  inferClipConfig,
  inferCrisConfig,
  checkCrisConfig,
  clipResNetConfigSchema,
  type CrisConfig,
  type ClipResNetConfig,
  type CrisUnshapedHyper,
  type ShapeMap,
} from './config.js';
import { applyKeyMap, defaultKeyMap, type ConvertModel, type KeyMap } from './key-map.js';

export class ConvertError extends Error {
  constructor(
    message: string,
    readonly missing: string[] = [],
    readonly unexpected: string[] = [],
    readonly mismatched: string[] = [],
  ) {
    super(message);
    this.name = 'ConvertError';
  }
}

export interface ConvertOptions {
  keyMap?: KeyMap;
  model?: ConvertModel;
  /** A full config instead of inferring one from the checkpoint's shapes. */
  config?: CrisConfig | ClipResNetConfig;
  /** CRIS hyperparameters that no weight shape fixes (defaults: the paper's, numHead 8, imgSize 416, dropout 0.2). */
  hyper?: Partial<CrisUnshapedHyper>;
}

export interface ConvertResult {
  outDir: string;
  model: ConvertModel;
  config: CrisConfig | ClipResNetConfig;
  tensors: number;
  /** where the checkpoint was read: 'libtorch' (addon) or 'torch-save-reader' */
  reader: 'libtorch' | 'torch-save-reader';
  skipped: string[];
}

/** Reads every tensor of a .pth/.pt: the addon first, then the restricted torch.save reader. */
export function readPickledCheckpoint(path: string): { names: string[]; tensors: Tensor[]; reader: ConvertResult['reader'] } {
  if (!existsSync(path) || !statSync(path).isFile()) throw new ConvertError(`convert: ${path} is not a file`);
  let nativeErr: string;
  try {
    const r = N.loadPickledTensors(path) as { names: string[]; tensors: NativeHandle[] };
    const tensors = r.tensors.map((h) => new Tensor(h));
    if (tensors.length > 0) return { names: r.names, tensors, reader: 'libtorch' };
    nativeErr = 'no tensors found';
  } catch (e) {
    nativeErr = (e as Error).message;
  }
  try {
    const r = readTorchSaveZip(path);
    if (r.tensors.length === 0) throw new Error('no tensors found');
    return { ...r, reader: 'torch-save-reader' };
  } catch (e) {
    throw new ConvertError(`convert: cannot read ${path}:\n  libtorch: ${nativeErr}\n  torch.save reader: ${(e as Error).message}`);
  }
}

const list = (xs: string[], max = 40): string => (xs.length > max ? [...xs.slice(0, max), `... (${xs.length - max} more)`] : xs).join(', ');

/** Converts a pickled CRIS (or OpenAI CLIP RN50) checkpoint into `<outDir>/model.safetensors` + `config.json`. */
export async function convertCheckpoint(input: string, outDir: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const model: ConvertModel = opts.model ?? 'cris';
  if (model !== 'cris' && model !== 'clip-rn50')
    throw new ConvertError(`convert: unknown model ${JSON.stringify(model)} (expected cris or clip-rn50)`);
  const src = readPickledCheckpoint(input);
  const owned = [...src.tensors];
  try {
    const byName = new Map(src.names.map((n, i) => [n, src.tensors[i]!]));
    const { mapping, skipped } = applyKeyMap(src.names, opts.keyMap ?? defaultKeyMap(model));
    const shapes: ShapeMap = new Map([...mapping].map(([k, o]) => [k, byName.get(o)!.shape]));

    // The model's own keys and shapes.
    let config: CrisConfig | ClipResNetConfig;
    let expected: Map<string, number[]>;
    try {
      if (model === 'cris') {
        config = opts.config ? checkCrisConfig(opts.config as CrisConfig, 'convert --config') : inferCrisConfig(shapes, opts.hyper);
      } else {
        const r = clipResNetConfigSchema.safeParse(opts.config ?? inferClipConfig(shapes, ''));
        if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
        config = r.data as ClipResNetConfig;
      }
    } catch (e) {
      throw new ConvertError(
        `convert: ${input}: cannot determine the ${model} configuration: ${(e as Error).message}\n` +
          `  checkpoint keys after the key map (${mapping.size}): ${list([...mapping.keys()], 20)}`,
      );
    }
    const module = model === 'cris' ? new CRIS(config as CrisConfig) : new ClipResNet(config as ClipResNetConfig);
    try {
      expected = new Map([...module.stateDict()].map(([k, t]) => [k, t.shape]));
    } finally {
      module.dispose();
    }
    // OpenAI's CLIP has no attnpool.connect (CRIS adds it, its own checkpoint provides it).
    if (model === 'clip-rn50') for (const k of [...expected.keys()]) if (k.startsWith('visual.attnpool.connect.')) expected.delete(k);

    const missing = [...expected.keys()].filter((k) => !mapping.has(k));
    const unexpected = [...mapping.keys()].filter((k) => !expected.has(k));
    const mismatched: string[] = [];
    for (const [k, s] of expected) {
      const got = shapes.get(k);
      if (got && (got.length !== s.length || got.some((v, i) => v !== s[i])))
        mismatched.push(`${k}: model [${s.join(', ')}], checkpoint [${got.join(', ')}]`);
    }
    if (missing.length || unexpected.length || mismatched.length) {
      const lines = [`convert: ${input} does not match the ${model} model's state dict:`];
      if (unexpected.length) lines.push(`  unexpected keys (${unexpected.length}): ${list(unexpected)}`);
      if (missing.length) lines.push(`  missing keys (${missing.length}): ${list(missing)}`);
      for (const m of mismatched.slice(0, 40)) lines.push(`  shape mismatch ${m}`);
      lines.push('  (adjust the key map: --unwrap, --strip-prefix, --drop)');
      throw new ConvertError(lines.join('\n'), missing, unexpected, mismatched);
    }

    // float32 for floating tensors (fp16 TorchScript weights included); integers unchanged.
    const out = new Map<string, Tensor>();
    for (const k of [...mapping.keys()].sort()) {
      const t = byName.get(mapping.get(k)!)!;
      const floating = t.dtype === 'float16' || t.dtype === 'bfloat16' || t.dtype === 'float64';
      const c = floating ? t.to('float32') : t.isContiguous ? t : t.contiguous();
      if (c !== t) owned.push(c);
      out.set(k, c);
    }
    const dir = resolve(outDir);
    mkdirSync(dir, { recursive: true });
    saveSafetensors(join(dir, 'model.safetensors'), out, { format: 'pt', converted_from: basename(input), model_type: model });
    const cfgPath = join(dir, 'config.json');
    const tmp = `${cfgPath}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ model_type: model, ...config }, null, 2) + '\n');
    renameSync(tmp, cfgPath);
    return { outDir: dir, model, config, tensors: out.size, reader: src.reader, skipped };
  } finally {
    dispose(owned);
  }
}
