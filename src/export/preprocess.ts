// preprocess.json: everything a consumer of model.onnx needs besides the model (zod-validated
// when read back, so a hand-edited file fails naming the field).
import { readFileSync, existsSync } from 'node:fs';
import { z } from 'zod';

export { ONNX_INPUT, ONNX_OUTPUTS, ONNX_OPSET } from './trace-segmenter.js';

const finite = () => z.number().refine(Number.isFinite, 'expected a finite number');
const triple = z.tuple([finite(), finite(), finite()]);
/** A std of 0 divides by zero (every pixel becomes inf/NaN and the masks come out empty); negative flips the image. */
const stdTriple = z.tuple(
  [0, 1, 2].map(() => z.number().positive('must be > 0 (x / std)').refine(Number.isFinite, 'expected a finite number')) as [
    z.ZodNumber,
    z.ZodNumber,
    z.ZodNumber,
  ],
);
/** Larger than any model input we export; a bigger size would only make the loader fail to allocate its batch. */
export const MAX_PREPROCESS_SIZE = 4096;

export const preprocessSchema = z
  .object({
    /** Square model input side in pixels. */
    size: z.number().int().positive().max(MAX_PREPROCESS_SIZE),
    /** Per-channel RGB mean / std applied to [0, 1] pixels: (x - mean) / std. */
    mean: triple,
    std: stdTriple,
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
  })
  .strict();

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
