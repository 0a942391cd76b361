/**
 * A run's `predictions/` folder (docs/report.md): the predicted masks and overlays, per-sample
 * scores (from predictions.json, predictions/metrics.json or the run's eval/<split>.json), and
 * the image and ground truth of each sample (from the folder, else from the run's dataset).
 * Files are looked for inside the predictions folder or the dataset only, never outside.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { type Ctx, finiteOrNull, isDir, isFile, isRecord, safeName } from './load-files.js';
import { runFiles } from '../train/run-folder.js';

export interface PredictionSample {
  /** Sample name (the dataset's mask name). */
  name: string;
  prompt: string | null;
  dice: number | null;
  iou: number | null;
  /** Absolute paths of files that exist, or null. */
  mask: string | null;
  overlay: string | null;
  image: string | null;
  groundTruth: string | null;
}

export interface PredictionSet {
  dir: string;
  samples: PredictionSample[];
}

/** A file named in predictions.json, looked for in the predictions folder (never outside it). */
function resolvePredFile(predDir: string, ref: unknown): string | null {
  if (typeof ref !== 'string' || ref === '') return null;
  const candidates: string[] = [];
  if (path.isAbsolute(ref)) {
    const rel = path.relative(predDir, ref);
    if (safeName(rel)) candidates.push(path.join(predDir, rel));
    candidates.push(path.join(predDir, path.basename(ref)));
  } else if (safeName(ref)) {
    candidates.push(path.join(predDir, ref));
  }
  return candidates.find(isFile) ?? null;
}

const stemOf = (name: string): string => {
  const ext = path.extname(name);
  return ext ? name.slice(0, -ext.length) : name;
};

/** `<stem><suffix>.png` (or the stem itself for suffix '') in the predictions folder. */
function sibling(predDir: string, name: string, suffix: string): string | null {
  if (!safeName(name)) return null;
  const p = path.join(predDir, `${stemOf(name)}${suffix}.png`);
  return isFile(p) ? p : null;
}

/** The dataset folder of a run's config (absolute, or relative to the run, the bench or the cwd). */
function datasetDir(config: Record<string, unknown> | null, runDir: string, benchDir: string): string | null {
  const data = config && isRecord(config.data) ? config.data : null;
  const dir = data && typeof data.dir === 'string' ? data.dir : null;
  if (!dir) return null;
  const cands = path.isAbsolute(dir) ? [dir] : [path.resolve(runDir, dir), path.resolve(benchDir, dir), path.resolve(dir)];
  return cands.find((d) => isDir(path.join(d, 'anns'))) ?? null;
}

export function readPredictions(
  ctx: Ctx,
  run: { dir: string; config: Record<string, unknown> | null },
  cell: string,
): PredictionSet | null {
  const predDir = runFiles(run.dir).predictions;
  if (!isDir(predDir)) return null;
  const samples: PredictionSample[] = [];
  const listFile = path.join(predDir, 'predictions.json');
  let split: string | null = null;
  if (isFile(listFile)) {
    const raw = ctx.readJson(listFile, cell);
    if (raw !== undefined) {
      const files = isRecord(raw) ? raw.files : Array.isArray(raw) ? raw : undefined;
      if (isRecord(raw) && typeof raw.split === 'string') split = raw.split;
      if (!Array.isArray(files)) {
        ctx.add(listFile, 'field "files": expected a list of predicted files', cell);
      } else {
        files.forEach((f, i) => {
          if (!isRecord(f) || typeof f.name !== 'string' || f.name === '') {
            ctx.add(listFile, `files[${i}]: field "name": expected a non-empty string`, cell);
            return;
          }
          const name = f.name;
          samples.push({
            name,
            prompt: typeof f.prompt === 'string' ? f.prompt : null,
            dice: finiteOrNull(f.dice),
            iou: finiteOrNull(f.iou),
            mask: resolvePredFile(predDir, f.mask) ?? sibling(predDir, name, '_mask') ?? sibling(predDir, name, ''),
            overlay: resolvePredFile(predDir, f.overlay) ?? sibling(predDir, name, '_overlay'),
            image: resolvePredFile(predDir, f.image) ?? sibling(predDir, name, '_image'),
            groundTruth: resolvePredFile(predDir, f.groundTruth) ?? sibling(predDir, name, '_gt'),
          });
        });
      }
    }
  } else {
    // No list: every `<stem>_overlay.png` or `<stem>_mask.png` is a sample.
    const names = new Set<string>();
    for (const f of readdirSync(predDir).sort()) {
      const m = /^(.*)_(overlay|mask)\.png$/i.exec(f);
      if (m) names.add(m[1]!);
    }
    for (const stem of names) {
      samples.push({
        name: stem,
        prompt: null,
        dice: null,
        iou: null,
        mask: sibling(predDir, stem, '_mask'),
        overlay: sibling(predDir, stem, '_overlay'),
        image: sibling(predDir, stem, '_image'),
        groundTruth: sibling(predDir, stem, '_gt'),
      });
    }
  }
  // Per-sample scores: a separate metrics file, else the run's eval/<split>.json.
  const scoreFiles = [path.join(predDir, 'metrics.json'), path.join(runFiles(run.dir).evalDir, `${split ?? testSplitOf(run.config)}.json`)];
  if (samples.some((s) => s.dice === null)) {
    for (const sf of scoreFiles) {
      if (!isFile(sf)) continue;
      const raw = ctx.readJson(sf, cell);
      const per = isRecord(raw) ? raw.perSample : Array.isArray(raw) ? raw : undefined;
      if (!Array.isArray(per)) {
        if (raw !== undefined) ctx.add(sf, 'field "perSample": expected a list of per-sample scores', cell);
        continue;
      }
      // By name, and by name without extension (samples found by file name have no extension).
      const byName = new Map<string, Record<string, unknown>>();
      for (const p of per) if (isRecord(p) && typeof p.name === 'string') byName.set(p.name, p);
      for (const p of per) if (isRecord(p) && typeof p.name === 'string' && !byName.has(stemOf(p.name))) byName.set(stemOf(p.name), p);
      for (const s of samples) {
        const p = byName.get(s.name);
        if (s.dice === null && p) {
          s.dice = finiteOrNull(p.dice);
          s.iou ??= finiteOrNull(p.iou);
          s.prompt ??= typeof p.prompt === 'string' ? p.prompt : null;
        }
      }
      break;
    }
  }
  // Images and ground truth from the run's dataset, where the predictions folder has none.
  if (samples.some((s) => s.image === null || s.groundTruth === null)) {
    const dsDir = datasetDir(run.config, run.dir, ctx.benchDir);
    const annFile = dsDir ? path.join(dsDir, 'anns', `${split ?? testSplitOf(run.config)}.json`) : null;
    if (annFile && isFile(annFile)) {
      const raw = ctx.readJson(annFile, cell);
      if (Array.isArray(raw)) {
        const byMask = new Map<string, { img: string; mask: string }>();
        for (const e of raw) {
          if (isRecord(e) && typeof e.mask_name === 'string' && typeof e.img_name === 'string') {
            const v = { img: e.img_name, mask: e.mask_name };
            byMask.set(e.mask_name, v);
            if (!byMask.has(stemOf(e.mask_name))) byMask.set(stemOf(e.mask_name), v);
          }
        }
        for (const s of samples) {
          const e = byMask.get(s.name);
          if (!e) continue;
          if (s.image === null && safeName(e.img)) {
            const p = path.join(dsDir!, 'images', e.img);
            if (isFile(p)) s.image = p;
          }
          if (s.groundTruth === null && safeName(e.mask)) {
            const p = path.join(dsDir!, 'masks', e.mask);
            if (isFile(p)) s.groundTruth = p;
          }
        }
      }
    }
  }
  return { dir: predDir, samples };
}

function testSplitOf(config: Record<string, unknown> | null): string {
  const data = config && isRecord(config.data) ? config.data : null;
  return data && typeof data.testSplit === 'string' ? data.testSplit : 'test';
}
