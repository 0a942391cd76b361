// ONNX export of a forward pass: the tracer and its op table.
export { traceOnnx, type TraceSpec, type TraceResult } from './trace.js';
export { OnnxExportError } from './ctx.js';
export { EXPORTERS } from './ops.js';
