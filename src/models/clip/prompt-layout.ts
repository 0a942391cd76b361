/**
 * Where text prompts go in a CLIP text transformer's input (DESIGN.md "The context-learner
 * interface"; fixtures README quirks 4, 5, 12, 13): the one module both prompted models (CLIPSeg,
 * CRIS) use to lay out `[BOS, ctx_1..ctx_n, tokens[1 : end], last]`, the mask and pooling index
 * that go with it, and the deep-prompt hook that overwrites positions 1..n after a layer.
 */
import { Tensor, cat, ones, tidy, zeros } from '../../torch/index.js';
import type { LayerHook } from './layers.js';

/** A layer's text prompts as [B, n, W]: learners give [n, W], or [B, n, W] when image-conditioned (CoCoOp). */
export function batchedPrompts(prompts: Tensor, batch: number): Tensor {
  return prompts.ndim === 2 ? prompts.unsqueeze(0).expand(batch, prompts.size(0), prompts.size(1)) : prompts;
}

/**
 * The input layout of the reference's text learners (quirk 4): [BOS, ctx_1..ctx_n, tokens[1 : end], last]
 * where `last` is the last position of the padded input and the middle is cut so the length is at
 * most maxLength. tokenEmbeds [B, L, W], context [n, W] or [B, n, W] -> [B, min(L + n, maxLength), W].
 */
export function insertContextAfterBos(tokenEmbeds: Tensor, context: Tensor, maxLength = 77): Tensor {
  return tidy(() => {
    const [B, L] = tokenEmbeds.shape as [number, number, number];
    const ctx = batchedPrompts(context, B);
    const n = ctx.size(1);
    const midEnd = Math.min(maxLength - n, L) - 1;
    return cat([tokenEmbeds.slice(1, 0, 1), ctx, tokenEmbeds.slice(1, 1, midEnd), tokenEmbeds.slice(1, L - 1, L)], 1);
  });
}

/**
 * A [B, L] mask for the prompted layout: n columns of `fill` (the value that means "a real
 * token") PREPENDED, then cut to maxLength columns (quirk 13: the reference prepends rather than
 * inserting after BOS). [B, L] -> [B, min(L + n, maxLength)], same dtype.
 */
export function prependContextColumns(mask: Tensor, numContext: number, fill: 0 | 1, maxLength = 77): Tensor {
  return tidy(() => {
    const cols = (fill === 1 ? ones : zeros)([mask.size(0), numContext], { dtype: mask.dtype, device: mask.device });
    return cat([cols, mask], 1).slice(1, 0, maxLength);
  });
}

/** CLIP's attention mask (1 = token, 0 = padding) for the prompted layout. */
export function extendAttentionMaskForContext(attentionMask: Tensor, numContext: number, maxLength = 77): Tensor {
  return prependContextColumns(attentionMask, numContext, 1, maxLength);
}

/** CRIS's pad mask (true = padding) for the prompted layout: n `false` columns prepended. [B, L] -> [B, min(L + n, maxLength)] bool. */
export function extendPadMaskForContext(padMask: Tensor, numContext: number, maxLength = 77): Tensor {
  return tidy(() => prependContextColumns(padMask.dtype === 'bool' ? padMask : padMask.ne(0), numContext, 0, maxLength));
}

/** The pooling (EOS) index shifted by the n prompt tokens and clamped to the last position (quirk 5). [B] int64. */
export function shiftPoolIndex(poolIndex: Tensor, numContext: number, maxLength = 77): Tensor {
  return tidy(() => poolIndex.add(numContext).clamp(null, maxLength - 1));
}

/** COOPCRIS's pooling index (quirks 5, 13): min(argmax(inputIds) + n, maxLength - 1), on the ORIGINAL ids. [B] int64. */
export function eosIndexForContext(inputIds: Tensor, numContext: number, maxLength = 77): Tensor {
  return tidy(() => shiftPoolIndex(inputIds.argmax(-1), numContext, maxLength));
}

/**
 * Deep prompts: after layer i, positions 1..n are overwritten by the prompts of layer i + shift
 * while i + shift < depth (shift 1: fresh prompts at the input of layers 1..depth-1; CRIS's
 * reference uses shift 0, quirk 12). `prompt(l)` gives layer l's prompts as [B, n, W].
 */
export function deepPromptHook(prompt: (layer: number) => Tensor, numContext: number, depth: number, shift = 1): LayerHook {
  return (i, h) => (i + shift < depth ? cat([h.narrow(1, 0, 1), prompt(i + shift), h.slice(1, numContext + 1)], 1) : h);
}
