// Op-level profiling (native/src/profile.cc): libtorch's RecordFunction observer on this thread
// counts, per op name, calls, self and total wall time and the FLOPs of matrix products and
// convolutions, backward() nodes included. For benchmarks (`bench learners --profile`): the
// observer asks for every op's inputs, which costs about a microsecond per op while it runs.
import { N } from './native.js';

export interface OpProfileRow {
  calls: number;
  /** Time in this op minus the recorded ops it called. */
  selfMs: number;
  totalMs: number;
  /** Floating-point operations (2 per multiply-add) of mm/addmm/bmm/baddbmm/convolution; 0 for others. */
  flops: number;
  /** An autograd node run by backward() (e.g. MmBackward0), not an ATen op. */
  backward: boolean;
}

export interface OpProfile {
  ops: Record<string, OpProfileRow>;
  /** Time inside outermost recorded ops; the rest of a wall interval ran outside libtorch's ops. */
  topMs: number;
}

/** Starts counting (from zero) on the calling thread. */
export function startOpProfile(): void {
  N.profilerStart();
}

/** What was counted since the start or the last take; counting goes on from zero. */
export function takeOpProfile(): OpProfile {
  return N.profilerTake() as OpProfile;
}

export function stopOpProfile(): void {
  N.profilerStop();
}
