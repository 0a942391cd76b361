// Parity kind for the CLIPSeg base-model fixture (clipseg-tiny/): config.json (model_type
// clipseg) + model.safetensors + inputs.safetensors + outputs.safetensors. Recomputes every
// base-model tensor of outputs.safetensors with the TypeScript model and compares it with the
// fixtures README's tolerances.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, loadSafetensors, noGrad, tidy, dispose, keep } from '../../torch/index.js';
import { CLIPSegForImageSegmentation } from '../../models/clipseg/model.js';
import { diceCELoss } from '../../inference/loss.js';
import { TOL, compareTensors, type TensorReport, type Tolerance } from '../compare.js';
import type { CaseKind, CaseResult } from '../runner.js';

function isClipsegConfig(dir: string): boolean {
  const p = join(dir, 'config.json');
  if (!existsSync(p)) return false;
  try {
    return (JSON.parse(readFileSync(p, 'utf8')) as { model_type?: unknown }).model_type === 'clipseg';
  } catch {
    return false;
  }
}

/** Tolerance class of an output name (README "Tolerances"). */
export function clipsegTolerance(name: string): Tolerance {
  if (name.endsWith('loss')) return TOL.loss;
  if (name.startsWith('logits')) return TOL.logits;
  return TOL.activations;
}

/**
 * Every base-model output of the fixture, recomputed: the names of outputs.safetensors.
 * The returned tensors are kept alive (outside any tidy); dispose them when done.
 */
export function computeClipsegBaseOutputs(model: CLIPSegForImageSegmentation, inputs: Map<string, Tensor>): Map<string, Tensor> {
  const need = (k: string): Tensor => {
    const t = inputs.get(k);
    if (!t) throw new Error(`clipseg parity: inputs.safetensors has no "${k}"`);
    return t;
  };
  return noGrad(() =>
    tidy(() => {
      const out = new Map<string, Tensor>();
      const pixels = need('pixel_values');
      const main = model.forward(pixels, { inputIds: need('input_ids'), attentionMask: need('attention_mask') }, { fullVision: true });
      out.set('logits', main.logits);
      out.set('conditional_embeddings', main.conditionalEmbeddings);
      out.set('text_last_hidden_state', main.textLastHiddenState!);
      out.set('text_pooled_output', main.textPooledOutput!);
      out.set('vision_pooled_projected', model.clip.visual_projection.forward(main.visionPooledOutput!));
      main.visionHiddenStates.forEach((h, k) => out.set(`vision_hidden_states.${k}`, h));
      model.extractLayers.forEach((l, i) => out.set(`vision_activation.layer${l}`, main.visionActivations[i]!));
      out.set('decoder_features', main.decoderFeatures);

      const native = model.forward(need('pixel_values_native'), { inputIds: need('input_ids'), attentionMask: need('attention_mask') });
      out.set('logits_native', native.logits);
      out.set('decoder_features_native', native.decoderFeatures);

      const pad77 = model.forward(pixels, { inputIds: need('input_ids_pad77'), attentionMask: need('attention_mask_pad77') });
      out.set('logits_pad77', pad77.logits);
      out.set('conditional_embeddings_pad77', pad77.conditionalEmbeddings);

      const [B, H, W] = main.logits.shape as [number, number, number];
      const l = diceCELoss(main.logits.view(B, 1, H, W), need('labels'));
      out.set('dicece_loss', l.loss);
      out.set('dice_loss', l.dice);
      out.set('bce_loss', l.bce);
      for (const t of out.values()) keep(t);
      return out;
    }),
  );
}

export const clipsegBaseKind: CaseKind = {
  name: 'clipseg-base',
  matches: (dir) =>
    isClipsegConfig(dir) && ['model.safetensors', 'inputs.safetensors', 'outputs.safetensors'].every((f) => existsSync(join(dir, f))),
  run(dir): CaseResult {
    const model = CLIPSegForImageSegmentation.fromPretrained(dir);
    const inputs = loadSafetensors(join(dir, 'inputs.safetensors')).tensors;
    const expected = loadSafetensors(join(dir, 'outputs.safetensors')).tensors;
    let actual: Map<string, Tensor> | null = null;
    try {
      actual = computeClipsegBaseOutputs(model, inputs);
      const tensors: Record<string, TensorReport> = {};
      const notes: string[] = [];
      for (const [name, exp] of expected) {
        const got = actual.get(name);
        if (!got) {
          tensors[name] = {
            pass: false,
            max_abs: Infinity,
            max_rel: Infinity,
            error: 'not a base-model output this kind knows how to compute',
          };
          continue;
        }
        tensors[name] = tidy(() => compareTensors(got, exp, clipsegTolerance(name)));
      }
      const extra = [...actual.keys()].filter((k) => !expected.has(k));
      if (extra.length) notes.push(`computed but absent from outputs.safetensors: ${extra.join(', ')}`);
      return notes.length ? { tensors, notes } : { tensors };
    } finally {
      if (actual) dispose([...actual.values()]);
      dispose([...inputs.values(), ...expected.values()]);
      model.dispose();
    }
  },
};
