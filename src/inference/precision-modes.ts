// The names of the precision and TF32 settings (docs/gpu.md), apart from what runs them
// (precision.ts): configs and CLI flags validate against them without loading libtorch.

/** Lightning's precision names; '32' is plain float32. */
export const PRECISIONS = ['32', '16-mixed', 'bf16-mixed'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** TF32 math on CUDA: `auto` keeps libtorch's defaults, `on` and `off` set both flags. */
export const TF32_MODES = ['auto', 'on', 'off'] as const;
