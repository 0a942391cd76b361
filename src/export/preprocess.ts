// preprocess.json: everything a consumer of model.onnx needs besides the model (zod-validated
// when read back, so a hand-edited file fails naming the field).
import { readFileSync, existsSync } from 'node:fs';
import { z } from 'zod';

export { ONNX_INPUT, ONNX_OUTPUTS, ONNX_OPSET } from './trace-segmenter.js';

const triple = z.tuple([z.number(), z.number(), z.number()]);

export const preprocessSchema = z.object({
  /** Square model input side in pixels. */
  size: z.number().int().positive(),
  /** Per-channel RGB mean / std applied to [0, 1] pixels: (x - mean) / std. */
  mean: triple,
  std: triple,
  /** How an image is resized to size x size (aspect ratio not kept). */
  interpolation: z.string(),
  /** Layout of the input tensor. */
  layout: z.literal('NCHW'),
  channels: z.literal('RGB'),
  input: z.string(),
  outputs: z.array(z.string()),
  /** Foreground where the 8-bit probability exceeds 255 · threshold. */
  threshold: z.number().min(0).max(1),
  /** How the probability map returns to the image's size. */
  maskResize: z.string(),
  prompt: z.string(),
  /** The text tokenised at export (with predict's full stop appended unless turned off). */
  modelPrompt: z.string(),
  /** 'float32', or 'float16' (weights stored in half precision, computed in float32). */
  weights: z.enum(['float32', 'float16']),
}).strict();

export type PreprocessJson = z.infer<typeof preprocessSchema>;

export function readPreprocess(file: string): PreprocessJson {
  if (!existsSync(file)) throw new Error(`${file}: missing (an export folder has model.onnx and preprocess.json)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  const r = preprocessSchema.safeParse(raw);
  if (!r.success) throw new Error(`${file}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}
