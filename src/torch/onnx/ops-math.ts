// Exporters of elementwise ops, reductions and matrix products (opset 17).
import { onnxElemType } from './graph.js';
import {
  OnnxExportError,
  Val,
  asType,
  dimsOf,
  dtypeArg,
  isFloat,
  normDim,
  num,
  promote,
  val,
  type ExportCtx,
  type Exporter,
  type OpArg,
} from './ctx.js';

/** a (op) b computed in the result dtype (PyTorch promotes; ONNX wants equal types). */
function binary(opType: string, compare = false): Exporter {
  return (ctx, [a, b], out) => {
    const t = compare ? promote(a!, b!) : out[0]!.dtype;
    return ctx.g.op(opType, [asType(ctx, a!, t, `${opType} input`), asType(ctx, b!, t, `${opType} input`)]);
  };
}
function unary(opType: string): Exporter {
  return (ctx, [x]) => ctx.g.op(opType, [val(x!, opType).name]);
}
/** a + alpha·b (add/sub with PyTorch's alpha). */
function addLike(opType: 'Add' | 'Sub'): Exporter {
  return (ctx, [a, b, alpha], out) => {
    const t = out[0]!.dtype;
    let bb = asType(ctx, b!, t, 'operand');
    if (typeof alpha === 'number' && alpha !== 1) bb = ctx.g.op('Mul', [bb, ctx.g.scalar(alpha, t)]);
    return ctx.g.op(opType, [asType(ctx, a!, t, 'operand'), bb]);
  };
}
/** x · f(x) style helpers */
function mulScalar(ctx: ExportCtx, x: string, s: number, dtype: Val['dtype']): string {
  return ctx.g.op('Mul', [x, ctx.g.scalar(s, dtype)]);
}

function reduce(opType: string, axesAsInput: boolean): Exporter {
  return (ctx, [x, dims, keepdim]) => {
    const v = val(x!, opType);
    const axes = dimsOf(dims!, v.rank, `${opType} dims`);
    const kd = keepdim ? 1 : 0;
    if (axesAsInput) return ctx.g.op(opType, [v.name, ctx.g.ints(axes)], { keepdims: kd });
    return ctx.g.op(opType, [v.name], { axes, keepdims: kd });
  };
}

/** mean((x - mean)^2)·n/(n - correction) over dims. */
function variance(ctx: ExportCtx, v: Val, axes: number[], correction: number, keepdim: boolean): string {
  const g = ctx.g;
  const m = g.op('ReduceMean', [v.name], { axes, keepdims: 1 });
  const d = g.op('Sub', [v.name, m]);
  const sq = g.op('Mul', [d, d]);
  let r = g.op('ReduceMean', [sq], { axes, keepdims: keepdim ? 1 : 0 });
  const n = axes.reduce((p, a) => p * num(v.shape[a]!, 'reduced dimension'), 1);
  if (correction !== 0) r = mulScalar(ctx, r, n / (n - correction), v.dtype);
  return r;
}

function softmaxLike(opType: 'Softmax' | 'LogSoftmax'): Exporter {
  return (ctx, [x, dim, dt]) => {
    const v = val(x!, opType);
    const d = dtypeArg(dt!);
    const input = d && d !== v.dtype ? asType(ctx, v, d, opType) : v.name;
    return ctx.g.op(opType, [input], { axis: normDim(num(dim!, 'softmax dim'), v.rank) });
  };
}

function minMax(opType: 'Max' | 'Min'): Exporter {
  return (ctx, [x, dim, keepdim]) => {
    const v = val(x!, opType);
    const g = ctx.g;
    if (dim === undefined || dim === null) return g.op(opType === 'Max' ? 'ReduceMax' : 'ReduceMin', [v.name], { keepdims: 0 });
    const axis = normDim(num(dim, 'dim'), v.rank);
    const kd = keepdim ? 1 : 0;
    return [
      g.op(opType === 'Max' ? 'ReduceMax' : 'ReduceMin', [v.name], { axes: [axis], keepdims: kd }),
      g.op(opType === 'Max' ? 'ArgMax' : 'ArgMin', [v.name], { axis, keepdims: kd }),
    ];
  };
}

export const MATH_EXPORTERS: Record<string, Exporter> = {
  add: addLike('Add'),
  sub: addLike('Sub'),
  add_: addLike('Add'),
  sub_: addLike('Sub'),
  mul: binary('Mul'),
  mul_: binary('Mul'),
  div: binary('Div'),
  div_: binary('Div'),
  pow: binary('Pow'),
  maximum: binary('Max'),
  minimum: binary('Min'),
  eq: binary('Equal', true),
  lt: binary('Less', true),
  le: binary('LessOrEqual', true),
  gt: binary('Greater', true),
  ge: binary('GreaterOrEqual', true),
  ne: (ctx, args, out) => ctx.g.op('Not', [binary('Equal', true)(ctx, args, out) as string]),
  logicalAnd: (ctx, [a, b]) => ctx.g.op('And', [asType(ctx, a!, 'bool', 'and'), asType(ctx, b!, 'bool', 'and')]),
  logicalOr: (ctx, [a, b]) => ctx.g.op('Or', [asType(ctx, a!, 'bool', 'or'), asType(ctx, b!, 'bool', 'or')]),
  logicalNot: (ctx, [a]) => ctx.g.op('Not', [asType(ctx, a!, 'bool', 'not')]),
  rsubScalar: (ctx, [x, s], out) =>
    ctx.g.op('Sub', [ctx.g.scalar(num(s!, 'rsub scalar'), out[0]!.dtype), asType(ctx, x!, out[0]!.dtype, 'rsub')]),
  neg: unary('Neg'),
  abs: unary('Abs'),
  exp: unary('Exp'),
  log: unary('Log'),
  sqrt: unary('Sqrt'),
  sqrt_: unary('Sqrt'),
  sin: unary('Sin'),
  cos: unary('Cos'),
  tanh: unary('Tanh'),
  sigmoid: unary('Sigmoid'),
  relu: unary('Relu'),
  erf: unary('Erf'),
  floor: unary('Floor'),
  ceil: unary('Ceil'),
  round: unary('Round'),
  sign: unary('Sign'),
  reciprocal: unary('Reciprocal'),
  log1p: (ctx, [x]) => {
    const v = val(x!, 'log1p');
    return ctx.g.op('Log', [ctx.g.op('Add', [v.name, ctx.g.scalar(1, v.dtype)])]);
  },
  rsqrt: (ctx, [x]) => ctx.g.op('Reciprocal', [ctx.g.op('Sqrt', [val(x!, 'rsqrt').name])]),
  square: (ctx, [x]) => {
    const n = val(x!, 'square').name;
    return ctx.g.op('Mul', [n, n]);
  },
  silu: (ctx, [x]) => {
    const n = val(x!, 'silu').name;
    return ctx.g.op('Mul', [n, ctx.g.op('Sigmoid', [n])]);
  },
  quickGelu: (ctx, [x]) => {
    const v = val(x!, 'quickGelu');
    return ctx.g.op('Mul', [v.name, ctx.g.op('Sigmoid', [mulScalar(ctx, v.name, 1.702, v.dtype)])]);
  },
  gelu: (ctx, [x, approximate]) => {
    const v = val(x!, 'gelu'),
      g = ctx.g,
      s = (c: number) => g.scalar(c, v.dtype);
    if (approximate === 'tanh') {
      const inner = g.op('Mul', [
        s(Math.sqrt(2 / Math.PI)),
        g.op('Add', [v.name, g.op('Mul', [s(0.044715), g.op('Pow', [v.name, s(3)])])]),
      ]);
      return g.op('Mul', [g.op('Mul', [s(0.5), v.name]), g.op('Add', [s(1), g.op('Tanh', [inner])])]);
    }
    const erf = g.op('Erf', [g.op('Mul', [v.name, s(Math.SQRT1_2)])]);
    return g.op('Mul', [g.op('Mul', [s(0.5), v.name]), g.op('Add', [s(1), erf])]);
  },
  leakyRelu: (ctx, [x, slope]) => ctx.g.op('LeakyRelu', [val(x!, 'leakyRelu').name], { alpha: { float: num(slope!, 'slope') } }),
  clamp: clampExporter,
  clamp_: clampExporter,
  maskedFill: (ctx, [x, mask, value], out) => {
    const t = out[0]!.dtype;
    return ctx.g.op('Where', [
      asType(ctx, mask!, 'bool', 'mask'),
      asType(ctx, value!, t, 'fill value'),
      asType(ctx, x!, t, 'maskedFill input'),
    ]);
  },
  where: (ctx, [c, a, b], out) =>
    ctx.g.op('Where', [
      asType(ctx, c!, 'bool', 'condition'),
      asType(ctx, a!, out[0]!.dtype, 'where'),
      asType(ctx, b!, out[0]!.dtype, 'where'),
    ]),
  to: (ctx, [x, dt], out) => asType(ctx, x!, dtypeArg(dt!) ?? out[0]!.dtype, 'to'),
  clone: (ctx, [x]) => ctx.g.op('Identity', [val(x!, 'clone').name]),
  detach: (ctx, [x]) => ctx.g.op('Identity', [val(x!, 'detach').name]),
  contiguous: (ctx, [x]) => ctx.g.op('Identity', [val(x!, 'contiguous').name]),
  setData: (ctx, [, src]) => ctx.g.op('Identity', [val(src!, 'setData source').name]),
  copy_: (ctx, [dst, src]) => {
    const d = val(dst!, 'copy_ target');
    return ctx.g.op('Expand', [asType(ctx, src!, d.dtype, 'copy_ source'), ctx.g.op('Shape', [d.name])]);
  },

  sum: reduce('ReduceSum', true),
  mean: reduce('ReduceMean', false),
  amax: reduce('ReduceMax', false),
  amin: reduce('ReduceMin', false),
  logsumexp: reduce('ReduceLogSumExp', false),
  max: minMax('Max'),
  min: minMax('Min'),
  argmax: (ctx, [x, dim, keepdim]) => {
    const v = val(x!, 'argmax');
    if (dim === null || dim === undefined)
      return ctx.g.op('ArgMax', [ctx.g.op('Reshape', [v.name, ctx.g.ints([-1])])], { axis: 0, keepdims: 0 });
    return ctx.g.op('ArgMax', [v.name], { axis: normDim(num(dim, 'argmax dim'), v.rank), keepdims: keepdim ? 1 : 0 });
  },
  var: (ctx, [x, dims, correction, keepdim]) => {
    const v = val(x!, 'var');
    return variance(ctx, v, dimsOf(dims!, v.rank, 'var dims'), num(correction!, 'correction'), Boolean(keepdim));
  },
  std: (ctx, [x, dims, correction, keepdim]) => {
    const v = val(x!, 'std');
    return ctx.g.op('Sqrt', [variance(ctx, v, dimsOf(dims!, v.rank, 'std dims'), num(correction!, 'correction'), Boolean(keepdim))]);
  },
  norm: (ctx, [x, p, dims, keepdim]) => {
    const v = val(x!, 'norm');
    const axes = dimsOf(dims!, v.rank, 'norm dims');
    const pp = num(p!, 'norm p');
    if (pp !== 2 && pp !== 1) throw new OnnxExportError(`ONNX export: norm with p=${pp} has no exporter (p = 1 or 2)`);
    return ctx.g.op(pp === 2 ? 'ReduceL2' : 'ReduceL1', [v.name], { axes, keepdims: keepdim ? 1 : 0 });
  },
  cumsum: (ctx, [x, dim]) => {
    const v = val(x!, 'cumsum');
    return ctx.g.op('CumSum', [v.name, ctx.g.ints([normDim(num(dim!, 'cumsum dim'), v.rank)], true)]);
  },

  matmul: (ctx, [a, b]) => ctx.g.op('MatMul', [val(a!, 'matmul').name, val(b!, 'matmul').name]),
  mm: (ctx, [a, b]) => ctx.g.op('MatMul', [val(a!, 'mm').name, val(b!, 'mm').name]),
  bmm: (ctx, [a, b]) => ctx.g.op('MatMul', [val(a!, 'bmm').name, val(b!, 'bmm').name]),
  einsum: (ctx, [eq, list]) =>
    ctx.g.op(
      'Einsum',
      (list as OpArg[]).map((t) => val(t, 'einsum operand').name),
      { equation: String(eq).replace(/\s+/g, '') },
    ),
  linear: (ctx, [x, w, b]) => {
    const g = ctx.g;
    const y = g.op('MatMul', [val(x!, 'linear input').name, g.op('Transpose', [val(w!, 'linear weight').name], { perm: [1, 0] })]);
    return b instanceof Val ? g.op('Add', [y, b.name]) : y;
  },
  linearQuickGelu: (ctx, [x, w, b]) => {
    const g = ctx.g,
      v = val(x!, 'linearQuickGelu input');
    let y = g.op('MatMul', [v.name, g.op('Transpose', [val(w!, 'linearQuickGelu weight').name], { perm: [1, 0] })]);
    if (b instanceof Val) y = g.op('Add', [y, b.name]);
    return g.op('Mul', [y, g.op('Sigmoid', [mulScalar(ctx, y, 1.702, v.dtype)])]);
  },
  // F.multiHeadAttention: the heads split by Reshape (0 = keep that dimension, so the batch stays dynamic).
  attention: (ctx, [q, k, v, heads, scale, bias]) => {
    const g = ctx.g,
      qv = val(q!, 'attention q');
    const H = num(heads!, 'attention heads'),
      D = num(qv.shape[2]!, 'attention embed dim'),
      Dh = D / H;
    const split = (x: string, perm: number[]): string => g.op('Transpose', [g.op('Reshape', [x, g.ints([0, 0, H, Dh])])], { perm });
    const qh = split(mulScalar(ctx, qv.name, num(scale!, 'attention scale'), qv.dtype), [0, 2, 1, 3]);
    let scores = g.op('MatMul', [qh, split(val(k!, 'attention k').name, [0, 2, 3, 1])]);
    if (bias instanceof Val) scores = g.op('Add', [scores, bias.name]);
    const o = g.op('MatMul', [g.op('Softmax', [scores], { axis: 3 }), split(val(v!, 'attention v').name, [0, 2, 1, 3])]);
    return g.op('Reshape', [g.op('Transpose', [o], { perm: [0, 2, 1, 3] }), g.ints([0, 0, D])]);
  },
  softmax: softmaxLike('Softmax'),
  logSoftmax: softmaxLike('LogSoftmax'),
  softplus: (ctx, [x, beta]) => {
    const v = val(x!, 'softplus'),
      bt = num(beta!, 'beta');
    if (bt === 1) return ctx.g.op('Softplus', [v.name]);
    return ctx.g.op('Div', [ctx.g.op('Softplus', [mulScalar(ctx, v.name, bt, v.dtype)]), ctx.g.scalar(bt, v.dtype)]);
  },
};

function clampExporter(ctx: ExportCtx, [x, lo, hi]: OpArg[]): string {
  const v = val(x!, 'clamp');
  let r = v.name;
  if (lo !== null && lo !== undefined) r = ctx.g.op('Max', [r, asType(ctx, lo, v.dtype, 'clamp min')]);
  if (hi !== null && hi !== undefined) r = ctx.g.op('Min', [r, asType(ctx, hi, v.dtype, 'clamp max')]);
  return r;
}

export { onnxElemType, isFloat };
