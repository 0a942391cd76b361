/**
 * Base models: a config's `model` (a preset, a local folder, or a hub id resolved by the resolver
 * the caller hands in) -> the architecture config, the weights folder and the tokenizer, and the
 * content fingerprint of the weights that tuned checkpoints record.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { readSafetensorsHeader } from '../torch/safetensors.js';
import { CLIPSEG_PRESETS, readClipsegConfig, type CLIPSegConfig } from '../models/clipseg/config.js';
import { ClipTokenizer } from '../models/clip/tokenizer.js';
import { CRIS_PRESETS, parseCrisConfig, type CrisConfig } from '../models/cris/config.js';
import type { BaseFamily } from '../learners/types.js';
import { SegmenterConfigError, type SegmenterConfig } from './config.js';

/**
 * Turns a hub repo id (org/name[@revision]) into a local folder holding `files` (default: the
 * model's). The CLI hands in src/hub's `resolveModelSource`; tests and applications may hand in
 * their own (an offline mirror, a fake).
 */
export type ModelResolver = (id: string, o: { files?: string[]; offline?: boolean }) => Promise<string>;

/** The hub cache (src/hub), loaded only when a hub id must be resolved and no resolver was handed in. */
export const hubResolver: ModelResolver = async (id, o) => (await import('../hub/index.js')).resolveModelSource(id, o);

/**
 * The base-model family a model spec (a preset, folder or hub id, and its short name) names,
 * judged from the names alone without reading anything: CRIS when "cris" appears in one.
 */
export function familyOfModelSpec(...names: string[]): BaseFamily {
  return names.some((n) => /cris/i.test(n)) ? 'cris' : 'clipseg';
}

export type BaseSource =
  | { family: 'clipseg'; dir: string | null; config: CLIPSegConfig; id: string; inputSize?: number }
  | { family: 'cris'; dir: string | null; config: CrisConfig; id: string };

export function sha256(s: string | Uint8Array): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * A content fingerprint of a weights file: sha256 over its size, its header and 64 evenly
 * spaced 64 KiB blocks of the data (reads ~4 MiB whatever the file size; two checkpoints of the
 * same architecture with different weights differ in every sampled block).
 */
export function fingerprintWeights(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const h = createHash('sha256');
    h.update(`size:${size};`);
    const { dataStart } = readSafetensorsHeader(file);
    const head = Buffer.alloc(dataStart);
    readSync(fd, head, 0, dataStart, 0);
    h.update(head);
    const block = 64 * 1024,
      blocks = 64;
    const dataLen = size - dataStart;
    const buf = Buffer.alloc(block);
    for (let i = 0; i < blocks; i++) {
      const off = dataStart + Math.floor((Math.max(0, dataLen - block) * i) / (blocks - 1 || 1));
      const n = readSync(fd, buf, 0, Math.min(block, size - off), off);
      h.update(buf.subarray(0, n));
    }
    return `sha256-sampled:${h.digest('hex')}`;
  } finally {
    closeSync(fd);
  }
}

function readModelType(dir: string): string {
  const p = join(dir, 'config.json');
  if (!existsSync(p))
    throw new SegmenterConfigError(
      `model folder ${dir} has no config.json (expected a CLIPSeg folder or a CRIS folder from \`tunevlseg convert\`)`,
    );
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new SegmenterConfigError(`${p} is not valid JSON: ${(e as Error).message}`);
  }
  const t = (obj as { model_type?: unknown }).model_type;
  if (t !== 'clipseg' && t !== 'cris')
    throw new SegmenterConfigError(`${p}: model_type must be "clipseg" or "cris", got ${JSON.stringify(t)}`);
  return t;
}

function folderSource(dir: string, id: string): BaseSource {
  const t = readModelType(dir);
  if (t === 'clipseg') return { family: 'clipseg', dir, config: readClipsegConfig(join(dir, 'config.json')), id };
  return {
    family: 'cris',
    dir,
    config: parseCrisConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json')),
    id,
  };
}

export async function resolveBase(cfg: SegmenterConfig, resolveModel: ModelResolver = hubResolver): Promise<BaseSource> {
  const m = cfg.model;
  const local = resolve(m);
  if (existsSync(local) && statSync(local).isDirectory()) return folderSource(local, m);
  const crisPreset = CRIS_PRESETS[m];
  if (crisPreset) {
    if (!cfg.randomWeights) {
      throw new SegmenterConfigError(
        `model "${m}": CRIS weights are not on the hub; convert a checkpoint (\`tunevlseg convert cris_best.pth --to weights/cris\`) ` +
          'and give that folder as model, or set randomWeights: true',
      );
    }
    return { family: 'cris', dir: null, config: crisPreset(), id: m };
  }
  const preset = CLIPSEG_PRESETS[m];
  const hubId = preset?.hubId ?? m;
  if (cfg.randomWeights) {
    if (!preset)
      throw new SegmenterConfigError(
        `model "${m}": randomWeights needs a preset (clipseg, rd64-refined, rd64, cris-rn50, cris-tiny) or a folder with config.json`,
      );
    return { family: 'clipseg', dir: null, config: preset.config(), id: hubId, inputSize: preset.inputSize };
  }
  const dir = await resolveModel(hubId, cfg.offline !== undefined ? { offline: cfg.offline } : {});
  const src = folderSource(dir, hubId);
  if (src.family === 'clipseg' && preset) return { ...src, inputSize: preset.inputSize };
  return src;
}

export async function loadTokenizer(
  cfg: SegmenterConfig,
  dir: string | null,
  resolveModel: ModelResolver = hubResolver,
): Promise<ClipTokenizer | null> {
  if (cfg.tokenizer) {
    const local = resolve(cfg.tokenizer);
    let tdir = local;
    if (!(existsSync(local) && statSync(local).isDirectory())) {
      tdir = await resolveModel(cfg.tokenizer, {
        files: ['vocab.json', 'merges.txt'],
        ...(cfg.offline !== undefined ? { offline: cfg.offline } : {}),
      });
    }
    return ClipTokenizer.fromDir(tdir);
  }
  if (dir && (existsSync(join(dir, 'vocab.json')) || existsSync(join(dir, 'tokenizer.json')))) return ClipTokenizer.fromDir(dir);
  return null;
}
