// Parity kind for the base CRIS fixture (`cris-tiny/`: case.json with `model_config`, no
// `wrapper_class`): builds CRIS from the case's model_config, loads model.safetensors strictly,
// runs the plain forward (eval mode, no grad) on inputs.safetensors and compares every tensor of
// outputs.safetensors.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, noGrad, tidy, dispose, type Tensor } from '../../torch/index.js';
import { CRIS, crisConfigFromReference, loadCrisWeights, type CrisOutput } from '../../models/cris/index.js';
// The shared MONAI-DiceCE implementation (fixtures README "Loss", src/inference/loss.ts).
import { diceCELoss } from '../../inference/loss.js';
import { compareTensors, TOL, type TensorReport, type Tolerance } from '../compare.js';
import type { CaseKind, CaseResult } from '../runner.js';

/** outputs.safetensors name -> (forward output field, tolerance). */
const FIELDS: Record<string, [keyof CrisOutput, Tolerance]> = {
  logits: ['logits', TOL.logits],
  vis_c3: ['visC3', TOL.activations],
  vis_c4: ['visC4', TOL.activations],
  vis_c5: ['visC5', TOL.activations],
  text_features: ['textFeatures', TOL.activations],
  text_state: ['textState', TOL.activations],
  fpn_out: ['fpnOut', TOL.activations],
  decoder_out: ['decoderOut', TOL.activations],
  proj_out: ['projOut', TOL.activations],
};

function need(m: Map<string, Tensor>, name: string, file: string): Tensor {
  const t = m.get(name);
  if (!t) throw new Error(`${file}: missing tensor ${name}`);
  return t;
}

export function runCrisBaseCase(dir: string, caseJson: Record<string, unknown>): CaseResult {
  const config = crisConfigFromReference(caseJson.model_config, `${join(dir, 'case.json')} model_config`);
  const model = new CRIS(config);
  const inFile = join(dir, 'inputs.safetensors');
  const outFile = join(dir, 'outputs.safetensors');
  const inputs = loadSafetensors(inFile).tensors;
  const expected = loadSafetensors(outFile).tensors;
  try {
    loadCrisWeights(model, join(dir, 'model.safetensors'));
    model.eval();
    const tensors: Record<string, TensorReport> = {};
    const notes: string[] = [];
    const seen = new Set<string>();
    noGrad(() =>
      tidy(() => {
        const out = model.forward({
          pixelValues: need(inputs, 'pixel_values', inFile),
          inputIds: need(inputs, 'input_ids', inFile),
          attentionMask: inputs.get('attention_mask') ?? null,
        });
        for (const [name, [field, tol]] of Object.entries(FIELDS)) {
          const e = expected.get(name);
          if (!e) continue;
          tensors[name] = compareTensors(out[field] as Tensor, e, tol);
          seen.add(name);
        }
        const pm = expected.get('pad_mask');
        if (pm) {
          tensors.pad_mask = compareTensors(out.padMask.to(pm.dtype), pm, TOL.exact);
          seen.add('pad_mask');
        }
        const loss = expected.get('dicece_loss');
        if (loss) {
          const l = diceCELoss(out.logits, need(inputs, 'labels', inFile), { lambdaDice: 1, lambdaCe: 0.2 });
          tensors.dicece_loss = compareTensors(l.loss, loss, TOL.loss);
          seen.add('dicece_loss');
        }
        const l77 = expected.get('logits_pad77');
        if (l77) {
          const o77 = model.forward({
            pixelValues: need(inputs, 'pixel_values', inFile),
            inputIds: need(inputs, 'input_ids_pad77', inFile),
            attentionMask: inputs.get('attention_mask_pad77') ?? null,
          });
          tensors.logits_pad77 = compareTensors(o77.logits, l77, TOL.logits);
          seen.add('logits_pad77');
        }
      }),
    );
    for (const name of expected.keys()) {
      if (!seen.has(name)) {
        tensors[name] = { pass: false, max_abs: Infinity, max_rel: Infinity, error: 'no CRIS output corresponds to this fixture tensor' };
      }
    }
    notes.push('CRIS in eval mode (BatchNorm running statistics), no grad');
    return { tensors, notes };
  } finally {
    dispose([...inputs.values(), ...expected.values()]);
    model.dispose();
  }
}

/** The base `cris-tiny/` case (not its learners/ sub-cases, which carry `wrapper_class`). */
export const crisBaseKind: CaseKind = {
  name: 'cris-base',
  matches(dir, caseJson) {
    if (!caseJson || 'wrapper_class' in caseJson) return false;
    const mc = caseJson.model_config as Record<string, unknown> | undefined;
    return (
      typeof mc === 'object' &&
      mc !== null &&
      typeof mc.cris === 'object' &&
      typeof mc.clip === 'object' &&
      existsSync(join(dir, 'model.safetensors')) &&
      existsSync(join(dir, 'outputs.safetensors'))
    );
  },
  run(dir, caseJson) {
    return runCrisBaseCase(dir, caseJson ?? {});
  },
};
