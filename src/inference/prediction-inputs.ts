/**
 * What `predictFolder` reads: a dataset split (its entries, prompts and mask names), a folder of
 * images (every image file, recursively, with one prompt) or image files given one by one (read
 * where they are, named by their base names).
 */
import { promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import type { LoaderSample } from '../data/loader.js';
import { loadSplit, promptOptions, type PromptOptions, type Split } from '../data/format.js';
import { IMAGE_EXTENSIONS } from '../data/image.js';
import { requireRegularFile } from '../util/output-guard.js';

export interface PredictionSource extends PromptOptions {
  /**
   * A dataset folder (with `split`: its entries, prompts and mask names) or, without `split`, a
   * folder of images (every image file, recursively; `prompt` or `overridePrompt` required).
   */
  input: string;
  /** Instead of a folder: these image files (names: their base names, which must differ). */
  images?: readonly string[];
  split?: Split;
  /** The prompt for a folder of images. */
  prompt?: string;
}

export interface PredictionInputs {
  /** The input folder, resolved. */
  root: string;
  samples: LoaderSample[];
  /** Per sample: its mask name (a split) or its image path relative to `root` (base name for files). */
  names: string[];
  imagePaths: string[];
  /** The files read: images, and the masks of a split. */
  files: string[];
  /** The loader's prompt options (a folder of images: its one prompt as the override). */
  prompts: PromptOptions;
}

/** Image files under `dir`, recursively, in name order; earlier predictions (`_prob`, `_overlay`) left out. */
async function listImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()) && !/_(prob|overlay)\.png$/i.test(e.name))
        out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** Image files given one by one: their paths and base names (two files of one name are refused). */
function namedFiles(images: readonly string[]): { imagePaths: string[]; names: string[] } {
  for (const f of images) requireRegularFile(f, 'predict');
  const names = images.map((f) => path.basename(f));
  const seen = new Map<string, string>();
  names.forEach((n, i) => {
    const other = seen.get(n);
    if (other !== undefined)
      throw new Error(`predict: ${other} and ${images[i]} are both named ${n}; predict them in separate calls or pass their folder`);
    seen.set(n, images[i]!);
  });
  return { imagePaths: images.map((f) => path.resolve(f)), names };
}

/** The samples a prediction reads, with their names and the files they come from. */
export async function predictionInputs(o: PredictionSource): Promise<PredictionInputs> {
  const root = path.resolve(o.input);
  const prompts = promptOptions(o);
  if (o.split !== undefined) {
    const ds = await loadSplit(root, o.split, prompts);
    const imagePaths = ds.map((s) => s.imagePath);
    return {
      root,
      samples: ds,
      names: ds.map((s) => s.maskName),
      imagePaths,
      prompts,
      files: [...imagePaths, ...(ds as { maskPath?: string }[]).flatMap((s) => (s.maskPath ? [s.maskPath] : []))],
    };
  }
  const prompt = o.prompt ?? o.overridePrompt;
  if (prompt === undefined || prompt.trim() === '')
    throw new Error('predictFolder: a folder of images needs a prompt (prompt or overridePrompt)');
  let imagePaths: string[], names: string[];
  if (o.images !== undefined) ({ imagePaths, names } = namedFiles(o.images));
  else {
    imagePaths = await listImages(root);
    if (imagePaths.length === 0) throw new Error(`predictFolder: no images (${IMAGE_EXTENSIONS.join(', ')}) found in ${root}`);
    names = imagePaths.map((p) => path.relative(root, p));
  }
  if (imagePaths.length === 0) throw new Error('predictFolder: no images given');
  const samples = imagePaths.map((p, i) => ({ imagePath: p, maskName: names[i]!, prompts: { p: prompt }, index: i }));
  return { root, samples, names, imagePaths, files: imagePaths, prompts: { ...prompts, overridePrompt: prompt } };
}

/** One folder, or image files read where they are (no copies: errors name the user's files). */
export function imageInputs(inputs: readonly string[]): { input: string; images?: string[] } {
  if (inputs.length === 0) throw new Error('predict: give image files or a folder of images');
  const isDir = (f: string): boolean => {
    try {
      return statSync(f).isDirectory();
    } catch {
      return false;
    }
  };
  if (inputs.length === 1 && isDir(inputs[0]!)) return { input: path.resolve(inputs[0]!) };
  const dir = inputs.find(isDir);
  if (dir !== undefined) throw new Error(`predict: give either one folder or image files, not both (${dir} is a folder)`);
  for (const f of inputs) requireRegularFile(f, 'predict');
  return { input: '.', images: [...inputs] };
}
