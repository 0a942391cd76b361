// Where a training step's time goes (`bench learners --profile`): one step cut into segments
// (forward, loss, backward, scope cleanup, optimizer), every libtorch op of each segment counted
// by the addon's RecordFunction observer (src/torch/profiler.ts) and grouped into op families,
// plus this machine's sgemm peak measured in the same process, so that the step's GEMM work can
// be read as a fraction of what the cores can do.
import type * as TorchModule from '../src/torch/index.js';
import type { OpProfile } from '../src/torch/index.js';

export const FAMILIES = [
  'GEMM',
  'fused attention (QKᵀ, softmax, PV)',
  'convolution',
  'attention softmax',
  'layer norm',
  'activations',
  'elementwise + reductions',
  'copies / contiguity / views',
  'autograd bookkeeping',
  'optimizer',
  'JS overhead',
  'other',
] as const;
export type Family = (typeof FAMILIES)[number];

// Ops by family (ATen names without the `aten::` prefix; tvs:: ops are the addon's fused ones).
const BY_NAME: [Family, RegExp][] = [
  ['GEMM', /^(mm|addmm|bmm|baddbmm|addbmm|mv|addmv|dot|vdot|matmul|linear)$/],
  ['convolution', /conv|im2col|col2im|^_nnpack/],
  ['fused attention (QKᵀ, softmax, PV)', /^tvs::attention(_backward)?$/],
  ['attention softmax', /^(_?softmax|_softmax_backward_data|log_softmax|_log_softmax|_log_softmax_backward_data)$/],
  ['layer norm', /^(layer_norm|native_layer_norm|native_layer_norm_backward|tvs::layer_norm.*)$/],
  [
    'activations',
    /^(sigmoid|sigmoid_|sigmoid_backward|gelu|gelu_backward|relu|relu_|threshold|threshold_backward|silu|silu_backward|tanh|tanh_backward|tvs::quick_gelu.*|tvs::linear_quick_gelu.*)$/,
  ],
  [
    'copies / contiguity / views',
    /^(copy_|clone|contiguous|cat|_cat|stack|_to_copy|to|index|index_select|index_put_|_index_put_impl_|narrow|narrow_copy|slice|select|view|_unsafe_view|reshape|_reshape_alias|transpose|permute|expand|expand_as|unsqueeze|squeeze|flatten|t|as_strided|alias|detach|detach_|empty|empty_like|empty_strided|new_empty|new_empty_strided|resize_|fill_|zero_|zeros|zeros_like|ones|ones_like|full|new_zeros|unbind|split|chunk|split_with_sizes|lift_fresh|_reshape_from_tensor|repeat|constant_pad_nd|replication_pad2d|pad|squeeze_|unsqueeze_|set_|result_type)$/,
  ],
];

/** The family of one recorded op (autograd nodes and engine ranges are bookkeeping). */
export function familyOf(name: string, backwardNode: boolean): Family {
  if (backwardNode || name.startsWith('autograd::') || name.startsWith('torch::autograd::')) return 'autograd bookkeeping';
  const n = name.startsWith('aten::') ? name.slice(6) : name;
  for (const [f, re] of BY_NAME) if (re.test(n)) return f;
  if (/^[a-z_0-9]+_?$/.test(n)) return 'elementwise + reductions'; // the remaining ATen arithmetic (add, mul, sum, where, ...)
  return 'other';
}

export interface StepProfile {
  /** Wall time of the profiled step (the observer's own cost included). */
  stepMs: number;
  families: Record<Family, number>;
  /** Matrix-product and convolution FLOPs of the step. */
  gflop: number;
  /** Time in GEMM ops and their achieved rate. */
  gemmMs: number;
  gemmGflops: number;
  /** The ten costliest ops by self time: [name, ms, calls]. */
  topOps: [string, number, number][];
}

const emptyFamilies = (): Record<Family, number> => Object.fromEntries(FAMILIES.map((f) => [f, 0])) as Record<Family, number>;

/**
 * Profiles one training step given as its segments. `forward` and `loss` return what the next
 * segment needs; everything runs inside one tidy (its disposal is the `cleanup` segment).
 */
export function profileStep(
  T: typeof TorchModule,
  seg: {
    zeroGrad: () => void;
    forward: () => TorchModule.Tensor;
    loss: (out: TorchModule.Tensor) => TorchModule.Tensor;
    backward: (loss: TorchModule.Tensor) => void;
    optimizer: () => void;
  },
): StepProfile {
  const families = emptyFamilies();
  const ops = new Map<string, { ms: number; calls: number }>();
  let gflop = 0,
    gemmMs = 0,
    gemmFlops = 0;
  // Attributes one segment: op self times by family, the uncovered rest of its wall time to `rest`.
  const account = (p: OpProfile, wallMs: number, rest: Family, all?: Family): void => {
    for (const [name, r] of Object.entries(p.ops)) {
      const f = all ?? familyOf(name, r.backward);
      families[f] += r.selfMs;
      gflop += r.flops / 1e9;
      if (f === 'GEMM') {
        gemmMs += r.selfMs;
        gemmFlops += r.flops;
      }
      const o = ops.get(name) ?? { ms: 0, calls: 0 };
      o.ms += r.selfMs;
      o.calls += r.calls;
      ops.set(name, o);
    }
    families[rest] += Math.max(0, wallMs - p.topMs);
  };
  T.startOpProfile();
  try {
    const t0 = performance.now();
    seg.zeroGrad();
    let t = performance.now();
    account(T.takeOpProfile(), t - t0, 'optimizer', 'optimizer');
    const mark = (): number => {
      const now = performance.now();
      const d = now - t;
      t = now;
      return d;
    };
    T.tidy(() => {
      const out = seg.forward();
      account(T.takeOpProfile(), mark(), 'JS overhead');
      const loss = seg.loss(out);
      account(T.takeOpProfile(), mark(), 'JS overhead');
      seg.backward(loss);
      account(T.takeOpProfile(), mark(), 'autograd bookkeeping');
    });
    account(T.takeOpProfile(), mark(), 'JS overhead');
    seg.optimizer();
    account(T.takeOpProfile(), mark(), 'optimizer', 'optimizer');
    const stepMs = t - t0;
    const topOps = [...ops.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 10)
      .map(([n, o]) => [n, o.ms, o.calls] as [string, number, number]);
    return { stepMs, families, gflop, gemmMs, gemmGflops: gemmMs > 0 ? gemmFlops / 1e9 / (gemmMs / 1000) : 0, topOps };
  } finally {
    T.stopOpProfile();
  }
}

/**
 * This process's float32 GEMM peak in GFLOP/s: the best of a few large products on the threads
 * libtorch uses (a square one and one shaped like a ViT-B MLP at batch 4).
 */
export function sgemmPeak(T: typeof TorchModule, device = 'cpu'): { gflops: number; shapes: string[] } {
  const shapes: [number, number, number][] = [
    [1536, 1536, 1536],
    [1956, 768, 3072],
  ];
  let best = 0;
  for (const [m, k, n] of shapes) {
    T.tidy(() => {
      const a = T.randn([m, k], { device });
      const b = T.randn([k, n], { device });
      for (let i = 0; i < 10; i++) {
        T.synchronize();
        const t0 = performance.now();
        T.tidy(() => {
          a.mm(b);
        });
        T.synchronize();
        const s = (performance.now() - t0) / 1000;
        if (i > 0) best = Math.max(best, (2 * m * k * n) / s / 1e9);
      }
    });
  }
  return { gflops: best, shapes: shapes.map((s) => s.join('x')) };
}

/** The family table of one learner as Markdown-ish text lines (ms and % of the step). */
export function formatProfile(name: string, p: StepProfile, peakGflops: number): string[] {
  const pct = (ms: number): string => `${((100 * ms) / p.stepMs).toFixed(1)}%`;
  const lines = [
    `profile ${name}: step ${p.stepMs.toFixed(0)} ms, ${p.gflop.toFixed(1)} GFLOP of products, ` +
      `GEMM ${p.gemmGflops.toFixed(0)} GFLOP/s = ${((100 * p.gemmGflops) / peakGflops).toFixed(0)}% of the ${peakGflops.toFixed(0)} GFLOP/s sgemm peak; ` +
      `the step at ${((100 * p.gflop) / (p.stepMs / 1000) / peakGflops).toFixed(0)}% of peak`,
  ];
  for (const f of FAMILIES)
    if (p.families[f] > 0.05) lines.push(`  ${f.padEnd(36)} ${p.families[f].toFixed(0).padStart(6)} ms  ${pct(p.families[f]).padStart(6)}`);
  lines.push(`  top ops: ${p.topOps.map(([n, ms, c]) => `${n} ${ms.toFixed(0)} ms/${c}`).join(', ')}`);
  return lines;
}
