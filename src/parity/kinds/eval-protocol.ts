// Parity kind for evaluation-protocol fixtures (fixtures README "eval-protocol"): case.json
// (`"kind": "eval_protocol"`), probs.safetensors (`probs` [N, S, S] after the sigmoid), the N
// mask files and the reference's 8-bit predictions. Every number is recomputed with the
// functions `eval` and the trainer use (src/inference/protocols.ts, the loader's mask decoding),
// never a copy, and compared per sample and in aggregate.
import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { decodeMask, readMaskGray } from '../../data/image.js';
import { loadSafetensors, tensor, tidy, dispose } from '../../torch/index.js';
import {
  modelSideScores,
  originalSizePrediction,
  originalSizeScores,
  protocolMeans,
  type ProtocolSample,
} from '../../inference/protocols.js';
import { compareArrays, type TensorReport } from '../compare.js';
import type { CaseKind, CaseResult } from '../runner.js';

interface ProtocolCaseSample {
  mask: string;
  height?: number;
  width?: number;
  prediction_png?: string;
  model_resolution_reference?: { dice: number };
  original_size?: { dice: number; iou?: number };
}

interface ProtocolCase {
  kind: 'eval_protocol';
  model_size?: number;
  threshold?: number;
  samples: ProtocolCaseSample[];
  expected?: {
    model_resolution_reference?: { dice_mean?: number; iou_global?: number };
    original_size?: { dice_mean?: number; iou_mean?: number };
  };
  tolerance?: { per_sample?: number; mean?: number };
}

/** A path named by case.json, inside the case folder. */
function caseFile(dir: string, rel: string, field: string): string {
  const root = resolve(dir);
  const p = resolve(root, rel);
  if (!p.startsWith(root + sep)) throw new Error(`case.json ${field} "${rel}" escapes the case folder`);
  if (!existsSync(p)) throw new Error(`case.json ${field} "${rel}": no such file in ${dir}`);
  return p;
}

const scalar = (a: number, b: number, atol: number): TensorReport => compareArrays([a], [b], { atol, rtol: 0 });

/** The reference's PNG vs ours: at most `maxFraction` of pixels differ, by at most one level. */
function comparePng(ours: Uint8Array, expected: Uint8Array, maxFraction = 1e-3): TensorReport {
  if (ours.length !== expected.length)
    return { pass: false, max_abs: Infinity, max_rel: Infinity, error: `${ours.length} pixels, expected ${expected.length}` };
  let differ = 0,
    maxAbs = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i]! - expected[i]!);
    if (d > 0) differ++;
    if (d > maxAbs) maxAbs = d;
  }
  const fraction = differ / ours.length;
  const pass = maxAbs <= 1 && fraction <= maxFraction;
  return {
    pass,
    max_abs: maxAbs,
    max_rel: fraction,
    ...(pass ? {} : { error: `${differ} of ${ours.length} pixels differ (max ${maxAbs} levels)` }),
  };
}

export const evalProtocolKind: CaseKind = {
  name: 'eval_protocol',
  matches: (_dir, cj) => cj !== null && cj.kind === 'eval_protocol',
  async run(dir, cj): Promise<CaseResult> {
    const c = cj as unknown as ProtocolCase;
    if (!Array.isArray(c.samples) || c.samples.length === 0) throw new Error('case.json: "samples" must be a non-empty list');
    const perTol = c.tolerance?.per_sample ?? 2e-3;
    const meanTol = c.tolerance?.mean ?? 1e-3;
    const threshold = c.threshold ?? 0.5;
    const { tensors } = loadSafetensors(join(dir, 'probs.safetensors'));
    const out: Record<string, TensorReport> = {};
    try {
      const probs = tensors.get('probs');
      if (!probs) throw new Error('probs.safetensors has no "probs"');
      const [N, S, S2] = probs.shape;
      if (probs.shape.length !== 3 || S !== S2 || N !== c.samples.length) {
        throw new Error(`probs is [${probs.shape.join(', ')}], expected [${c.samples.length}, S, S]`);
      }
      if (c.model_size !== undefined && c.model_size !== S) throw new Error(`probs side ${S} != case.json model_size ${c.model_size}`);
      const probArrays = tidy(() => probs.to('float32').toFloat32Array());

      // Model side: the loader's soft masks (gray / 255, nearest resize), both model-side protocols.
      const soft = new Float32Array(N * S * S);
      const maskFiles = c.samples.map((s, i) => caseFile(dir, s.mask, `samples[${i}].mask`));
      for (let i = 0; i < N; i++) await decodeMask(maskFiles[i]!, { size: S, threshold: null }, soft.subarray(i * S * S, (i + 1) * S * S));
      const side = tidy(() => modelSideScores(probs, tensor(soft, [N, S, S]), threshold));
      const ref = side['model-resolution-reference'];

      // Original size: the reference's 8-bit PNG at each mask's size, scored against the mask file.
      const orig: ProtocolSample[] = [];
      for (let i = 0; i < N; i++) {
        const s = c.samples[i]!;
        const truth = await readMaskGray(maskFiles[i]!);
        if ((s.width !== undefined && s.width !== truth.width) || (s.height !== undefined && s.height !== truth.height)) {
          throw new Error(`${s.mask} is ${truth.width}x${truth.height}, case.json says ${s.width}x${s.height}`);
        }
        const pred8 = originalSizePrediction(probArrays.subarray(i * S * S, (i + 1) * S * S), S, truth.width, truth.height);
        if (s.prediction_png !== undefined) {
          const expected = await readMaskGray(caseFile(dir, s.prediction_png, `samples[${i}].prediction_png`));
          out[`sample${i}.original_size.prediction_png`] = comparePng(pred8, expected.gray);
        }
        const scores = originalSizeScores(pred8, truth.gray);
        orig.push(scores);
        if (s.original_size) {
          out[`sample${i}.original_size.dice`] = scalar(scores.dice, s.original_size.dice, perTol);
          if (s.original_size.iou !== undefined) out[`sample${i}.original_size.iou`] = scalar(scores.iou, s.original_size.iou, perTol);
        }
        if (s.model_resolution_reference)
          out[`sample${i}.model_resolution_reference.dice`] = scalar(ref[i]!.dice, s.model_resolution_reference.dice, perTol);
      }

      const e = c.expected ?? {};
      const refMeans = protocolMeans('model-resolution-reference', ref);
      const origMeans = protocolMeans('original-size', orig);
      const mr = e.model_resolution_reference,
        os = e.original_size;
      if (mr?.dice_mean !== undefined) out['model_resolution_reference.dice_mean'] = scalar(refMeans.dice, mr.dice_mean, meanTol);
      if (mr?.iou_global !== undefined) out['model_resolution_reference.iou_global'] = scalar(refMeans.iou, mr.iou_global, meanTol);
      if (os?.dice_mean !== undefined) out['original_size.dice_mean'] = scalar(origMeans.dice, os.dice_mean, meanTol);
      if (os?.iou_mean !== undefined) out['original_size.iou_mean'] = scalar(origMeans.iou, os.iou_mean, meanTol);
      return { tensors: out };
    } finally {
      dispose([...tensors.values()]);
    }
  },
};
