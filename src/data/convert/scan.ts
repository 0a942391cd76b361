/** Finding files in raw dataset folders: the helpers every converter's scan uses. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { IMAGE_EXTENSIONS } from '../image.js';

const IMAGE_EXTENSION_SET: ReadonlySet<string> = new Set(IMAGE_EXTENSIONS);

export async function isDir(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.isDirectory() ?? false;
}

export async function isFile(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => null))?.isFile() ?? false;
}

/** Files of a folder (recursively when asked) whose extension is in `exts`, sorted, absolute. */
export async function listFiles(dir: string, exts: ReadonlySet<string> = IMAGE_EXTENSION_SET, recursive = false): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const ents = await fs.readdir(d, { withFileTypes: true });
    for (const e of ents) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (recursive) await walk(p);
      } else if (exts.has(fullExt(e.name)) || exts.has(path.extname(e.name).toLowerCase())) {
        out.push(p);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

/** The extension including a compression suffix (`.nii.gz`), lower-case. */
export function fullExt(name: string): string {
  const lower = name.toLowerCase();
  if (lower.endsWith('.nii.gz')) return '.nii.gz';
  return path.extname(lower);
}

/** The file name without its extension (`.nii.gz` counted as one). */
export function stem(file: string): string {
  const base = path.basename(file);
  return base.slice(0, base.length - fullExt(base).length);
}

/** The first candidate (folders relative to `root`) whose folders all exist, or null. */
export async function firstLayout<T extends Record<string, string>>(root: string, candidates: readonly T[]): Promise<T | null> {
  for (const c of candidates) {
    let ok = true;
    for (const rel of Object.values(c)) if (!(await isDir(path.join(root, rel)))) ok = false;
    if (ok) return c;
  }
  return null;
}

/**
 * Pairs images with masks by key (the image's stem; `maskKey` maps a mask file to the stem of
 * its image). Unpaired files are returned as messages, to be reported, not silently dropped.
 */
export function pairByStem(
  images: readonly string[],
  masks: readonly string[],
  maskKey: (maskFile: string) => string,
  root: string,
): { pairs: { image: string; masks: string[] }[]; skipped: string[] } {
  const byKey = new Map<string, string[]>();
  for (const m of masks) {
    const k = maskKey(m);
    let l = byKey.get(k);
    if (l === undefined) byKey.set(k, (l = []));
    l.push(m);
  }
  const skipped: string[] = [];
  const pairs: { image: string; masks: string[] }[] = [];
  const seen = new Set<string>();
  for (const img of images) {
    const k = stem(img);
    if (seen.has(k)) {
      skipped.push(`${path.relative(root, img)}: another image has the same name (${k}); left out`);
      continue;
    }
    seen.add(k);
    const ms = byKey.get(k);
    if (ms === undefined) skipped.push(`${path.relative(root, img)}: no mask found for this image; left out`);
    else pairs.push({ image: img, masks: ms });
  }
  for (const [k, ms] of byKey) {
    if (!seen.has(k))
      for (const m of ms) skipped.push(`${path.relative(root, m)}: mask without an image (no image named ${k}.*); left out`);
  }
  return { pairs, skipped };
}
