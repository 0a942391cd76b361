// CRIS's multi-modal FPN neck, transformer decoder and projector (dynamic convolution).
//
// Reference: github.com/naamiinepal/tunevlseg @ 7956bcd, src/models/components/cris_model/layers.py
// (CRIS, Wang et al., CVPR 2022). Parameter names follow the reference's module tree.
import { Tensor, arange, cat, linspace, stack, full, noGrad, ones, zeros } from '../../torch/index.js';
import { F, nn } from '../../torch/index.js';

/** nn.BatchNorm1d over [B, C] (the torch nn layer set has only BatchNorm2d). */
export class BatchNorm1d extends nn.Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  constructor(
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.weight = this.registerParameter('weight', ones([numFeatures]));
    this.bias = this.registerParameter('bias', zeros([numFeatures]));
    this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', ones([numFeatures]));
    this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'int64' }));
  }
  forward(x: Tensor): Tensor {
    if (x.ndim !== 2 && x.ndim !== 3) throw new Error(`BatchNorm1d expects [B, C] or [B, C, L], got [${x.shape.join(', ')}]`);
    if (this.training) noGrad(() => this._buffers.get('num_batches_tracked')?.add_(1));
    return F.batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, this.training, this.momentum, this.eps);
  }
}

/** conv_layer: Conv2d(no bias) "0" -> BatchNorm2d "1" -> ReLU "2". */
export function convLayer(inDim: number, outDim: number, kernel = 1, padding = 0, stride = 1): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(inDim, outDim, kernel, { stride, padding, bias: false }),
    new nn.BatchNorm2d(outDim),
    new nn.ReLU(),
  );
}

/** linear_layer: Linear(no bias) "0" -> BatchNorm1d "1" -> ReLU "2". */
export function linearLayer(inDim: number, outDim: number): nn.Sequential {
  return new nn.Sequential(new nn.Linear(inDim, outDim, false), new BatchNorm1d(outDim), new nn.ReLU());
}

/** Appends x and y coordinate channels in [-1, 1] (x varies along W, y along H), then conv_layer. */
export class CoordConv extends nn.Module {
  readonly conv1: nn.Sequential;
  constructor(inChannels: number, outChannels: number, kernel = 3, padding = 1, stride = 1) {
    super();
    this.conv1 = this.registerModule('conv1', convLayer(inChannels + 2, outChannels, kernel, padding, stride));
  }
  static addCoord(x: Tensor): Tensor {
    const [b, , h, w] = x.shape as [number, number, number, number];
    const o = { dtype: x.dtype, device: x.device };
    const xs = linspace(-1, 1, w, o).view(1, 1, 1, w).expand(b, 1, h, w);
    const ys = linspace(-1, 1, h, o).view(1, 1, h, 1).expand(b, 1, h, w);
    return cat([x, xs, ys], 1);
  }
  forward(x: Tensor): Tensor {
    return this.conv1.forward(CoordConv.addCoord(x));
  }
}

/**
 * Projector: the visual branch upsamples the decoder map x4 (two bilinear x2, align_corners=False)
 * through conv layers; the text state becomes a per-sample kxk kernel + bias applied as one
 * grouped convolution (dynamic convolution). Output [B, 1, 4h, 4w].
 */
export class Projector extends nn.Module {
  readonly vis: nn.Sequential;
  readonly txt: nn.Linear;
  constructor(
    wordDim: number,
    readonly inDim: number,
    readonly kernelSize = 3,
  ) {
    super();
    const up = (): nn.Upsample => new nn.Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners: false });
    this.vis = this.registerModule(
      'vis',
      new nn.Sequential(
        up(),
        convLayer(inDim * 2, inDim * 2, 3, 1),
        up(),
        convLayer(inDim * 2, inDim, 3, 1),
        new nn.Conv2d(inDim, inDim, 1),
      ),
    );
    this.txt = this.registerModule('txt', new nn.Linear(wordDim, inDim * kernelSize * kernelSize + 1));
  }
  forward(x: Tensor, word: Tensor): Tensor {
    const v = this.vis.forward(x);
    const [B, C, H, W] = v.shape as [number, number, number, number];
    const k = this.kernelSize;
    const wb = this.txt.forward(word); // [B, C*k*k + 1]
    const weight = wb.slice(1, 0, -1).reshape(B, C, k, k);
    const bias = wb.select(1, wb.size(1) - 1).contiguous();
    const out = F.conv2d(v.reshape(1, B * C, H, W), weight, bias, 1, Math.floor(k / 2), 1, B); // [1, B, H, W]
    return out.transpose(0, 1);
  }
}

/** 1-D sine/cosine position encoding [L, 1, d] (reference TransformerDecoder.pos1d, computed in x's dtype). */
export function pos1d(d: number, length: number, like: Tensor): Tensor {
  if (d % 2 !== 0) throw new Error(`Cannot use sin/cos positional encoding with odd dim (got dim=${d})`);
  const o = { dtype: like.dtype, device: like.device };
  const position = arange(0, length, 1, o).unsqueeze(1);
  const mul = full([], 1e-4, o).pow(arange(0, d, 2, o).div(d));
  const angles = position.mul(mul); // [L, d/2]
  return stack([angles.sin(), angles.cos()], 2).reshape(length, d).unsqueeze(1);
}

/**
 * 2-D sine/cosine position encoding [h*w, 1, d] (reference pos2d): channels [0, d/2) encode the
 * column (sin at even, cos at odd), channels [d/2, d) the row.
 */
export function pos2d(d: number, height: number, width: number, like: Tensor): Tensor {
  if (d % 4 !== 0) throw new Error(`Cannot use sin/cos positional encoding with odd dimension (got dim=${d})`);
  const o = { dtype: like.dtype, device: like.device };
  const half = d / 2;
  const mul = full([], 1e-4, o).pow(arange(0, half, 2, o).div(half)); // [d/4]
  const aw = arange(0, width, 1, o).unsqueeze(1).mul(mul).transpose(0, 1); // [d/4, W]
  const ah = arange(0, height, 1, o).unsqueeze(1).mul(mul).transpose(0, 1); // [d/4, H]
  const pw = stack([aw.sin(), aw.cos()], 1).reshape(half, 1, width).expand(half, height, width);
  const ph = stack([ah.sin(), ah.cos()], 1).reshape(half, height, 1).expand(half, height, width);
  return cat([pw, ph], 0)
    .reshape(d, 1, height * width)
    .permute(2, 1, 0);
}

/** nn.Sequential "ffn": Linear "0", ReLU "1", Dropout "2", LayerNorm "3", Linear "4". */
function ffn(d: number, dff: number, p: number): nn.Sequential {
  return new nn.Sequential(new nn.Linear(d, dff), new nn.ReLU(), new nn.Dropout(p), new nn.LayerNorm(dff), new nn.Linear(dff, d));
}

/**
 * Pre-LN decoder layer: self-attention over the visual tokens (q = k = x + pos, v = x), then
 * cross-attention to the text (q = x + vis_pos, k = txt + txt_pos, v = txt, key_padding_mask =
 * pad mask), then FFN; each attention output is layer-normed before the residual add.
 * Sequence-first tensors: vis [HW, B, C], txt [L, B, C].
 */
export class TransformerDecoderLayer extends nn.Module {
  readonly self_attn_norm: nn.LayerNorm;
  readonly cross_attn_norm: nn.LayerNorm;
  readonly self_attn: nn.MultiheadAttention;
  readonly multihead_attn: nn.MultiheadAttention;
  readonly ffn: nn.Sequential;
  readonly norm1: nn.LayerNorm;
  readonly norm2: nn.LayerNorm;
  readonly norm3: nn.LayerNorm;
  readonly dropout1: nn.Dropout;
  readonly dropout2: nn.Dropout;
  readonly dropout3: nn.Dropout;

  constructor(d: number, nhead: number, dff: number, p: number) {
    super();
    this.self_attn_norm = this.registerModule('self_attn_norm', new nn.LayerNorm(d));
    this.cross_attn_norm = this.registerModule('cross_attn_norm', new nn.LayerNorm(d));
    this.self_attn = this.registerModule('self_attn', new nn.MultiheadAttention(d, nhead, { dropout: p }));
    this.multihead_attn = this.registerModule('multihead_attn', new nn.MultiheadAttention(d, nhead, { dropout: p }));
    this.ffn = this.registerModule('ffn', ffn(d, dff, p));
    this.norm1 = this.registerModule('norm1', new nn.LayerNorm(d));
    this.norm2 = this.registerModule('norm2', new nn.LayerNorm(d));
    this.norm3 = this.registerModule('norm3', new nn.LayerNorm(d));
    this.dropout1 = this.registerModule('dropout1', new nn.Dropout(p));
    this.dropout2 = this.registerModule('dropout2', new nn.Dropout(p));
    this.dropout3 = this.registerModule('dropout3', new nn.Dropout(p));
  }

  forward(vis: Tensor, txt: Tensor, visPos: Tensor, txtPos: Tensor, padMask: Tensor): Tensor {
    let v2 = this.norm1.forward(vis);
    const qk = v2.add(visPos);
    v2 = this.self_attn_norm.forward(this.self_attn.forward(qk, qk, v2));
    let x = vis.add(this.dropout1.forward(v2));
    v2 = this.norm2.forward(x);
    v2 = this.multihead_attn.forward(v2.add(visPos), txt.add(txtPos), txt, { keyPaddingMask: padMask });
    x = x.add(this.dropout2.forward(this.cross_attn_norm.forward(v2)));
    v2 = this.ffn.forward(this.norm3.forward(x));
    return x.add(this.dropout3.forward(v2));
  }
}

/** Decoder stack + final LayerNorm. vis [B, C, H, W], txt [B, L, D], padMask [B, L] -> [B, C, H*W]. */
export class TransformerDecoder extends nn.Module {
  readonly layers: nn.ModuleList<TransformerDecoderLayer>;
  readonly norm: nn.LayerNorm;
  constructor(
    numLayers: number,
    readonly dModel: number,
    nhead: number,
    dff: number,
    p: number,
  ) {
    super();
    this.layers = this.registerModule(
      'layers',
      new nn.ModuleList(Array.from({ length: numLayers }, () => new TransformerDecoderLayer(dModel, nhead, dff, p))),
    );
    this.norm = this.registerModule('norm', new nn.LayerNorm(dModel));
  }
  forward(vis: Tensor, txt: Tensor, padMask: Tensor): Tensor {
    const [B, C, H, W] = vis.shape as [number, number, number, number];
    const [, L, D] = txt.shape as [number, number, number];
    const visPos = pos2d(C, H, W, vis);
    const txtPos = pos1d(D, L, txt);
    let out = vis.reshape(B, C, H * W).permute(2, 0, 1);
    const t = txt.permute(1, 0, 2);
    const kpm = padMask.dtype === 'bool' ? padMask : padMask.ne(0);
    for (const layer of this.layers) out = layer.forward(out, t, visPos, txtPos, kpm);
    return this.norm.forward(out).permute(1, 2, 0);
  }
}

/**
 * Multi-modal FPN: fuses C5 with the text state (multiplicatively), then C4 and C3 top-down,
 * aggregates at the C4 scale and appends coordinates. Output [B, fpnOut[1], S/16, S/16].
 */
export class FPN extends nn.Module {
  readonly txt_proj: nn.Sequential;
  readonly f1_v_proj: nn.Sequential;
  readonly norm_layer: nn.Sequential;
  readonly f2_v_proj: nn.Sequential;
  readonly f2_cat: nn.Sequential;
  readonly f3_v_proj: nn.Sequential;
  readonly f3_cat: nn.Sequential;
  readonly f4_proj5: nn.Sequential;
  readonly f4_proj4: nn.Sequential;
  readonly f4_proj3: nn.Sequential;
  readonly aggr: nn.Sequential;
  readonly coordconv: nn.Sequential;

  constructor(inC: [number, number, number], outC: [number, number, number]) {
    super();
    this.txt_proj = this.registerModule('txt_proj', linearLayer(inC[2], outC[2]));
    this.f1_v_proj = this.registerModule('f1_v_proj', convLayer(inC[2], outC[2], 1, 0));
    this.norm_layer = this.registerModule('norm_layer', new nn.Sequential(new nn.BatchNorm2d(outC[2]), new nn.ReLU()));
    this.f2_v_proj = this.registerModule('f2_v_proj', convLayer(inC[1], outC[1], 3, 1));
    this.f2_cat = this.registerModule('f2_cat', convLayer(outC[2] + outC[1], outC[1], 1, 0));
    this.f3_v_proj = this.registerModule('f3_v_proj', convLayer(inC[0], outC[0], 3, 1));
    this.f3_cat = this.registerModule('f3_cat', convLayer(outC[0] + outC[1], outC[1], 1, 0));
    this.f4_proj5 = this.registerModule('f4_proj5', convLayer(outC[2], outC[1], 3, 1));
    this.f4_proj4 = this.registerModule('f4_proj4', convLayer(outC[1], outC[1], 3, 1));
    this.f4_proj3 = this.registerModule('f4_proj3', convLayer(outC[1], outC[1], 3, 1));
    this.aggr = this.registerModule('aggr', convLayer(3 * outC[1], outC[1], 1, 0));
    this.coordconv = this.registerModule(
      'coordconv',
      new nn.Sequential(new CoordConv(outC[1], outC[1], 3, 1), convLayer(outC[1], outC[1], 3, 1)),
    );
  }

  forward(v3: Tensor, v4: Tensor, v5: Tensor, state: Tensor): Tensor {
    const up2 = (x: Tensor): Tensor => F.interpolate(x, { scaleFactor: 2, mode: 'bilinear', alignCorners: false });
    const s = this.txt_proj.forward(state).unsqueeze(-1).unsqueeze(-1); // [B, C5, 1, 1]
    const f5 = this.norm_layer.forward(this.f1_v_proj.forward(v5).mul(s));
    let f4 = this.f2_v_proj.forward(v4);
    f4 = this.f2_cat.forward(cat([f4, up2(f5)], 1));
    let f3 = this.f3_v_proj.forward(v3);
    f3 = F.avgPool2d(f3, 2, 2);
    f3 = this.f3_cat.forward(cat([f3, f4], 1));
    const fq5 = up2(this.f4_proj5.forward(f5));
    const fq4 = this.f4_proj4.forward(f4);
    const fq3 = this.f4_proj3.forward(f3);
    const fq = this.aggr.forward(cat([fq3, fq4, fq5], 1));
    return this.coordconv.forward(fq);
  }
}
