// Exporters of torch.nn.functional ops (opset 17): normalisation, convolution, pooling,
// resizing, padding, attention.
import {
  OnnxExportError,
  SymInt,
  Val,
  asType,
  normDim,
  num,
  nums,
  val,
  type ExportCtx,
  type Exporter,
  type OpArg,
  type OutMeta,
} from './ctx.js';

/** PyTorch pads [pT, pL] (symmetric) -> ONNX [pT, pL, pB, pR]. */
const sym2 = (p: number[]): number[] => [...p, ...p];

/** Conv padding: a list, 'valid', or 'same' (PyTorch puts the odd extra after). */
function convPads(padding: OpArg, kernel: number[], dilation: number[], what: string): number[] {
  if (padding === 'valid') return kernel.map(() => 0).concat(kernel.map(() => 0));
  if (padding === 'same') {
    const total = kernel.map((k, i) => dilation[i]! * (k - 1));
    return [...total.map((t) => Math.floor(t / 2)), ...total.map((t) => t - Math.floor(t / 2))];
  }
  const p = nums(padding, `${what} padding`);
  return [...p, ...p];
}

/**
 * A convolution with one group per image (CRIS's dynamic per-sample kernel: input
 * [1, B·C, H, W], weight [B, C, k, k], groups = B). ONNX's group is static, so it is written as
 * the sum over kernel offsets of shifted input slices times that offset's per-image weights.
 */
function perImageConv(ctx: ExportCtx, x: Val, w: Val, b: OpArg, stride: number[], pads: number[], dil: number[], out: OutMeta): string {
  const g = ctx.g;
  const [k0, k1] = [num(w.shape[2]!, 'kernel'), num(w.shape[3]!, 'kernel')];
  const C = num(w.shape[1]!, 'channels per group');
  const H = num(x.shape[2]!, 'height'),
    W = num(x.shape[3]!, 'width');
  if (stride.some((s) => s !== 1) || !(w.shape[0] instanceof SymInt) || w.shape[0].a !== 1 || w.shape[0].c !== 0) {
    throw new OnnxExportError('ONNX export: conv2d with groups = batch is exported only with stride 1 and one output channel per image');
  }
  const xr = g.op('Reshape', [x.name, ctx.intList([new SymInt(1, 0), C, H, W])]);
  const xp = g.op('Pad', [xr, g.ints([0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!])], { mode: 'constant' });
  const Ho = num(out.shape[2]!, 'output height'),
    Wo = num(out.shape[3]!, 'output width');
  let acc: string | null = null;
  for (let dy = 0; dy < k0; dy++) {
    for (let dx = 0; dx < k1; dx++) {
      const y0 = dy * dil[0]!,
        x0 = dx * dil[1]!;
      const patch = g.op('Slice', [xp, g.ints([y0, x0]), g.ints([y0 + Ho, x0 + Wo]), g.ints([2, 3])]);
      const wk = g.op('Slice', [w.name, g.ints([dy, dx]), g.ints([dy + 1, dx + 1]), g.ints([2, 3])]); // [B, C, 1, 1]
      const term = g.op('ReduceSum', [g.op('Mul', [patch, wk]), g.ints([1])], { keepdims: 1 }); // [B, 1, Ho, Wo]
      acc = acc === null ? term : g.op('Add', [acc, term]);
    }
  }
  if (b instanceof Val) acc = g.op('Add', [acc!, g.op('Reshape', [b.name, g.ints([-1, 1, 1, 1])])]);
  return g.op('Reshape', [acc!, ctx.intList(out.shape)]);
}

function conv(what: string): Exporter {
  return (ctx, [x, w, b, stride, padding, dilation, groups], out) => {
    if (groups instanceof SymInt) {
      const wv0 = val(w!, `${what} weight`);
      const k = wv0.shape.slice(2).map((d) => num(d, 'kernel size'));
      const d = nums(dilation!, 'dilation');
      return perImageConv(ctx, val(x!, `${what} input`), wv0, b!, nums(stride!, 'stride'), convPads(padding!, k, d, what), d, out[0]!);
    }
    const wv = val(w!, `${what} weight`);
    const kernel = wv.shape.slice(2).map((d) => num(d, 'kernel size'));
    const dil = nums(dilation!, 'dilation');
    const inputs = [val(x!, `${what} input`).name, wv.name];
    if (b instanceof Val) inputs.push(b.name);
    return ctx.g.op('Conv', inputs, {
      kernel_shape: kernel,
      strides: nums(stride!, 'stride'),
      dilations: dil,
      group: num(groups!, 'groups'),
      pads: convPads(padding!, kernel, dil, what),
    });
  };
}

/** (x - mean)/sqrt(var + eps) over `axes` (biased variance), for group norm. */
function normalizeOver(ctx: ExportCtx, x: string, axes: number[], eps: number, dtype: Val['dtype']): string {
  const g = ctx.g;
  const m = g.op('ReduceMean', [x], { axes, keepdims: 1 });
  const d = g.op('Sub', [x, m]);
  const v = g.op('ReduceMean', [g.op('Mul', [d, d])], { axes, keepdims: 1 });
  return g.op('Div', [d, g.op('Sqrt', [g.op('Add', [v, g.scalar(eps, dtype)])])]);
}

function resizeMode(mode: string): { mode: string; extra: Record<string, string | number> } {
  if (mode === 'bilinear') return { mode: 'linear', extra: {} };
  if (mode === 'bicubic') return { mode: 'cubic', extra: { cubic_coeff_a: -0.75, exclude_outside: 0 } };
  if (mode === 'nearest') return { mode: 'nearest', extra: { nearest_mode: 'floor' } };
  throw new OnnxExportError(`ONNX export: interpolate mode "${mode}" has no exporter`);
}

export const NN_EXPORTERS: Record<string, Exporter> = {
  layerNorm: (ctx, [x, shape, w, b, eps]) => {
    const v = val(x!, 'layerNorm input');
    const n = nums(shape!, 'normalizedShape').length;
    const g = ctx.g;
    const scale = w instanceof Val ? w.name : g.op('Expand', [g.scalar(1, v.dtype), g.ints(nums(shape!, 'normalizedShape'))]);
    const inputs = [v.name, scale];
    if (b instanceof Val) inputs.push(b.name);
    return g.op('LayerNormalization', inputs, { axis: -n, epsilon: { float: num(eps!, 'eps') } });
  },
  batchNorm: (ctx, [x, w, b, rm, rv, training, , eps]) => {
    if (training) throw new OnnxExportError('ONNX export: batchNorm in training mode (put the model in eval mode)');
    const v = val(x!, 'batchNorm input');
    const c = num(v.shape[1]!, 'channels');
    const g = ctx.g;
    const ones = (value: number): string => g.op('Expand', [g.scalar(value, v.dtype), g.ints([c])]);
    const inputs = [
      v.name,
      w instanceof Val ? w.name : ones(1),
      b instanceof Val ? b.name : ones(0),
      val(rm!, 'running mean (batchNorm without running stats has no exporter)').name,
      val(rv!, 'running var').name,
    ];
    return g.op('BatchNormalization', inputs, { epsilon: { float: num(eps!, 'eps') } });
  },
  groupNorm: (ctx, [x, groups, w, b, eps]) => {
    const v = val(x!, 'groupNorm input');
    const G = num(groups!, 'groups');
    const g = ctx.g;
    const grouped = g.op('Reshape', [v.name, ctx.intList([0, G, -1])]);
    let y = g.op('Reshape', [normalizeOver(ctx, grouped, [2], num(eps!, 'eps'), v.dtype), g.op('Shape', [v.name])]);
    const bshape = [num(v.shape[1]!, 'channels'), ...v.shape.slice(2).map(() => 1)];
    if (w instanceof Val) y = g.op('Mul', [y, g.op('Reshape', [w.name, g.ints(bshape)])]);
    if (b instanceof Val) y = g.op('Add', [y, g.op('Reshape', [b.name, g.ints(bshape)])]);
    return y;
  },
  conv2d: conv('conv2d'),
  conv1d: conv('conv1d'),
  convTranspose2d: (ctx, [x, w, b, stride, padding, outputPadding, groups, dilation]) => {
    const wv = val(w!, 'convTranspose2d weight');
    const inputs = [val(x!, 'convTranspose2d input').name, wv.name];
    if (b instanceof Val) inputs.push(b.name);
    return ctx.g.op('ConvTranspose', inputs, {
      kernel_shape: wv.shape.slice(2).map((d) => num(d, 'kernel')),
      strides: nums(stride!, 'stride'),
      pads: sym2(nums(padding!, 'padding')),
      output_padding: nums(outputPadding!, 'output padding'),
      group: num(groups!, 'groups'),
      dilations: nums(dilation!, 'dilation'),
    });
  },
  maxPool2d: (ctx, [x, k, s, p, d, ceil]) =>
    ctx.g.op('MaxPool', [val(x!, 'maxPool2d').name], {
      kernel_shape: nums(k!, 'kernel'),
      strides: nums(s!, 'stride'),
      pads: sym2(nums(p!, 'padding')),
      dilations: nums(d!, 'dilation'),
      ceil_mode: ceil ? 1 : 0,
    }),
  avgPool2d: (ctx, [x, k, s, p, ceil, countIncludePad, divisor]) => {
    if (divisor !== null && divisor !== undefined) throw new OnnxExportError('ONNX export: avgPool2d with divisorOverride has no exporter');
    return ctx.g.op('AveragePool', [val(x!, 'avgPool2d').name], {
      kernel_shape: nums(k!, 'kernel'),
      strides: nums(s!, 'stride'),
      pads: sym2(nums(p!, 'padding')),
      ceil_mode: ceil ? 1 : 0,
      count_include_pad: countIncludePad ? 1 : 0,
    });
  },
  adaptiveAvgPool2d: (ctx, [x, size]) => {
    const v = val(x!, 'adaptiveAvgPool2d');
    const [oh, ow] = nums(size!, 'output size') as [number, number];
    if (oh === 1 && ow === 1) return ctx.g.op('GlobalAveragePool', [v.name]);
    const ih = num(v.shape[2]!, 'height'),
      iw = num(v.shape[3]!, 'width');
    if (ih % oh || iw % ow)
      throw new OnnxExportError(`ONNX export: adaptiveAvgPool2d ${ih}x${iw} -> ${oh}x${ow} (not a divisor) has no exporter`);
    return ctx.g.op('AveragePool', [v.name], { kernel_shape: [ih / oh, iw / ow], strides: [ih / oh, iw / ow] });
  },
  interpolate: (ctx, [x, _size, scales, mode, alignCorners], out) => {
    const v = val(x!, 'interpolate input');
    const g = ctx.g;
    const { mode: m, extra } = resizeMode(String(mode));
    const ctm = alignCorners ? 'align_corners' : m === 'nearest' ? 'asymmetric' : 'half_pixel';
    const attrs = { mode: m, coordinate_transformation_mode: ctm, ...extra };
    if (scales !== null && scales !== undefined) {
      // PyTorch maps coordinates with the given factors; so does Resize given scales.
      const s = Float32Array.from([1, 1, ...nums(scales, 'scale factors')]);
      return g.op('Resize', [v.name, '', g.initializer(new Uint8Array(s.buffer), [4], 'float32', 'scales')], attrs);
    }
    const hw = out[0]!.shape.slice(2).map((d) => num(d, 'output size'));
    const sizes = g.op('Concat', [g.op('Slice', [g.op('Shape', [v.name]), g.ints([0]), g.ints([2])]), g.ints(hw)], { axis: 0 });
    return g.op('Resize', [v.name, '', '', sizes], attrs);
  },
  pad: (ctx, [x, pads, mode, value]) => {
    const v = val(x!, 'pad input');
    const p = nums(pads!, 'pads');
    // F.pad lists (before, after) from the last dim backwards; ONNX wants all befores then all afters, first dim first.
    const before = Array(v.rank).fill(0) as number[],
      after = Array(v.rank).fill(0) as number[];
    for (let i = 0; i < p.length / 2; i++) {
      before[v.rank - 1 - i] = p[2 * i]!;
      after[v.rank - 1 - i] = p[2 * i + 1]!;
    }
    const onnxMode = mode === 'replicate' ? 'edge' : mode === 'reflect' ? 'reflect' : mode === 'constant' ? 'constant' : null;
    if (!onnxMode) throw new OnnxExportError(`ONNX export: pad mode "${String(mode)}" has no exporter`);
    const inputs = [v.name, ctx.g.ints([...before, ...after])];
    if (onnxMode === 'constant') inputs.push(asType(ctx, typeof value === 'number' ? value : 0, v.dtype, 'pad value'));
    return ctx.g.op('Pad', inputs, { mode: onnxMode });
  },
  scaledDotProductAttention: (ctx, [q, k, v, mask, dropoutP, isCausal, scale]) => {
    if (isCausal) throw new OnnxExportError('ONNX export: causal scaledDotProductAttention has no exporter');
    if (typeof dropoutP === 'number' && dropoutP > 0)
      throw new OnnxExportError('ONNX export: attention dropout (put the model in eval mode)');
    const qv = val(q!, 'query'),
      kv = val(k!, 'key');
    const g = ctx.g;
    const s = typeof scale === 'number' ? scale : 1 / Math.sqrt(num(qv.shape[qv.rank - 1]!, 'head dim'));
    const perm = Array.from({ length: kv.rank }, (_, i) => i);
    [perm[kv.rank - 2], perm[kv.rank - 1]] = [perm[kv.rank - 1]!, perm[kv.rank - 2]!];
    let scores = g.op('Mul', [g.op('MatMul', [qv.name, g.op('Transpose', [kv.name], { perm })]), g.scalar(s, qv.dtype)]);
    if (mask instanceof Val) {
      scores =
        mask.dtype === 'bool'
          ? g.op('Where', [mask.name, scores, g.scalar(-Infinity, qv.dtype)])
          : g.op('Add', [scores, asType(ctx, mask, qv.dtype, 'attention mask')]);
    }
    return g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), val(v!, 'value').name]);
  },
  dropout: (ctx, [x, p, training]) => {
    if (training && num(p!, 'p') > 0) throw new OnnxExportError('ONNX export: dropout in training mode (put the model in eval mode)');
    return ctx.g.op('Identity', [val(x!, 'dropout').name]);
  },
};

export { normDim };
