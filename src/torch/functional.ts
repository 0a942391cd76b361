// torch.nn.functional, the subset the models need. Arguments follow PyTorch's defaults.
import { N, type NativeHandle } from './native.js';
import { Tensor } from './tensor.js';
import type { DType } from './dtype.js';
import { dtypeCode } from './dtype.js';

const w = (x: NativeHandle): Tensor => new Tensor(x);
const o = (t: Tensor | null | undefined): NativeHandle | null => (t ? t._h : null);
const pair = (v: number | number[]): number[] => (typeof v === 'number' ? [v, v] : v);

export const relu = (x: Tensor): Tensor => w(N.relu(x._h));
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => w(N.gelu(x._h, approximate));
/** CLIP's quick_gelu: x * sigmoid(1.702 x). */
export const quickGelu = (x: Tensor): Tensor => w(N.quickGelu(x._h));
export const silu = (x: Tensor): Tensor => w(N.silu(x._h));
export const sigmoid = (x: Tensor): Tensor => w(N.sigmoid(x._h));
export const tanh = (x: Tensor): Tensor => w(N.tanh(x._h));
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => w(N.leakyRelu(x._h, slope));
export const softplus = (x: Tensor, beta = 1, threshold = 20): Tensor => w(N.softplus(x._h, beta, threshold));
export const softmax = (x: Tensor, dim: number, dtype?: DType): Tensor => w(N.softmax(x._h, dim, dtype ? dtypeCode(dtype) : null));
export const logSoftmax = (x: Tensor, dim: number, dtype?: DType): Tensor => w(N.logSoftmax(x._h, dim, dtype ? dtypeCode(dtype) : null));

export const linear = (x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor => w(N.linear(x._h, weight._h, o(bias)));
/**
 * quick_gelu(x Wᵀ + b): CLIP's fc1 and its activation as one op (native/src/fused.cc: the bias
 * added in the activation's pass, one elementwise pass each way); the plain composition under
 * autocast or off the CPU.
 */
export const linearQuickGelu = (x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor => w(N.linearQuickGelu(x._h, weight._h, o(bias)));

/**
 * Multi-head attention on projected [B, S, D] inputs (heads side by side in D, as CLIP's and
 * PyTorch's projections produce them): softmax(q kᵀ · scale + bias) v per head, returned as
 * [B, S, D] ready for the output projection. k, v: [B, T, D]; bias: additive, broadcastable to
 * [B, H, S, T] (no gradient through it). One native op with its own backward (fused.cc) for
 * float32/float64 CPU tensors outside autocast; the same composition of matmuls otherwise. q is
 * multiplied by `scale` before the product, as HF's CLIPAttention does.
 */
export const multiHeadAttention = (q: Tensor, k: Tensor, v: Tensor, numHeads: number, scale: number, bias?: Tensor | null): Tensor =>
  w(N.attention(q._h, k._h, v._h, numHeads, scale, o(bias)));

// Under autocast a 16-bit activation can meet float32 norm parameters. CUDA autocast runs
// layer/group norm in float32; libtorch 1.13's CPU kernels refuse the mix ("expected scalar
// type BFloat16 but found Float"). Both devices therefore normalise in float32 here, as CUDA
// autocast does, and return float32 (the next matmul casts down again).
const normInput = (x: Tensor, weight?: Tensor | null): Tensor =>
  weight && (x.dtype === 'bfloat16' || x.dtype === 'float16') && weight.dtype === 'float32' ? x.to('float32') : x;

export const layerNorm = (x: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor =>
  w(N.layerNorm(normInput(x, weight)._h, normalizedShape, o(weight), o(bias), eps));
export const groupNorm = (x: Tensor, groups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor =>
  w(N.groupNorm(normInput(x, weight)._h, groups, o(weight), o(bias), eps));
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight?: Tensor | null,
  bias?: Tensor | null,
  training = false,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  return w(N.batchNorm(x._h, o(weight), o(bias), o(runningMean), o(runningVar), training, momentum, eps));
}

export type Padding2d = number | number[] | 'same' | 'valid';

export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  stride: number | number[] = 1,
  padding: Padding2d = 0,
  dilation: number | number[] = 1,
  groups = 1,
): Tensor {
  const p = typeof padding === 'string' ? padding : pair(padding);
  return w(N.conv2d(x._h, weight._h, o(bias), pair(stride), p, pair(dilation), groups));
}
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, stride = 1, padding = 0, dilation = 1, groups = 1): Tensor {
  return w(N.conv1d(x._h, weight._h, o(bias), [stride], [padding], [dilation], groups));
}
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias?: Tensor | null,
  stride: number | number[] = 1,
  padding: number | number[] = 0,
  outputPadding: number | number[] = 0,
  groups = 1,
  dilation: number | number[] = 1,
): Tensor {
  return w(N.convTranspose2d(x._h, weight._h, o(bias), pair(stride), pair(padding), pair(outputPadding), groups, pair(dilation)));
}

export function maxPool2d(
  x: Tensor,
  kernel: number | number[],
  stride?: number | number[] | null,
  padding: number | number[] = 0,
  dilation: number | number[] = 1,
  ceilMode = false,
): Tensor {
  return w(N.maxPool2d(x._h, pair(kernel), pair(stride ?? kernel), pair(padding), pair(dilation), ceilMode));
}
export function avgPool2d(
  x: Tensor,
  kernel: number | number[],
  stride?: number | number[] | null,
  padding: number | number[] = 0,
  ceilMode = false,
  countIncludePad = true,
  divisorOverride?: number,
): Tensor {
  return w(N.avgPool2d(x._h, pair(kernel), pair(stride ?? kernel), pair(padding), ceilMode, countIncludePad, divisorOverride ?? null));
}
export const adaptiveAvgPool2d = (x: Tensor, size: number | number[]): Tensor => w(N.adaptiveAvgPool2d(x._h, pair(size)));
export const adaptiveMaxPool2d = (x: Tensor, size: number | number[]): Tensor => w(N.adaptiveMaxPool2d(x._h, pair(size)));

export interface InterpolateOptions {
  size?: number | number[];
  scaleFactor?: number | number[];
  mode?: 'nearest' | 'bilinear' | 'bicubic';
  alignCorners?: boolean;
}
/** F.interpolate for N,C,H,W input (recompute_scale_factor=None semantics). */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  const mode = opts.mode ?? 'nearest';
  if (mode === 'nearest' && opts.alignCorners !== undefined) throw new Error('interpolate: alignCorners only applies to bilinear/bicubic');
  if ((opts.size === undefined) === (opts.scaleFactor === undefined))
    throw new Error('interpolate: give exactly one of size and scaleFactor');
  if (opts.size !== undefined) return w(N.interpolate(x._h, pair(opts.size), null, mode, opts.alignCorners ?? false));
  // Scale factors go to the kernel (they define the source-coordinate mapping; output size floor(in * s)).
  return w(N.interpolate(x._h, null, pair(opts.scaleFactor!), mode, opts.alignCorners ?? false));
}

/** F.pad: pads listed from the last dimension backwards, as PyTorch. */
export const pad = (x: Tensor, pads: number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant', value = 0): Tensor =>
  w(N.pad(x._h, pads, mode, value));

export const affineGrid = (theta: Tensor, size: number[], alignCorners = false): Tensor => w(N.affineGrid(theta._h, size, alignCorners));
export const gridSample = (
  x: Tensor,
  grid: Tensor,
  mode: 'bilinear' | 'nearest' | 'bicubic' = 'bilinear',
  paddingMode: 'zeros' | 'border' | 'reflection' = 'zeros',
  alignCorners = false,
): Tensor => w(N.gridSample(x._h, grid._h, mode, paddingMode, alignCorners));

export const embedding = (weight: Tensor, indices: Tensor, paddingIdx?: number): Tensor =>
  w(N.embedding(weight._h, indices._h, paddingIdx ?? null));
export const dropout = (x: Tensor, p = 0.5, training = true): Tensor => (p === 0 || !training ? x : w(N.dropout(x._h, p, training)));

export interface SdpaOptions {
  mask?: Tensor | null;
  dropoutP?: number;
  isCausal?: boolean;
  scale?: number;
}
/** softmax(q kᵀ · scale + mask) v over the last two dims; a bool mask marks allowed positions. */
export const scaledDotProductAttention = (q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions = {}): Tensor =>
  w(N.scaledDotProductAttention(q._h, k._h, v._h, o(opts.mask), opts.dropoutP ?? 0, opts.isCausal ?? false, opts.scale ?? null));

export type Reduction = 'none' | 'mean' | 'sum';
export const binaryCrossEntropyWithLogits = (
  x: Tensor,
  target: Tensor,
  reduction: Reduction = 'mean',
  weight?: Tensor,
  posWeight?: Tensor,
): Tensor => w(N.binaryCrossEntropyWithLogits(x._h, target._h, o(weight), o(posWeight), reduction));
export const mseLoss = (x: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor => w(N.mseLoss(x._h, target._h, reduction));
export const crossEntropy = (x: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor =>
  w(N.crossEntropy(x._h, target._h, reduction));

/** x / max(||x||_p, eps) along dim. */
export function normalize(x: Tensor, p = 2, dim = -1, eps = 1e-12): Tensor {
  const n = x.norm(p, dim, true);
  const c = n.clamp(eps);
  const r = x.div(c);
  n.dispose();
  c.dispose();
  return r;
}
