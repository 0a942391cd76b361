/**
 * Where `predictFolder` writes, decided and checked before anything is written
 * (docs/reliability.md): every output file is compared with every input file, nothing is written
 * inside the dataset or input-image folder, two inputs never share an output name (`b.jpg` and
 * `b.png` would both give `b.png`), and an existing file in the output folder is replaced only
 * when an earlier prediction wrote it (it is listed in that folder's predictions.json).
 */
import { existsSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { assertNoOverwrite, canonicalPath, OutputPathError } from '../util/output-guard.js';

export interface PlannedOutput {
  mask: string;
  prob: string;
  overlay?: string;
}

export interface PredictionPlanInput {
  outDir: string;
  /** Sample names (mask name or image path relative to the input folder); outputs are `<stem>.png`. */
  names: readonly string[];
  /** The files read: images, and the masks of a scored split. */
  inputs: readonly string[];
  overlays: boolean;
  /** A folder nothing may be written into (the dataset, the folder of input images). */
  protectedDir?: { dir: string; what: string };
}

export const PREDICTIONS_INDEX = 'predictions.json';

const stem = (name: string): string => {
  const ext = path.extname(name);
  return ext ? name.slice(0, -ext.length) : name;
};

/** Files an earlier `predictFolder` wrote into `outDir` (from its predictions.json). */
function earlierOutputs(outDir: string): Set<string> {
  const index = path.join(outDir, PREDICTIONS_INDEX);
  const out = new Set<string>();
  if (!existsSync(index)) return out;
  try {
    const j = JSON.parse(readFileSync(index, 'utf8')) as { files?: { mask?: string; prob?: string; overlay?: string }[] };
    for (const f of j.files ?? []) for (const p of [f.mask, f.prob, f.overlay]) if (typeof p === 'string') out.add(canonicalPath(p));
  } catch {
    // not ours: nothing in the folder counts as an earlier prediction
  }
  return out;
}

export interface PredictionPlan {
  /** The output files of each sample, in the order of `names`. */
  outputs: PlannedOutput[];
  /** Outputs that do not exist yet: what a failed or interrupted prediction removes again. */
  fresh: string[];
  /** The output folder does not exist yet (removed again when a failure leaves it empty). */
  freshDir: boolean;
}

/**
 * Removes what a failed prediction wrote that did not exist before (synchronous: it also runs
 * from an exit handler), so a retry into the same folder is not refused for our own leftovers.
 */
export function removeFreshOutputs(plan: PredictionPlan, outDir: string): void {
  for (const f of plan.fresh) rmSync(f, { force: true });
  if (plan.freshDir) {
    try {
      rmdirSync(outDir); // only when empty
    } catch {
      // not empty or already gone
    }
  }
}

/** The output files of every sample, or an error naming the files that would collide. */
export function planPredictionOutputs(p: PredictionPlanInput): PredictionPlan {
  const outDir = path.resolve(p.outDir);
  const byOutput = new Map<string, string>();
  const plan = p.names.map((name) => {
    const base = path.join(outDir, stem(name));
    const o: PlannedOutput = { mask: `${base}.png`, prob: `${base}_prob.png`, ...(p.overlays ? { overlay: `${base}_overlay.png` } : {}) };
    for (const f of [o.mask, o.prob, o.overlay]) {
      if (f === undefined) continue;
      const other = byOutput.get(f);
      if (other !== undefined) {
        throw new OutputPathError(
          `predict: ${other} and ${name} would both write ${f}; ` +
            'rename one of them or predict them in separate calls with different --out folders',
        );
      }
      byOutput.set(f, name);
    }
    return o;
  });
  const outputs = [...byOutput.keys(), path.join(outDir, PREDICTIONS_INDEX)];
  assertNoOverwrite({
    command: 'predict',
    outputs,
    inputs: p.inputs,
    ...(p.protectedDir ? { protectedDirs: [p.protectedDir] } : {}),
    hint: 'choose an --out folder outside the inputs',
  });
  const earlier = earlierOutputs(outDir);
  const clash = outputs.find((f) => !f.endsWith(PREDICTIONS_INDEX) && existsSync(f) && !earlier.has(canonicalPath(f)));
  if (clash !== undefined) {
    throw new OutputPathError(
      `predict: ${clash} exists and was not written by an earlier prediction (not in ${path.join(outDir, PREDICTIONS_INDEX)}); ` +
        'choose an empty or new --out folder',
    );
  }
  const index = path.join(outDir, PREDICTIONS_INDEX);
  if (existsSync(index) && earlier.size === 0 && p.names.length > 0) {
    throw new OutputPathError(`predict: ${index} exists and is not a predictions index; choose an empty or new --out folder`);
  }
  return { outputs: plan, fresh: outputs.filter((f) => !existsSync(f)), freshDir: !existsSync(outDir) };
}
