/**
 * CLIP transformer building blocks, mirroring HF transformers 4.38.2
 * `models/clip/modeling_clip.py` (and its CLIPSeg copy `models/clipseg/modeling_clipseg.py`):
 * `CLIPAttention` (eager path), `CLIPMLP`, `CLIPEncoderLayer` (pre-LN) and `CLIPEncoder`.
 * Module and parameter names are HF's, so checkpoints load by name:
 *   layers.N.self_attn.{q,k,v,out}_proj.{weight,bias}, layers.N.layer_norm1.*,
 *   layers.N.mlp.fc1.*, layers.N.mlp.fc2.*, layers.N.layer_norm2.*
 *
 * Shapes: B batch, S sequence length, D hidden size, H heads, Dh = D / H.
 */
import { Tensor, arange, nn, tidy, zeros, F } from '../../torch/index.js';
import type { HiddenAct } from './config.js';

/** torch.finfo(torch.float32).min: HF's additive mask value for blocked positions. */
export const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * Called after encoder layer `layerIndex` (0-based; `hidden` is HF's `hidden_states[layerIndex + 1]`)
 * with that layer's output [B, S, D]. What it returns is what the next layer receives and what
 * the encoder records as `hiddenStates[layerIndex + 1]`. Return `hidden` itself to leave it.
 */
export type LayerHook = (layerIndex: number, hidden: Tensor) => Tensor;

/** The Linear layers of an encoder layer, by their HF names. */
export type LinearSite = 'q_proj' | 'k_proj' | 'v_proj' | 'out_proj' | 'fc1' | 'fc2';

/**
 * Hook points inside every encoder layer `layerIndex` (0-based), for methods that are not prompt
 * tokens (adapters, LoRA: DESIGN.md's last learner paragraph). The encoder calls them without
 * knowing who answers; each returns what the layer uses in place of its argument.
 */
export interface EncoderLayerHooks {
  /** The attention sub-block's output `self_attn(layer_norm1(h))` before the residual add. */
  attnOutput?: (layerIndex: number, out: Tensor) => Tensor;
  /** The MLP sub-block's output `mlp(layer_norm2(h))` before the residual add. */
  mlpOutput?: (layerIndex: number, out: Tensor) => Tensor;
  /** A Linear applied to `x`: returns its output in place of `base.forward(x)` (e.g. W x + ΔW x). */
  linear?: (layerIndex: number, site: LinearSite, x: Tensor, base: nn.Linear) => Tensor;
}

/** Applies Linear `base` at `site`, through the linear hook when there is one. */
export type LinearCall = (site: LinearSite, base: nn.Linear, x: Tensor) => Tensor;
const plainLinear: LinearCall = (_site, base, x) => base.forward(x);

export function activationFn(name: HiddenAct): (x: Tensor) => Tensor {
  switch (name) {
    case 'quick_gelu':
      return F.quickGelu;
    case 'gelu':
      return (x) => F.gelu(x);
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return (x) => F.gelu(x, 'tanh');
    case 'relu':
      return F.relu;
    case 'silu':
      return F.silu;
  }
}

/** Multi-head self-attention as HF's eager `CLIPAttention`: q is scaled by Dh^-0.5 before q·kᵀ. */
export class CLIPAttention extends nn.Module {
  readonly k_proj: nn.Linear;
  readonly v_proj: nn.Linear;
  readonly q_proj: nn.Linear;
  readonly out_proj: nn.Linear;
  readonly headDim: number;
  readonly scale: number;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    readonly dropout = 0,
  ) {
    super();
    if (embedDim % numHeads !== 0) throw new Error(`CLIPAttention: embed dim ${embedDim} is not divisible by ${numHeads} heads`);
    this.headDim = embedDim / numHeads;
    this.scale = this.headDim ** -0.5;
    this.k_proj = this.registerModule('k_proj', new nn.Linear(embedDim, embedDim));
    this.v_proj = this.registerModule('v_proj', new nn.Linear(embedDim, embedDim));
    this.q_proj = this.registerModule('q_proj', new nn.Linear(embedDim, embedDim));
    this.out_proj = this.registerModule('out_proj', new nn.Linear(embedDim, embedDim));
  }

  /**
   * x [B, S, D]; bias: additive attention bias broadcastable to [B, H, S, S] (0 = attend,
   * FLOAT32_MIN = blocked), or null. Returns [B, S, D].
   */
  forward(x: Tensor, bias: Tensor | null = null, lin: LinearCall = plainLinear): Tensor {
    return tidy(() => {
      if (this.dropout === 0 || !this.training) {
        // One native op (F.multiHeadAttention): heads read in place, no transposed copies.
        const out = F.multiHeadAttention(
          lin('q_proj', this.q_proj, x),
          lin('k_proj', this.k_proj, x),
          lin('v_proj', this.v_proj, x),
          this.numHeads,
          this.scale,
          bias,
        );
        return lin('out_proj', this.out_proj, out);
      }
      const [B, S] = [x.size(0), x.size(1)];
      const H = this.numHeads,
        Dh = this.headDim;
      const heads = (t: Tensor): Tensor => t.view(B, S, H, Dh).transpose(1, 2); // [B, H, S, Dh]
      const q = heads(lin('q_proj', this.q_proj, x).mul(this.scale));
      const k = heads(lin('k_proj', this.k_proj, x));
      const v = heads(lin('v_proj', this.v_proj, x));
      let scores = q.matmul(k.transpose(2, 3)); // [B, H, S, S]
      if (bias) scores = scores.add(bias);
      let probs = scores.softmax(-1);
      if (this.dropout > 0 && this.training) probs = F.dropout(probs, this.dropout, true);
      const out = probs.matmul(v).transpose(1, 2).reshape(B, S, this.embedDim);
      return lin('out_proj', this.out_proj, out);
    });
  }
}

export class CLIPMLP extends nn.Module {
  readonly fc1: nn.Linear;
  readonly fc2: nn.Linear;
  readonly act: (x: Tensor) => Tensor;
  constructor(
    hiddenSize: number,
    intermediateSize: number,
    readonly hiddenAct: HiddenAct,
  ) {
    super();
    this.act = activationFn(hiddenAct);
    this.fc1 = this.registerModule('fc1', new nn.Linear(hiddenSize, intermediateSize));
    this.fc2 = this.registerModule('fc2', new nn.Linear(intermediateSize, hiddenSize));
  }
  forward(x: Tensor, lin: LinearCall = plainLinear): Tensor {
    // CLIP's quick_gelu: fc1 and the activation as one op (one elementwise pass each way), unless
    // a method's linear hook answers for fc1 (then its output goes through the activation as is).
    if (this.hiddenAct === 'quick_gelu' && lin === plainLinear) {
      return tidy(() => lin('fc2', this.fc2, F.linearQuickGelu(x, this.fc1.weight, this.fc1.bias)));
    }
    return tidy(() => lin('fc2', this.fc2, this.act(lin('fc1', this.fc1, x))));
  }
}

export interface EncoderLayerShape {
  hiddenSize: number;
  intermediateSize: number;
  numAttentionHeads: number;
  hiddenAct: HiddenAct;
  layerNormEps: number;
  attentionDropout: number;
}

/** Pre-LN block: x + attn(ln1(x)), then x + mlp(ln2(x)). */
export class CLIPEncoderLayer extends nn.Module {
  readonly self_attn: CLIPAttention;
  readonly layer_norm1: nn.LayerNorm;
  readonly mlp: CLIPMLP;
  readonly layer_norm2: nn.LayerNorm;
  constructor(c: EncoderLayerShape) {
    super();
    this.self_attn = this.registerModule('self_attn', new CLIPAttention(c.hiddenSize, c.numAttentionHeads, c.attentionDropout));
    this.layer_norm1 = this.registerModule('layer_norm1', new nn.LayerNorm(c.hiddenSize, c.layerNormEps));
    this.mlp = this.registerModule('mlp', new CLIPMLP(c.hiddenSize, c.intermediateSize, c.hiddenAct));
    this.layer_norm2 = this.registerModule('layer_norm2', new nn.LayerNorm(c.hiddenSize, c.layerNormEps));
  }
  /** `hooks` (with this layer's index) let a method act inside the block; see EncoderLayerHooks. */
  forward(x: Tensor, bias: Tensor | null = null, hooks: EncoderLayerHooks | null = null, layerIndex = 0): Tensor {
    return tidy(() => {
      const lin: LinearCall = hooks?.linear ? (site, base, v) => hooks.linear!(layerIndex, site, v, base) : plainLinear;
      let a = this.self_attn.forward(this.layer_norm1.forward(x), bias, lin);
      if (hooks?.attnOutput) a = hooks.attnOutput(layerIndex, a);
      const h = x.add(a);
      let m = this.mlp.forward(this.layer_norm2.forward(h), lin);
      if (hooks?.mlpOutput) m = hooks.mlpOutput(layerIndex, m);
      return h.add(m);
    });
  }
}

export interface EncoderOptions {
  /** Additive attention bias broadcastable to [B, H, S, S] (see textAttentionBias), or null. */
  attentionBias?: Tensor | null;
  /** Run only the first `numLayers` layers (default: all). */
  numLayers?: number;
  /** Called after every layer that runs; see LayerHook. */
  afterLayer?: LayerHook | null;
  /** Hook points inside every layer that runs; see EncoderLayerHooks. */
  hooks?: EncoderLayerHooks | null;
  /** Return every hidden state (default true). */
  outputHiddenStates?: boolean;
}

export interface EncoderOutput {
  /** Output of the last layer run (after afterLayer). */
  lastHiddenState: Tensor;
  /** [input, after layer 0, after layer 1, ...]: HF's `hidden_states` (null when not asked). */
  hiddenStates: Tensor[] | null;
}

export class CLIPEncoder extends nn.Module {
  readonly layers: nn.ModuleList<CLIPEncoderLayer>;
  constructor(c: EncoderLayerShape & { numHiddenLayers: number }) {
    super();
    this.layers = this.registerModule('layers', new nn.ModuleList<CLIPEncoderLayer>());
    for (let i = 0; i < c.numHiddenLayers; i++) this.layers.push(new CLIPEncoderLayer(c));
  }

  forward(x: Tensor, o: EncoderOptions = {}): EncoderOutput {
    const n = o.numLayers ?? this.layers.length;
    if (!Number.isInteger(n) || n < 0 || n > this.layers.length) {
      throw new RangeError(`CLIPEncoder: numLayers must be an integer in [0, ${this.layers.length}], got ${n}`);
    }
    const keepAll = o.outputHiddenStates ?? true;
    return tidy(() => {
      const states: Tensor[] = [x];
      let h = x;
      for (let i = 0; i < n; i++) {
        h = this.layers.at(i).forward(h, o.attentionBias ?? null, o.hooks ?? null, i);
        if (o.afterLayer) h = o.afterLayer(i, h);
        if (keepAll) states.push(h);
      }
      return { lastHiddenState: h, hiddenStates: keepAll ? states : null };
    });
  }
}

/**
 * The text encoder's additive attention bias [B or 1, 1, L, L]: 0 where query i may attend
 * key j, FLOAT32_MIN where it may not (j > i when causal, or key j is padding:
 * attentionMask[b, j] == 0). attentionMask: [B, L] (any dtype; 1 = token, 0 = padding) or null.
 * Returns null when nothing is masked.
 */
export function textAttentionBias(attentionMask: Tensor | null | undefined, seqLen: number, causal = true, device?: string): Tensor | null {
  if (!causal && !attentionMask) return null;
  return tidy(() => {
    const dev = device ?? attentionMask?.device ?? 'cpu';
    let blocked: Tensor | null = null;
    if (causal) {
      const pos = arange(seqLen, undefined, 1, { device: dev });
      blocked = pos.view(1, seqLen).gt(pos.view(seqLen, 1)).view(1, 1, seqLen, seqLen);
    }
    if (attentionMask) {
      if (attentionMask.ndim !== 2 || attentionMask.size(1) !== seqLen) {
        throw new Error(`text attention mask must be [B, ${seqLen}], got [${attentionMask.shape.join(', ')}]`);
      }
      const pad = attentionMask.eq(0).view(attentionMask.size(0), 1, 1, seqLen);
      blocked = blocked ? pad.logicalOr(blocked) : pad;
    }
    const b = blocked!;
    return zeros(b.shape, { device: dev }).maskedFill(b, FLOAT32_MIN);
  });
}
