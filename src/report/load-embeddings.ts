/**
 * A bench's `embeddings/<dataset>.json` (docs/report.md): CLIP text and image vectors for the
 * t-SNE figure, inline or in a raw float32 file next to the JSON.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Ctx, errMessage, isDir, isRecord, safeName } from './load-files.js';
import { benchFiles } from '../train/run-folder.js';

export interface EmbeddingGroup {
  labels: string[];
  vectors: Float64Array[];
  dim: number;
}

export interface EmbeddingSet {
  dataset: string;
  file: string;
  model: string | null;
  text: EmbeddingGroup | null;
  image: EmbeddingGroup | null;
}

function readVectors(ctx: Ctx, file: string, g: unknown, what: string, embDir: string): EmbeddingGroup | null {
  if (g === undefined || g === null) return null;
  if (!isRecord(g)) {
    ctx.add(file, `field "${what}": expected an object with "labels" and "vectors" (or "file" and "dim")`);
    return null;
  }
  const labels = g.labels;
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
    ctx.add(file, `field "${what}.labels": expected a list of strings`);
    return null;
  }
  const vectors: Float64Array[] = [];
  let dim: number;
  if (g.vectors !== undefined) {
    if (!Array.isArray(g.vectors)) {
      ctx.add(file, `field "${what}.vectors": expected a list of number lists`);
      return null;
    }
    if (g.vectors.length !== labels.length) {
      ctx.add(file, `field "${what}.vectors": ${g.vectors.length} vectors for ${labels.length} labels`);
      return null;
    }
    dim = -1;
    for (let i = 0; i < g.vectors.length; i++) {
      const v = g.vectors[i] as unknown;
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        ctx.add(file, `field "${what}.vectors[${i}]": expected a list of finite numbers`);
        return null;
      }
      if (dim < 0) dim = v.length;
      if (v.length !== dim || dim === 0) {
        ctx.add(file, `field "${what}.vectors[${i}]": length ${v.length}, expected ${dim}`);
        return null;
      }
      vectors.push(Float64Array.from(v as number[]));
    }
  } else if (typeof g.file === 'string') {
    if (typeof g.dim !== 'number' || !Number.isInteger(g.dim) || g.dim < 1) {
      ctx.add(file, `field "${what}.dim": expected a positive integer`);
      return null;
    }
    dim = g.dim;
    if (!safeName(g.file)) {
      ctx.add(file, `field "${what}.file": "${g.file}" must be a relative path inside embeddings/`);
      return null;
    }
    const bin = path.join(embDir, g.file);
    let buf: Buffer;
    try {
      buf = readFileSync(bin);
    } catch (e) {
      ctx.add(bin, `cannot read: ${errMessage(e)}`);
      return null;
    }
    if (buf.byteLength !== labels.length * dim * 4) {
      ctx.add(bin, `${buf.byteLength} bytes, expected ${labels.length} x ${dim} float32 = ${labels.length * dim * 4}`);
      return null;
    }
    for (let i = 0; i < labels.length; i++) {
      const v = new Float64Array(dim);
      for (let j = 0; j < dim; j++) v[j] = buf.readFloatLE((i * dim + j) * 4);
      if (!v.every(Number.isFinite)) {
        ctx.add(bin, `vector ${i} has a non-finite value`);
        return null;
      }
      vectors.push(v);
    }
  } else {
    ctx.add(file, `field "${what}": expected "vectors" or "file"`);
    return null;
  }
  return { labels: labels as string[], vectors, dim: vectors.length ? vectors[0]!.length : dim };
}

export function readEmbeddings(ctx: Ctx, benchDir: string): EmbeddingSet[] {
  const embDir = benchFiles(benchDir).embeddings;
  if (!isDir(embDir)) return [];
  const out: EmbeddingSet[] = [];
  for (const f of readdirSync(embDir)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    const file = path.join(embDir, f);
    const raw = ctx.readJson(file);
    if (raw === undefined) continue;
    if (!isRecord(raw)) {
      ctx.add(file, 'expected a JSON object');
      continue;
    }
    const dataset = typeof raw.dataset === 'string' && raw.dataset !== '' ? raw.dataset : f.slice(0, -'.json'.length);
    const text = readVectors(ctx, file, raw.text, 'text', embDir);
    const image = readVectors(ctx, file, raw.image, 'image', embDir);
    if (!text && !image) {
      if (raw.text === undefined && raw.image === undefined) ctx.add(file, 'neither "text" nor "image" embeddings');
      continue;
    }
    out.push({ dataset, file, model: typeof raw.model === 'string' ? raw.model : null, text, image });
  }
  return out;
}
