// Basic layers with PyTorch's parameter names, shapes, defaults and initialisation.
import { Tensor, empty, ones, zeros } from '../tensor.js';
import * as F from '../functional.js';
import { Module } from './module.js';
import { defaultLinearInit_, normal_, zeros_ } from './init.js';
import { tidy } from '../scope.js';

export interface FactoryOptions {
  device?: string;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
    o: FactoryOptions = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures], { device: o.device }));
    this.bias = bias ? this.registerParameter('bias', empty([outFeatures], { device: o.device })) : null;
    defaultLinearInit_(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly normalizedShape: number[];
  constructor(
    normalizedShape: number | number[],
    readonly eps = 1e-5,
    elementwiseAffine = true,
    bias = true,
    o: FactoryOptions = {},
  ) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    this.weight = elementwiseAffine ? this.registerParameter('weight', ones(this.normalizedShape, { device: o.device })) : null;
    this.bias = elementwiseAffine && bias ? this.registerParameter('bias', zeros(this.normalizedShape, { device: o.device })) : null;
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';

export interface Conv2dOptions {
  stride?: number | number[];
  padding?: number | number[] | 'same' | 'valid';
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
  paddingMode?: PaddingMode;
  device?: string;
}

const pair = (v: number | number[]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0]!, v[1]!]);

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | 'same' | 'valid';
  readonly dilation: [number, number];
  readonly groups: number;
  readonly paddingMode: PaddingMode;
  /** F.pad amounts for non-zero padding modes (PyTorch's _reversed_padding_repeated_twice). */
  readonly #padAmounts: number[];

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | number[],
    o: Conv2dOptions = {},
  ) {
    super();
    this.kernelSize = pair(kernelSize);
    this.stride = pair(o.stride ?? 1);
    this.dilation = pair(o.dilation ?? 1);
    this.groups = o.groups ?? 1;
    this.paddingMode = o.paddingMode ?? 'zeros';
    const p = o.padding ?? 0;
    this.padding = typeof p === 'string' ? p : pair(p);
    if (this.padding === 'same' && (this.stride[0] !== 1 || this.stride[1] !== 1)) throw new Error("Conv2d: padding='same' needs stride 1");
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0)
      throw new Error(`Conv2d: channels ${inChannels}->${outChannels} not divisible by groups ${this.groups}`);
    // Padding amounts per side, last dim first (left, right, top, bottom), as PyTorch.
    const amounts: number[] = [];
    for (let d = 1; d >= 0; d--) {
      if (this.padding === 'valid') amounts.push(0, 0);
      else if (this.padding === 'same') {
        const total = this.dilation[d]! * (this.kernelSize[d]! - 1);
        const left = Math.floor(total / 2);
        amounts.push(left, total - left);
      } else amounts.push(this.padding[d]!, this.padding[d]!);
    }
    this.#padAmounts = amounts;
    this.weight = this.registerParameter(
      'weight',
      empty([outChannels, inChannels / this.groups, ...this.kernelSize], { device: o.device }),
    );
    this.bias = o.bias === false ? null : this.registerParameter('bias', empty([outChannels], { device: o.device }));
    defaultLinearInit_(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    if (this.paddingMode !== 'zeros') {
      return tidy(() =>
        F.conv2d(
          F.pad(x, this.#padAmounts, this.paddingMode as 'reflect' | 'replicate' | 'circular'),
          this.weight,
          this.bias,
          this.stride,
          0,
          this.dilation,
          this.groups,
        ),
      );
    }
    return F.conv2d(x, this.weight, this.bias, this.stride, this.padding, this.dilation, this.groups);
  }
}

export interface ConvTranspose2dOptions {
  stride?: number | number[];
  padding?: number | number[];
  outputPadding?: number | number[];
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
  device?: string;
}

export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly o: Required<Omit<ConvTranspose2dOptions, 'bias' | 'device'>>;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | number[],
    o: ConvTranspose2dOptions = {},
  ) {
    super();
    this.kernelSize = pair(kernelSize);
    this.o = {
      stride: o.stride ?? 1,
      padding: o.padding ?? 0,
      outputPadding: o.outputPadding ?? 0,
      dilation: o.dilation ?? 1,
      groups: o.groups ?? 1,
    };
    // PyTorch stores transposed-conv weights as [in, out/groups, kh, kw].
    this.weight = this.registerParameter(
      'weight',
      empty([inChannels, outChannels / this.o.groups, ...this.kernelSize], { device: o.device }),
    );
    this.bias = o.bias === false ? null : this.registerParameter('bias', empty([outChannels], { device: o.device }));
    defaultLinearInit_(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    return F.convTranspose2d(
      x,
      this.weight,
      this.bias,
      this.o.stride,
      this.o.padding,
      this.o.outputPadding,
      this.o.groups,
      this.o.dilation,
    );
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    readonly paddingIdx?: number,
    o: FactoryOptions = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', empty([numEmbeddings, embeddingDim], { device: o.device }));
    normal_(this.weight);
  }
  forward(ids: Tensor): Tensor {
    return F.embedding(this.weight, ids, this.paddingIdx);
  }
}

/** Shared by BatchNorm1d/2d: PyTorch's _BatchNorm with running statistics as buffers. */
abstract class BatchNormBase extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  protected abstract readonly validDims: number[];
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
    affine = true,
    readonly trackRunningStats = true,
    o: FactoryOptions = {},
  ) {
    super();
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures], { device: o.device })) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures], { device: o.device })) : null;
    this.runningMean = trackRunningStats ? this.registerBuffer('running_mean', zeros([numFeatures], { device: o.device })) : null;
    this.runningVar = trackRunningStats ? this.registerBuffer('running_var', ones([numFeatures], { device: o.device })) : null;
    if (trackRunningStats) this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'int64', device: o.device }));
  }
  forward(x: Tensor): Tensor {
    if (!this.validDims.includes(x.ndim)) {
      throw new Error(`${this.constructor.name} expects a ${this.validDims.join('-D or ')}-D input, got [${x.shape.join(', ')}]`);
    }
    const useBatchStats = this.training || !this.trackRunningStats;
    if (this.training && this.trackRunningStats) this._buffers.get('num_batches_tracked')?.add_(1);
    return F.batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, useBatchStats, this.momentum, this.eps);
  }
}

/** BatchNorm over [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormBase {
  protected readonly validDims = [2, 3];
}

/** BatchNorm over [N, C, H, W]. */
export class BatchNorm2d extends BatchNormBase {
  protected readonly validDims = [4];
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (p < 0 || p > 1) throw new RangeError(`Dropout probability must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

export class Upsample extends Module {
  constructor(readonly opts: F.InterpolateOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.interpolate(x, this.opts);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.gelu(x, this.approximate);
  }
}
export class QuickGELU extends Module {
  forward(x: Tensor): Tensor {
    return F.quickGelu(x);
  }
}

/** Re-initialises a freshly built layer's bias to zeros (common in attention blocks). */
export function zeroBias(l: Linear): void {
  if (l.bias) zeros_(l.bias);
}
