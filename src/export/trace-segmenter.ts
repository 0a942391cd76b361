/**
 * A segmenter with a fixed prompt as an ONNX graph: normalised images [batch, 3, S, S] in,
 * `logits` and `probabilities` [batch, 1, S, S] out. The segmenter's own forward runs under the
 * tracer (src/torch/onnx), so whatever depends only on the prompt (tokens, text tower, text
 * learners' context) is folded into constants, while vision-side prompts stay initializers and
 * CoCoOp's image-conditioned text path stays in the graph.
 */
import { noGrad, tensor, type Tensor } from '../torch/index.js';
import { traceOnnx, type TraceResult } from '../torch/onnx/index.js';
import type { Segmenter, TextInputs } from '../tuning/segmenter.js';

export const ONNX_INPUT = 'pixel_values';
export const ONNX_OUTPUTS = ['logits', 'probabilities'] as const;
export const ONNX_OPSET = 17;

export interface TraceSegmenterOptions {
  /** Input side traced (default: segmenter.info.imageSize). */
  imageSize?: number;
  /** Store float32 weights as float16 (computed in float32). */
  fp16?: boolean;
  /** Strings stored in the model's metadata_props. */
  metadata?: Record<string, string>;
  docString?: string;
  onPhase?: (phase: string) => void;
}

/** Deterministic stand-in images for the trace (their values do not shape the graph). */
function traceImages(batch: number, size: number): Tensor {
  const n = batch * 3 * size * size;
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = (s / 2 ** 32) * 4 - 2;
  }
  return tensor(data, [batch, 3, size, size]);
}

/** The prompt's one row of token ids repeated for each image. */
function repeatRows(t: Tensor, batch: number): Tensor {
  return t.expand(batch, t.size(1)).contiguous();
}

/** Traces `segmenter` (eval mode, no autograd) with the tokenised prompt `text` ([1, L]) fixed. */
export function traceSegmenter(segmenter: Segmenter, text: TextInputs, o: TraceSegmenterOptions = {}): TraceResult {
  if (text.inputIds.size(0) !== 1)
    throw new Error(`traceSegmenter: give one prompt (inputIds [1, L]), got [${text.inputIds.shape.join(', ')}]`);
  const wasTraining = segmenter.training;
  segmenter.eval();
  try {
    return noGrad(() =>
      traceOnnx({
        inputs: (b) => [traceImages(b, o.imageSize ?? segmenter.info.imageSize)],
        inputNames: [ONNX_INPUT],
        outputNames: [...ONNX_OUTPUTS],
        forward: ([x]) => {
          const B = x!.size(0);
          const logits = segmenter.forward(x!, {
            inputIds: repeatRows(text.inputIds, B),
            attentionMask: repeatRows(text.attentionMask, B),
          });
          return [logits, logits.sigmoid()];
        },
        opset: ONNX_OPSET,
        ...(o.fp16 ? { weightsFloat16: true } : {}),
        ...(o.metadata ? { metadata: o.metadata } : {}),
        ...(o.docString ? { docString: o.docString } : {}),
        ...(o.onPhase ? { onPhase: o.onPhase } : {}),
      }),
    );
  } finally {
    if (wasTraining) segmenter.train();
  }
}
