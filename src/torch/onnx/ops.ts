// The op exporters by addon function name: one table, the only place that says how a libtorch
// op becomes ONNX nodes. An op that is not here fails the export, naming it.
import type { Exporter } from './ctx.js';
import { MATH_EXPORTERS } from './ops-math.js';
import { SHAPE_EXPORTERS } from './ops-shape.js';
import { NN_EXPORTERS } from './ops-nn.js';

export const EXPORTERS: Readonly<Record<string, Exporter>> = { ...MATH_EXPORTERS, ...SHAPE_EXPORTERS, ...NN_EXPORTERS };
export { OnnxExportError, SymInt, Val, type ExportCtx, type OpArg } from './ctx.js';
