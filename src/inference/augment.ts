/**
 * Training augmentation on tensors of [0, 1] pixels (after the loader's resize, before the
 * model's normalisation), as the paper's recipe (albumentations in the reference), each transform drawn per sample:
 *
 * - affine with probability `p` (0.2): scale U(0.98, 1.02) (one factor, or independent x and y
 *   factors as albumentations' `Affine(keep_ratio=False)` draws them: `keepRatio`), translation
 *   U(±2%) of the side in x and y, rotation U(±5°) about the centre; images resampled bicubically,
 *   masks (soft, gray / 255) with nearest
 *   neighbour (or bilinear + threshold 0.5), both through the *same* sampling grid
 *   (`F.affineGrid` + `F.gridSample`, `align_corners=False`), replicate ("border") padding;
 * - brightness/contrast with probability `p` (one transform, albumentations'
 *   `RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1)`): in [0, 1] pixel space
 *   `x' = clamp(α·x + b, 0, 1)` with α = 1 + U(±contrast), β = U(±brightness), and b = β
 *   (`brightnessByMax`: albumentations' default, which the reference's experiment configs keep,
 *   quirk 20) or α·β·mean(x). Masks are untouched.
 *
 * `resolveAugment` fills the two settings left to the quirks mode: `reference` (the default)
 * draws independent x/y scales and shifts brightness by the maximum, as the original's
 * configs do; `fixed` keeps one scale factor and shifts by α·mean.
 *
 * Randomness comes from a JS generator seeded by (seed, epoch, step): a step's augmentation does
 * not depend on anything that happened before it, so runs are reproducible and resumable
 * mid-epoch. For each sample eight numbers (nine with independent scales) are drawn in a fixed
 * order whatever is applied.
 *
 * It sits with inference because evaluation applies it too: the original evaluates VOC and
 * Cityscapes through its training transforms (issue 24 row 8).
 */
import { Rng, hashSeed } from '../data/rng.js';
import { type Tensor, tensor, tidy, F } from '../torch/index.js';

export interface AugmentConfig {
  /** Probability of each transform (affine; brightness/contrast), per sample. 0 disables. */
  p: number;
  /** Scale range (uniform). */
  scale: [number, number];
  /** Maximum translation as a fraction of the image side (uniform in ±translate, x and y). */
  translate: number;
  /** Maximum rotation in degrees (uniform in ±rotate). */
  rotate: number;
  /** Maximum brightness shift (uniform in ±brightness). */
  brightness: number;
  /** Maximum contrast change (α = 1 + uniform in ±contrast). */
  contrast: number;
  /** Brightness shift relative to the maximum value (true) or to α·mean of the image (false). */
  brightnessByMax: boolean;
  /** One scale factor for x and y (true) or two drawn independently (false). */
  keepRatio: boolean;
  /** Image resampling. */
  imageInterpolation: 'bicubic' | 'bilinear';
  /** Mask resampling: nearest neighbour, or bilinear then threshold 0.5. */
  maskInterpolation: 'nearest' | 'bilinear';
}

export const DEFAULT_AUGMENT: Readonly<AugmentConfig> = Object.freeze({
  p: 0.2,
  scale: [0.98, 1.02] as [number, number],
  translate: 0.02,
  rotate: 5,
  brightness: 0.1,
  contrast: 0.1,
  brightnessByMax: false,
  keepRatio: true,
  imageInterpolation: 'bicubic' as const,
  maskInterpolation: 'nearest' as const,
});

export interface AffineParams {
  /** Scale in x (and in y unless `scaleY` is given). */
  scale: number;
  /** Scale in y when drawn independently (`keepRatio: false`). */
  scaleY?: number;
  /** Translation as a fraction of the width (positive: content moves right). */
  tx: number;
  /** Translation as a fraction of the height (positive: content moves down). */
  ty: number;
  /** Rotation in degrees. */
  angle: number;
}

export interface ColourParams {
  /** contrast factor α */
  alpha: number;
  /** brightness shift β */
  beta: number;
}

/** What happens to one sample of a batch (null: that transform is not applied). */
export interface SampleAugment {
  affine: AffineParams | null;
  colour: ColourParams | null;
}

/** The generator of one training step's augmentation. */
export function augmentRng(seed: number, epoch: number, step: number): Rng {
  return new Rng(hashSeed(seed, epoch, step, 0xa06));
}

/** Draws the augmentation of `batchSize` samples (eight numbers per sample, in a fixed order). */
export function sampleAugmentations(cfg: AugmentConfig, batchSize: number, rng: Rng): SampleAugment[] {
  const out: SampleAugment[] = [];
  for (let i = 0; i < batchSize; i++) {
    const doAffine = rng.next() < cfg.p;
    const affine: AffineParams = {
      scale: rng.uniform(cfg.scale[0], cfg.scale[1]),
      tx: rng.uniform(-cfg.translate, cfg.translate),
      ty: rng.uniform(-cfg.translate, cfg.translate),
      angle: rng.uniform(-cfg.rotate, cfg.rotate),
    };
    if (!cfg.keepRatio) affine.scaleY = rng.uniform(cfg.scale[0], cfg.scale[1]);
    const doColour = rng.next() < cfg.p;
    const colour: ColourParams = {
      alpha: 1 + rng.uniform(-cfg.contrast, cfg.contrast),
      beta: rng.uniform(-cfg.brightness, cfg.brightness),
    };
    out.push({ affine: doAffine ? affine : null, colour: doColour ? colour : null });
  }
  return out;
}

/**
 * The 2x3 matrix for `F.affineGrid` (output -> input coordinates, normalised [-1, 1], square
 * images) of the forward transform "scale by (sx, sy), rotate by `angle` about the centre, then
 * translate by (tx, ty)" (skimage's AffineTransform order, which albumentations uses):
 * θ = [A⁻¹ | -A⁻¹·t] with A = R(angle)·diag(sx, sy), t = 2·(tx, ty).
 */
export function affineTheta(a: AffineParams): number[][] {
  const r = (a.angle * Math.PI) / 180;
  const sx = a.scale,
    sy = a.scaleY ?? a.scale;
  // A⁻¹ = diag(1/sx, 1/sy)·R(-angle) = [[cos/sx, sin/sx], [-sin/sy, cos/sy]]
  const a00 = Math.cos(r) / sx,
    a01 = Math.sin(r) / sx;
  const a10 = -Math.sin(r) / sy,
    a11 = Math.cos(r) / sy;
  const tx = 2 * a.tx,
    ty = 2 * a.ty;
  return [
    [a00, a01, -(a00 * tx + a01 * ty)],
    [a10, a11, -(a10 * tx + a11 * ty)],
  ];
}

/** Augmentation settings as configured, with those left to the quirks mode (null) filled in. */
export type AugmentSettings = Omit<AugmentConfig, 'brightnessByMax' | 'keepRatio'> & {
  brightnessByMax: boolean | null;
  keepRatio: boolean | null;
};

/**
 * Fills `brightnessByMax` / `keepRatio` left null: `reference` follows the original's configs
 * (albumentations defaults brightness_by_max=True, keep_ratio=False: quirk 20), `fixed` keeps
 * one scale and shifts brightness by α·mean.
 */
export function resolveAugment(cfg: AugmentSettings, quirks: 'reference' | 'fixed' = 'reference'): AugmentConfig {
  const ref = quirks === 'reference';
  return { ...cfg, brightnessByMax: cfg.brightnessByMax ?? ref, keepRatio: cfg.keepRatio ?? !ref };
}

/**
 * Applies a drawn plan to images [B, 3, S, S] of [0, 1] pixels and masks [B, 1, S, S]. Samples
 * without a transform are passed through bit for bit. Returns new tensors (the inputs are not
 * modified); call it inside `tidy`.
 */
export function applyAugmentations(
  images: Tensor,
  masks: Tensor,
  plan: readonly SampleAugment[],
  cfg: Pick<AugmentConfig, 'brightnessByMax' | 'imageInterpolation' | 'maskInterpolation'> = DEFAULT_AUGMENT,
): { images: Tensor; masks: Tensor } {
  const [B, C, H, W] = images.shape as [number, number, number, number];
  if (plan.length !== B) throw new Error(`applyAugmentations: plan has ${plan.length} entries for a batch of ${B}`);
  if (C !== 3) throw new Error(`applyAugmentations: images must be [B, 3, S, S], got [${images.shape.join(', ')}]`);
  if (H !== W) throw new Error(`applyAugmentations: images must be square, got ${H}x${W}`);
  const affineIdx = plan.flatMap((p, i) => (p.affine ? [i] : []));
  const colourIdx = plan.flatMap((p, i) => (p.colour ? [i] : []));
  if (affineIdx.length === 0 && colourIdx.length === 0) return { images, masks };
  const dev = images.device;
  let img = images;
  let msk = masks;
  if (affineIdx.length > 0) {
    const idx = tensor(
      BigInt64Array.from(affineIdx, (i) => BigInt(i)),
      [affineIdx.length],
    ).to(dev);
    const theta = tensor(Float32Array.from(affineIdx.flatMap((i) => affineTheta(plan[i]!.affine!).flat())), [affineIdx.length, 2, 3])
      .to(images.dtype)
      .to(dev);
    const grid = F.affineGrid(theta, [affineIdx.length, C, H, W], false);
    const warped = F.gridSample(images.indexSelect(0, idx), grid, cfg.imageInterpolation, 'border', false).clamp(0, 1); // bicubic overshoot clipped to the valid pixel range, like uint8 saturation
    const sub = masks.indexSelect(0, idx);
    const warpedMask =
      cfg.maskInterpolation === 'nearest'
        ? F.gridSample(sub, grid.to(sub.dtype), 'nearest', 'border', false)
        : F.gridSample(sub, grid.to(sub.dtype), 'bilinear', 'border', false).gt(0.5).to(sub.dtype);
    img = images.clone().indexPut_([idx], warped);
    msk = masks.clone().indexPut_([idx], warpedMask);
  }
  if (colourIdx.length > 0) {
    const idx = tensor(
      BigInt64Array.from(colourIdx, (i) => BigInt(i)),
      [colourIdx.length],
    ).to(dev);
    const k = colourIdx.length;
    const alpha = tensor(
      Float32Array.from(colourIdx, (i) => plan[i]!.colour!.alpha),
      [k, 1, 1, 1],
    )
      .to(images.dtype)
      .to(dev);
    const beta = tensor(
      Float32Array.from(colourIdx, (i) => plan[i]!.colour!.beta),
      [k, 1, 1, 1],
    )
      .to(images.dtype)
      .to(dev);
    const px = img.indexSelect(0, idx);
    const shift = cfg.brightnessByMax ? beta : alpha.mul(beta).mul(px.mean([1, 2, 3], true));
    const adjusted = px.mul(alpha).add(shift).clamp(0, 1);
    img = (img === images ? images.clone() : img).indexPut_([idx], adjusted);
  }
  return { images: img, masks: msk };
}

/** Draws and applies one step's augmentation: deterministic in (seed, epoch, step). */
export function augmentBatch(
  images: Tensor,
  masks: Tensor,
  cfg: AugmentConfig,
  at: { seed: number; epoch: number; step: number },
): { images: Tensor; masks: Tensor; plan: SampleAugment[] } {
  const plan = sampleAugmentations(cfg, images.size(0), augmentRng(at.seed, at.epoch, at.step));
  const out = tidy(() => applyAugmentations(images, masks, plan, cfg));
  return { ...out, plan };
}
