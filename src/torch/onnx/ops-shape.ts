// Exporters of shape, indexing and joining ops (opset 17). Reshape-like ops reshape to the
// output shape the trace recorded (batch-linear dimensions computed in the graph).
import {
  OnnxExportError,
  SymInt,
  Val,
  ints,
  normDim,
  num,
  nums,
  val,
  type ExportCtx,
  type Exporter,
  type IntArg,
  type OpArg,
  type OutMeta,
} from './ctx.js';

const INT64_MAX = 2 ** 62; // large enough for "to the end"; exact in a double

const toOutShape: Exporter = (ctx, [x], out) => ctx.g.op('Reshape', [val(x!, 'reshape input').name, ctx.intList(out[0]!.shape)]);

/** Slice along one axis [start, end) with step (batch-linear bounds allowed). */
function slice1(ctx: ExportCtx, x: string, axis: number, start: IntArg, end: IntArg, step = 1): string {
  return ctx.g.op('Slice', [x, ctx.scalarInt(start), ctx.scalarInt(end), ctx.g.ints([axis]), ctx.g.ints([step])]);
}

/** Splits along an axis into the recorded output sizes. */
function splitTo(ctx: ExportCtx, x: Val, dim: number, out: OutMeta[]): string[] {
  const axis = normDim(dim, x.rank);
  const sizes = out.map((o, i) => num(o.shape[axis]!, `split part ${i} size`));
  return ctx.g.node('Split', [x.name, ctx.g.ints(sizes)], { axis }, out.length);
}

function rangeOf(ctx: ExportCtx, start: number, end: IntArg): string {
  const g = ctx.g;
  const e = typeof end === 'number' ? g.ints([end], true) : g.op('Squeeze', [ctx.scalarInt(end), g.ints([0])]);
  return g.op('Range', [g.ints([start], true), e, g.ints([1], true)]);
}

export const SHAPE_EXPORTERS: Record<string, Exporter> = {
  reshape: toOutShape,
  view: toOutShape,
  flatten: toOutShape,
  squeeze: toOutShape,
  unsqueeze: (ctx, [x, d]) => {
    const v = val(x!, 'unsqueeze');
    return ctx.g.op('Unsqueeze', [v.name, ctx.g.ints([normDim(num(d!, 'unsqueeze dim'), v.rank + 1)])]);
  },
  expand: (ctx, [x], out) => ctx.g.op('Expand', [val(x!, 'expand').name, ctx.intList(out[0]!.shape)]),
  repeat: (ctx, [x, times]) => {
    const v = val(x!, 'repeat');
    const t = ints(times!, 'repeat times');
    let name = v.name;
    if (t.length > v.rank) name = ctx.g.op('Reshape', [name, ctx.intList([...Array(t.length - v.rank).fill(1), ...v.shape])]);
    return ctx.g.op('Tile', [name, ctx.intList(t)]);
  },
  permute: (ctx, [x, dims]) => {
    const v = val(x!, 'permute');
    return ctx.g.op('Transpose', [v.name], { perm: nums(dims!, 'permute dims').map((d) => normDim(d, v.rank)) });
  },
  transpose: (ctx, [x, a, b]) => {
    const v = val(x!, 'transpose');
    const perm = Array.from({ length: v.rank }, (_, i) => i);
    const i = normDim(num(a!, 'dim0'), v.rank),
      j = normDim(num(b!, 'dim1'), v.rank);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    return ctx.g.op('Transpose', [v.name], { perm });
  },
  flip: (ctx, [x, dims]) => {
    const v = val(x!, 'flip');
    let r = v.name;
    for (const d of nums(dims!, 'flip dims')) r = slice1(ctx, r, normDim(d, v.rank), -1, -INT64_MAX, -1);
    return r;
  },
  narrow: (ctx, [x, dim, start, length]) => {
    const v = val(x!, 'narrow');
    const s = start as IntArg,
      l = length as IntArg;
    const end =
      typeof s === 'number' && typeof l === 'number'
        ? s + l
        : new SymInt(
            (s instanceof SymInt ? s.a : 0) + (l instanceof SymInt ? l.a : 0),
            (s instanceof SymInt ? s.c : s) + (l instanceof SymInt ? l.c : l),
          );
    return slice1(ctx, v.name, normDim(num(dim!, 'narrow dim'), v.rank), s, end);
  },
  slice: (ctx, [x, dim, start, end, step]) => {
    const v = val(x!, 'slice');
    return slice1(
      ctx,
      v.name,
      normDim(num(dim!, 'slice dim'), v.rank),
      (start ?? 0) as IntArg,
      (end ?? INT64_MAX) as IntArg,
      num(step ?? 1, 'slice step'),
    );
  },
  select: (ctx, [x, dim, index]) => {
    const v = val(x!, 'select');
    return ctx.g.op('Gather', [v.name, ctx.g.ints([num(index!, 'select index')], true)], {
      axis: normDim(num(dim!, 'select dim'), v.rank),
    });
  },
  indexSelect: (ctx, [x, dim, idx]) => {
    const v = val(x!, 'indexSelect');
    return ctx.g.op('Gather', [v.name, val(idx!, 'index').name], { axis: normDim(num(dim!, 'indexSelect dim'), v.rank) });
  },
  gather: (ctx, [x, dim, idx]) => {
    const v = val(x!, 'gather');
    return ctx.g.op('GatherElements', [v.name, val(idx!, 'index').name], { axis: normDim(num(dim!, 'gather dim'), v.rank) });
  },
  embedding: (ctx, [w, idx]) => ctx.g.op('Gather', [val(w!, 'embedding weight').name, val(idx!, 'embedding indices').name], { axis: 0 }),
  index: (ctx, [x, list]) => {
    const v = val(x!, 'index');
    const idx = list as OpArg[];
    const lead = idx.findIndex((t) => t !== null);
    const tensors = idx.slice(lead).filter((t) => t !== null);
    if (tensors.length !== idx.length - lead)
      throw new OnnxExportError('ONNX export: index with a null after an index tensor has no exporter');
    if (tensors.length === 1) return ctx.g.op('Gather', [v.name, val(tensors[0]!, 'index').name], { axis: lead });
    if (lead !== 0) throw new OnnxExportError('ONNX export: index with several index tensors after a null has no exporter');
    // x[i0, i1, ...] with broadcast index tensors = GatherND over their stacked last axis.
    const parts = tensors.map((t) => ctx.g.op('Unsqueeze', [ctx.g.op('Cast', [val(t, 'index').name], { to: 7 }), ctx.g.ints([-1])]));
    return ctx.g.op('GatherND', [v.name, ctx.g.op('Concat', parts, { axis: -1 })]);
  },
  cat: (ctx, [list, dim], out) =>
    ctx.g.op(
      'Concat',
      (list as OpArg[]).map((t) => val(t, 'cat input').name),
      { axis: normDim(num(dim!, 'cat dim'), out[0]!.shape.length) },
    ),
  stack: (ctx, [list, dim], out) => {
    const axis = normDim(num(dim!, 'stack dim'), out[0]!.shape.length);
    return ctx.g.op(
      'Concat',
      (list as OpArg[]).map((t) => ctx.g.op('Unsqueeze', [val(t, 'stack input').name, ctx.g.ints([axis])])),
      { axis },
    );
  },
  split: (ctx, [x, , dim], out) => splitTo(ctx, val(x!, 'split'), num(dim!, 'split dim'), out),
  chunk: (ctx, [x, , dim], out) => splitTo(ctx, val(x!, 'chunk'), num(dim!, 'chunk dim'), out),
  unbind: (ctx, [x, dim], out) => {
    const v = val(x!, 'unbind');
    const axis = normDim(num(dim!, 'unbind dim'), v.rank);
    const parts = ctx.g.node('Split', [v.name, ctx.g.ints(out.map(() => 1))], { axis }, out.length);
    return parts.map((p) => ctx.g.op('Squeeze', [p, ctx.g.ints([axis])]));
  },
  tril: (ctx, [x, k]) => ctx.g.op('Trilu', [val(x!, 'tril').name, ctx.g.ints([num(k!, 'diagonal')], true)], { upper: 0 }),
  triu: (ctx, [x, k]) => ctx.g.op('Trilu', [val(x!, 'triu').name, ctx.g.ints([num(k!, 'diagonal')], true)], { upper: 1 }),
  // creation "like" ops on input-dependent tensors
  zerosLike: (ctx, [x], out) => ctx.g.op('Expand', [ctx.g.scalar(0, out[0]!.dtype), ctx.g.op('Shape', [val(x!, 'zerosLike').name])]),
  onesLike: (ctx, [x], out) => ctx.g.op('Expand', [ctx.g.scalar(1, out[0]!.dtype), ctx.g.op('Shape', [val(x!, 'onesLike').name])]),
  fullLike: (ctx, [x, v], out) =>
    ctx.g.op('Expand', [ctx.g.scalar(num(v!, 'fill value'), out[0]!.dtype), ctx.g.op('Shape', [val(x!, 'fullLike').name])]),
};

export { rangeOf };
