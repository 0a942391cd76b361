// `tunevlseg convert <file> --to <dir> [--model cris|clip-rn50]`: the one explicit step that reads
// a pickled PyTorch checkpoint (.pth/.pt). Everything else reads safetensors only.
//
// Reading: libtorch's loaders through the addon (`loadPickledTensors`: TorchScript archives such
// as OpenAI's RN50.pt, and zip pickles libtorch can parse); where libtorch fails (Python's
// OrderedDict state dicts, one-item dicts), a restricted torch.save reader that never executes
// anything. Keys then go through an explicit key map (unwrap `state_dict.`, strip `module.`, ...),
// are validated against the model's own state-dict keys and shapes, floating tensors become
// float32 (the reference runs `.float()`), and `model.safetensors` + `config.json` are written.
import { mkdirSync, renameSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { Tensor, dispose, saveSafetensors } from '../torch/index.js';
import { N, type NativeHandle } from '../torch/native.js';
import {
  CRIS, ClipResNet, inferClipConfig, inferCrisConfig, checkCrisConfig, clipResNetConfigSchema,
  type CrisConfig, type ClipResNetConfig, type CrisUnshapedHyper, type ShapeMap,
} from '../models/cris/index.js';
import { readTorchSaveZip } from '../models/cris/torch-pickle.js';

export type ConvertModel = 'cris' | 'clip-rn50';

/**
 * How checkpoint keys become model keys, applied in this order:
 * 1. `unwrap`: for the first name N such that some key starts with `N.`, keep only those keys and
 *    remove `N.` (training checkpoints: {epoch, state_dict: {...}, optimizer: {...}}).
 * 2. `stripPrefixes`: each prefix, in order, is removed from every key that starts with it
 *    (`module.` from DataParallel/DDP; add `net.` or `model.` for Lightning wrappers).
 * 3. `drop`: exact keys removed (non-weights such as OpenAI's `input_resolution`).
 * 4. `rename`: exact renames.
 */
export interface KeyMap {
  unwrap?: string[];
  stripPrefixes?: string[];
  drop?: string[];
  rename?: Record<string, string>;
}

/** CRIS checkpoints (the authors' `cris_best.pth` holds {state_dict: {module.backbone...}, optimizer, ...}). */
export const CRIS_KEY_MAP: Readonly<Required<KeyMap>> = Object.freeze({ unwrap: ['state_dict'], stripPrefixes: ['module.'], drop: [], rename: {} });
/** OpenAI CLIP RN50.pt (TorchScript): drops the three integer attributes build_model deletes. */
export const CLIP_RN50_KEY_MAP: Readonly<Required<KeyMap>> = Object.freeze({
  unwrap: ['state_dict'], stripPrefixes: ['module.'], drop: ['input_resolution', 'context_length', 'vocab_size'], rename: {},
});

export function defaultKeyMap(model: ConvertModel): Required<KeyMap> {
  const m = model === 'cris' ? CRIS_KEY_MAP : CLIP_RN50_KEY_MAP;
  return { unwrap: [...m.unwrap], stripPrefixes: [...m.stripPrefixes], drop: [...m.drop], rename: { ...m.rename } };
}

export interface KeyMapResult {
  /** new key -> original key */
  mapping: Map<string, string>;
  /** original keys left out (outside the unwrapped subtree, or dropped) */
  skipped: string[];
}

/** Applies a key map to checkpoint names (see KeyMap); two keys mapping to one name is an error. */
export function applyKeyMap(names: string[], map: KeyMap): KeyMapResult {
  const skipped: string[] = [];
  let work = names.map((n) => [n, n] as [string, string]); // [current, original]
  for (const u of map.unwrap ?? []) {
    const pre = `${u}.`;
    if (work.some(([c]) => c.startsWith(pre))) {
      const keep: [string, string][] = [];
      for (const [c, o] of work) (c.startsWith(pre) ? keep.push([c.slice(pre.length), o]) : skipped.push(o));
      work = keep;
      break;
    }
  }
  for (const pre of map.stripPrefixes ?? []) {
    if (!pre) continue;
    work = work.map(([c, o]) => [c.startsWith(pre) ? c.slice(pre.length) : c, o]);
  }
  const drop = new Set(map.drop ?? []);
  const mapping = new Map<string, string>();
  for (const [c, o] of work) {
    if (drop.has(c)) {
      skipped.push(o);
      continue;
    }
    const n = map.rename?.[c] ?? c;
    const prev = mapping.get(n);
    if (prev !== undefined) throw new Error(`key map: both ${prev} and ${o} become ${n}`);
    mapping.set(n, o);
  }
  return { mapping, skipped };
}

export class ConvertError extends Error {
  constructor(message: string, readonly missing: string[] = [], readonly unexpected: string[] = [], readonly mismatched: string[] = []) {
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
  if (model !== 'cris' && model !== 'clip-rn50') throw new ConvertError(`convert: unknown model ${JSON.stringify(model)} (expected cris or clip-rn50)`);
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
      throw new ConvertError(`convert: ${input}: cannot determine the ${model} configuration: ${(e as Error).message}\n` +
        `  checkpoint keys after the key map (${mapping.size}): ${list([...mapping.keys()], 20)}`);
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
      if (got && (got.length !== s.length || got.some((v, i) => v !== s[i]))) mismatched.push(`${k}: model [${s.join(', ')}], checkpoint [${got.join(', ')}]`);
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

const intArg = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
};

/** Adds `convert <file> --to <dir> [--model cris|clip-rn50]` to the tunevlseg program. */
export function registerConvertCommand(program: Command): Command {
  return program
    .command('convert')
    .description('convert a pickled PyTorch checkpoint (.pth/.pt) into model.safetensors + config.json (the only step that reads pickles)')
    .argument('<file>', 'the .pth/.pt checkpoint')
    .requiredOption('--to <dir>', 'output folder (created)')
    .addOption(new Option('--model <model>', 'what the checkpoint holds').choices(['cris', 'clip-rn50']).default('cris'))
    .option('--unwrap <name...>', 'keep only keys under <name>. and drop that prefix (default: state_dict)')
    .option('--strip-prefix <prefix...>', 'prefixes removed from every key that has them (default: module.)')
    .option('--drop <key...>', 'exact keys to leave out')
    .option('--heads <n>', 'CRIS decoder heads (not recorded in weights; paper: 8)', intArg('heads'))
    .option('--img-size <n>', 'CRIS output size (paper: 416)', intArg('img-size'))
    .option('--dropout <p>', 'CRIS decoder dropout (paper: 0.2)', (v: string) => {
      const p = Number(v);
      if (!(p >= 0 && p <= 1)) throw new Error(`--dropout: expected a number in [0, 1], got ${JSON.stringify(v)}`);
      return p;
    })
    .action(async (file: string, o: { to: string; model: ConvertModel; unwrap?: string[]; stripPrefix?: string[]; drop?: string[]; heads?: number; imgSize?: number; dropout?: number }) => {
      const keyMap = defaultKeyMap(o.model);
      if (o.unwrap) keyMap.unwrap = o.unwrap;
      if (o.stripPrefix) keyMap.stripPrefixes = o.stripPrefix;
      if (o.drop) keyMap.drop = [...keyMap.drop, ...o.drop];
      const hyper: Partial<CrisUnshapedHyper> = {};
      if (o.heads !== undefined) hyper.numHead = o.heads;
      if (o.imgSize !== undefined) hyper.imgSize = o.imgSize;
      if (o.dropout !== undefined) hyper.dropout = o.dropout;
      const r = await convertCheckpoint(file, o.to, { model: o.model, keyMap, hyper });
      console.log(`converted ${file} (${r.reader}) -> ${join(r.outDir, 'model.safetensors')} (${r.tensors} tensors) + config.json` +
        (r.skipped.length ? `; left out ${r.skipped.length} non-model entries` : ''));
    });
}
