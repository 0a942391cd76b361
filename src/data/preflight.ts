/**
 * What `train` checks in every (image, mask) pair before a run folder is made, with the same
 * rules as `data check` (src/data/check.ts), so that a run never trains on something other than
 * what the files say:
 *
 * - the mask has the image's size (the loader would otherwise stretch it onto the image);
 * - the mask is not a 0/1 or class-index mask (largest gray value 1..127): thresholded at
 *   gray 128 it is empty, and a run would train towards nothing. Such masks are refused, not
 *   rescaled: a mask whose foreground is 1 may as well be a class map, and guessing would
 *   change what the numbers mean. `tunevlseg data check` lists them all.
 *
 * Unreadable files are reported too. Every problem is collected (not only the first).
 */
import os from 'node:os';
import path from 'node:path';
import { type DatasetSample, type FormatIssue } from './format.js';
import { imageInfo, readMaskGray } from './image.js';
import { pool } from './pool.js';
import { shellCommand } from '../util/shell-quote.js';

export interface PreflightOptions {
  /** Files decoded at once. Default: available cores (at most 4). */
  concurrency?: number;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Problems of the samples' (image, mask) pairs: size mismatches, 0/1-valued masks, unreadable files. */
export async function checkTrainingPairs(samples: readonly DatasetSample[], o: PreflightOptions = {}): Promise<FormatIssue[]> {
  const issues: FormatIssue[] = [];
  const masks = new Map<string, Promise<{ width: number; height: number; max: number }>>();
  const maskStats = (file: string): Promise<{ width: number; height: number; max: number }> => {
    let p = masks.get(file);
    if (p === undefined) {
      p = readMaskGray(file).then((g) => {
        let max = 0;
        for (let i = 0; i < g.gray.length; i++) if ((g.gray[i] as number) > max) max = g.gray[i] as number;
        return { width: g.width, height: g.height, max };
      });
      masks.set(file, p);
    }
    return p;
  };
  const reported = new Set<string>();
  const limit = o.concurrency ?? Math.min(4, os.availableParallelism());
  await pool(samples, limit, async (s) => {
    const where = { file: s.annFile, entry: s.index };
    let img: { width: number; height: number };
    let mask: { width: number; height: number; max: number };
    try {
      img = await imageInfo(s.imagePath);
    } catch (e) {
      issues.push({ code: 'missing_image', ...where, field: 'img_name', message: message(e) });
      return;
    }
    try {
      mask = await maskStats(s.maskPath);
    } catch (e) {
      issues.push({ code: 'missing_mask', ...where, field: 'mask_name', message: message(e) });
      return;
    }
    if (img.width !== mask.width || img.height !== mask.height) {
      issues.push({
        code: 'invalid_entry',
        ...where,
        field: 'mask_name',
        message:
          `mask ${s.maskPath} is ${mask.width}x${mask.height} but its image ${s.imagePath} is ${img.width}x${img.height}: ` +
          "a mask must have its image's size (it would be stretched onto the image)",
      });
    }
    if (mask.max > 0 && mask.max <= 127 && !reported.has(s.maskPath)) {
      reported.add(s.maskPath);
      issues.push({
        code: 'invalid_entry',
        ...where,
        field: 'mask_name',
        message:
          `mask ${s.maskPath}: largest value is ${mask.max} (a 0/1 or class-index mask?): thresholded at gray 128 it is empty, ` +
          'so training would learn nothing; store foreground as 255',
      });
    }
  });
  // Report in split order, whatever order the decodes finished in.
  return issues.sort((a, b) => a.file.localeCompare(b.file) || (a.entry ?? 0) - (b.entry ?? 0));
}

/** A one-line hint for the error: where to see every problem of the dataset. */
export function preflightHint(dir: string): string {
  return `run \`${shellCommand(['tunevlseg', 'data', 'check', path.normalize(dir)])}\` for every problem of the dataset`;
}
