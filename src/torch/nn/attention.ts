// nn.MultiheadAttention and nn.TransformerEncoderLayer with PyTorch's parameter names
// (in_proj_weight, in_proj_bias, out_proj.*, linear1/2, norm1/2) and semantics
// (batch_first, norm_first, key_padding_mask True = ignore, bool attn_mask True = not allowed).
import { Tensor, empty, zeros } from '../tensor.js';
import * as F from '../functional.js';
import { Module } from './module.js';
import { Dropout, LayerNorm, Linear } from './layers.js';
import { xavierUniform_, zeros_ } from './init.js';
import { tidy } from '../scope.js';

export interface MultiheadAttentionOptions {
  dropout?: number;
  bias?: boolean;
  batchFirst?: boolean;
  device?: string;
}

export interface AttentionMasks {
  /** [B, S] bool, true = this key is padding (ignored). */
  keyPaddingMask?: Tensor | null;
  /** [L, S] or [B*heads, L, S]: bool (true = not allowed) or float (added to the scores). */
  attnMask?: Tensor | null;
}

export class MultiheadAttention extends Module {
  readonly in_proj_weight: Tensor;
  readonly in_proj_bias: Tensor | null;
  readonly out_proj: Linear;
  readonly headDim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    o: MultiheadAttentionOptions = {},
  ) {
    super();
    if (embedDim % numHeads !== 0) throw new Error(`MultiheadAttention: embedDim ${embedDim} is not divisible by numHeads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    this.dropout = o.dropout ?? 0;
    this.batchFirst = o.batchFirst ?? false;
    this.in_proj_weight = this.registerParameter('in_proj_weight', empty([3 * embedDim, embedDim], { device: o.device }));
    this.in_proj_bias = o.bias === false ? null : this.registerParameter('in_proj_bias', zeros([3 * embedDim], { device: o.device }));
    this.out_proj = this.registerModule('out_proj', new Linear(embedDim, embedDim, o.bias !== false, { device: o.device }));
    xavierUniform_(this.in_proj_weight);
    if (this.out_proj.bias) zeros_(this.out_proj.bias);
  }

  /** Attention output (weights are not returned: need_weights=False). */
  forward(query: Tensor, key: Tensor, value: Tensor, masks: AttentionMasks = {}): Tensor {
    return tidy(() => {
      // Work in [L, B, E] like PyTorch's functional path.
      const q0 = this.batchFirst ? query.transpose(0, 1) : query;
      const k0 = this.batchFirst ? key.transpose(0, 1) : key;
      const v0 = this.batchFirst ? value.transpose(0, 1) : value;
      const L = q0.size(0),
        B = q0.size(1),
        S = k0.size(0),
        E = this.embedDim,
        H = this.numHeads,
        D = this.headDim;
      let q: Tensor, k: Tensor, v: Tensor;
      if (query === key && key === value) {
        [q, k, v] = F.linear(q0, this.in_proj_weight, this.in_proj_bias).chunk(3, -1) as [Tensor, Tensor, Tensor];
      } else {
        const [wq, wk, wv] = this.in_proj_weight.chunk(3, 0) as [Tensor, Tensor, Tensor];
        const [bq, bk, bv] = this.in_proj_bias ? (this.in_proj_bias.chunk(3, 0) as [Tensor, Tensor, Tensor]) : [null, null, null];
        q = F.linear(q0, wq, bq);
        k = F.linear(k0, wk, bk);
        v = F.linear(v0, wv, bv);
      }
      // [L, B, E] -> [B*H, L, D]
      const heads = (t: Tensor, len: number): Tensor =>
        t
          .contiguous()
          .view(len, B * H, D)
          .transpose(0, 1);
      const qh = heads(q, L).mul(1 / Math.sqrt(D));
      const kh = heads(k, S);
      const vh = heads(v, S);
      let scores = qh.bmm(kh.transpose(1, 2)); // [B*H, L, S]
      if (masks.attnMask) {
        const m = masks.attnMask.ndim === 2 ? masks.attnMask.unsqueeze(0) : masks.attnMask;
        scores = m.dtype === 'bool' ? scores.maskedFill(m, -Infinity) : scores.add(m);
      }
      if (masks.keyPaddingMask) {
        const kpm = masks.keyPaddingMask
          .view(B, 1, 1, S)
          .expand(B, H, 1, S)
          .reshape(B * H, 1, S);
        scores = kpm.dtype === 'bool' ? scores.maskedFill(kpm, -Infinity) : scores.add(kpm);
      }
      let attn = scores.softmax(-1);
      if (this.dropout > 0 && this.training) attn = F.dropout(attn, this.dropout, true);
      const out = attn
        .bmm(vh)
        .transpose(0, 1)
        .contiguous()
        .view(L * B, E); // [L*B, E]
      const y = this.out_proj.forward(out).view(L, B, E);
      return this.batchFirst ? y.transpose(0, 1) : y;
    });
  }
}

export interface TransformerEncoderLayerOptions {
  dimFeedforward?: number;
  dropout?: number;
  activation?: 'relu' | 'gelu';
  layerNormEps?: number;
  batchFirst?: boolean;
  normFirst?: boolean;
  bias?: boolean;
  device?: string;
}

export class TransformerEncoderLayer extends Module {
  readonly self_attn: MultiheadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly dropoutLayer: Dropout;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly normFirst: boolean;
  readonly activation: 'relu' | 'gelu';

  constructor(
    readonly dModel: number,
    readonly nhead: number,
    o: TransformerEncoderLayerOptions = {},
  ) {
    super();
    const ff = o.dimFeedforward ?? 2048;
    const p = o.dropout ?? 0.1;
    const eps = o.layerNormEps ?? 1e-5;
    this.normFirst = o.normFirst ?? false;
    this.activation = o.activation ?? 'relu';
    this.self_attn = this.registerModule(
      'self_attn',
      new MultiheadAttention(dModel, nhead, { dropout: p, batchFirst: o.batchFirst, bias: o.bias, device: o.device }),
    );
    this.linear1 = this.registerModule('linear1', new Linear(dModel, ff, o.bias !== false, { device: o.device }));
    this.dropoutLayer = this.registerModule('dropout', new Dropout(p));
    this.linear2 = this.registerModule('linear2', new Linear(ff, dModel, o.bias !== false, { device: o.device }));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel, eps, true, o.bias !== false, { device: o.device }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel, eps, true, o.bias !== false, { device: o.device }));
    this.dropout1 = this.registerModule('dropout1', new Dropout(p));
    this.dropout2 = this.registerModule('dropout2', new Dropout(p));
  }

  forward(src: Tensor, masks: AttentionMasks = {}): Tensor {
    return tidy(() => {
      const sa = (x: Tensor): Tensor => this.dropout1.forward(this.self_attn.forward(x, x, x, masks));
      const act = (x: Tensor): Tensor => (this.activation === 'relu' ? F.relu(x) : F.gelu(x));
      const ffn = (x: Tensor): Tensor =>
        this.dropout2.forward(this.linear2.forward(this.dropoutLayer.forward(act(this.linear1.forward(x)))));
      if (this.normFirst) {
        const x1 = src.add(sa(this.norm1.forward(src)));
        return x1.add(ffn(this.norm2.forward(x1)));
      }
      const x1 = this.norm1.forward(src.add(sa(src)));
      return this.norm2.forward(x1.add(ffn(x1)));
    });
  }
}
