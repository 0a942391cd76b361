// CRIS's CLIP backbone: OpenAI's ModifiedResNet (as CRIS modifies it: the attention pool keeps
// the spatial grid) and the CLIP text transformer, in OpenAI's parameter names so that
// `backbone.*` of a CRIS state dict loads strictly.
//
// Reference: github.com/naamiinepal/tunevlseg @ 7956bcd, src/models/components/cris_model/clip.py
// (itself OpenAI CLIP's model.py with CRIS's AttentionPool2d). Modules are ordered leaf to root.
import { Tensor, arange, noGrad, tidy, zeros, empty } from '../../torch/index.js';
import { F, nn } from '../../torch/index.js';
import type { ClipResNetConfig } from './config.js';

// ------------------------------------------------------------------ vision: ModifiedResNet

/** `downsample` of a Bottleneck: AvgPool2d(stride) (named "-1", no parameters) -> Conv1x1 "0" -> BN "1". */
class Downsample extends nn.Module {
  readonly conv: nn.Conv2d;
  readonly bn: nn.BatchNorm2d;
  constructor(
    inplanes: number,
    outplanes: number,
    readonly stride: number,
  ) {
    super();
    this.conv = this.registerModule('0', new nn.Conv2d(inplanes, outplanes, 1, { bias: false }));
    this.bn = this.registerModule('1', new nn.BatchNorm2d(outplanes));
  }
  forward(x: Tensor): Tensor {
    // AvgPool2d(1) is the identity: the reference builds it even for stride 1.
    const p = this.stride > 1 ? F.avgPool2d(x, this.stride) : x;
    return this.bn.forward(this.conv.forward(p));
  }
}

/** Anti-aliased Bottleneck: all convs stride 1, an AvgPool2d(stride) after conv2 when stride > 1. */
export class Bottleneck extends nn.Module {
  static readonly expansion = 4;
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly conv3: nn.Conv2d;
  readonly bn3: nn.BatchNorm2d;
  readonly downsample: Downsample | null;

  constructor(
    inplanes: number,
    planes: number,
    readonly stride = 1,
  ) {
    super();
    const out = planes * Bottleneck.expansion;
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inplanes, planes, 1, { bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(planes, planes, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', new nn.Conv2d(planes, out, 1, { bias: false }));
    this.bn3 = this.registerModule('bn3', new nn.BatchNorm2d(out));
    this.downsample = stride > 1 || inplanes !== out ? this.registerModule('downsample', new Downsample(inplanes, out, stride)) : null;
  }

  forward(x: Tensor): Tensor {
    let out = F.relu(this.bn1.forward(this.conv1.forward(x)));
    out = F.relu(this.bn2.forward(this.conv2.forward(out)));
    if (this.stride > 1) out = F.avgPool2d(out, this.stride);
    out = this.bn3.forward(this.conv3.forward(out));
    const identity = this.downsample ? this.downsample.forward(x) : x;
    return F.relu(out.add(identity));
  }
}

/** nn.Sequential of Bottlenecks ("0", "1", ...). */
class ResLayer extends nn.Module {
  readonly blocks: Bottleneck[] = [];
  constructor(blocks: Bottleneck[]) {
    super();
    blocks.forEach((b, i) => this.blocks.push(this.registerModule(String(i), b)));
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const b of this.blocks) y = b.forward(y);
    return y;
  }
}

/**
 * Multi-head attention with separate q/k/v weights, as F.multi_head_attention_forward with
 * use_separate_proj_weight=True, no dropout. x: [L, B, E] -> [L, B, out].
 */
function separateProjAttention(x: Tensor, q: nn.Linear, k: nn.Linear, v: nn.Linear, o: nn.Linear, heads: number): Tensor {
  const [L, B, E] = x.shape as [number, number, number];
  const D = E / heads;
  const split = (t: Tensor): Tensor =>
    t
      .contiguous()
      .view(L, B * heads, D)
      .transpose(0, 1); // [B*H, L, D]
  const qh = split(q.forward(x)).mul(1 / Math.sqrt(D));
  const kh = split(k.forward(x));
  const vh = split(v.forward(x));
  const attn = qh.bmm(kh.transpose(1, 2)).softmax(-1);
  const out = attn
    .bmm(vh)
    .transpose(0, 1)
    .contiguous()
    .view(L * B, E);
  const y = o.forward(out);
  return y.view(L, B, y.size(-1));
}

/**
 * CRIS's AttentionPool2d: unlike OpenAI's it keeps every grid position (no mean token) and adds
 * a residual 1x1 conv + BN (`connect`). The positional embedding's first row (OpenAI's
 * mean-token slot) is dropped; the remaining spacialDim x spacialDim grid is resized to the
 * feature grid with bicubic interpolation, align_corners=False (reference `resize_pos_embed`).
 * Output: relu(attention(x + pos) + connect(x)), [B, outputDim, H, W].
 */
export class AttentionPool2d extends nn.Module {
  readonly positional_embedding: Tensor;
  readonly k_proj: nn.Linear;
  readonly q_proj: nn.Linear;
  readonly v_proj: nn.Linear;
  readonly c_proj: nn.Linear;
  readonly connect: nn.Sequential;

  constructor(
    readonly spacialDim: number,
    readonly embedDim: number,
    readonly numHeads: number,
    readonly outputDim: number,
  ) {
    super();
    const pe = tidy(() => empty([spacialDim * spacialDim + 1, embedDim]).normal_(0, 1 / Math.sqrt(embedDim)));
    this.positional_embedding = this.registerParameter('positional_embedding', pe);
    this.k_proj = this.registerModule('k_proj', new nn.Linear(embedDim, embedDim));
    this.q_proj = this.registerModule('q_proj', new nn.Linear(embedDim, embedDim));
    this.v_proj = this.registerModule('v_proj', new nn.Linear(embedDim, embedDim));
    this.c_proj = this.registerModule('c_proj', new nn.Linear(embedDim, outputDim));
    this.connect = this.registerModule(
      'connect',
      new nn.Sequential(new nn.Conv2d(embedDim, outputDim, 1, { bias: false }), new nn.BatchNorm2d(outputDim)),
    );
  }

  /** The grid part of the positional embedding resized to [1, C, H*W]. */
  resizedPositionalEmbedding(h: number, w: number): Tensor {
    const s = this.spacialDim;
    const grid = this.positional_embedding
      .slice(0, -s * s)
      .reshape(1, s, s, this.embedDim)
      .permute(0, 3, 1, 2);
    // Interpolating to the same size is exact, as in PyTorch.
    const r = F.interpolate(grid, { size: [h, w], mode: 'bicubic', alignCorners: false });
    return r.flatten(2);
  }

  forward(x: Tensor): Tensor {
    const res = this.connect.forward(x);
    const [B, C, H, W] = x.shape as [number, number, number, number];
    const seq = x
      .view(B, C, H * W)
      .add(this.resizedPositionalEmbedding(H, W))
      .permute(2, 0, 1); // [HW, B, C]
    const y = separateProjAttention(seq, this.q_proj, this.k_proj, this.v_proj, this.c_proj, this.numHeads);
    return F.relu(y.permute(1, 2, 0).reshape(B, -1, H, W).add(res));
  }
}

/** The three multi-scale features CRIS uses: layer2, layer3 and the attention pool (on layer4). */
export interface VisualFeatures {
  /** layer2 output [B, 8w, S/8, S/8] (w = visionWidth). */
  c3: Tensor;
  /** layer3 output [B, 16w, S/16, S/16]. */
  c4: Tensor;
  /** attnpool(layer4) [B, embedDim, S/32, S/32]. */
  c5: Tensor;
}

export class ModifiedResNet extends nn.Module {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.BatchNorm2d;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.BatchNorm2d;
  readonly conv3: nn.Conv2d;
  readonly bn3: nn.BatchNorm2d;
  readonly layer1: ResLayer;
  readonly layer2: ResLayer;
  readonly layer3: ResLayer;
  readonly layer4: ResLayer;
  readonly attnpool: AttentionPool2d;

  constructor(
    layers: [number, number, number, number],
    readonly outputDim: number,
    heads: number,
    readonly inputResolution: number,
    width: number,
  ) {
    super();
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(3, width / 2, 3, { stride: 2, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(width / 2));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(width / 2, width / 2, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(width / 2));
    this.conv3 = this.registerModule('conv3', new nn.Conv2d(width / 2, width, 3, { padding: 1, bias: false }));
    this.bn3 = this.registerModule('bn3', new nn.BatchNorm2d(width));
    let inplanes = width;
    const make = (planes: number, blocks: number, stride: number): ResLayer => {
      const bs = [new Bottleneck(inplanes, planes, stride)];
      inplanes = planes * Bottleneck.expansion;
      for (let i = 1; i < blocks; i++) bs.push(new Bottleneck(inplanes, planes));
      return new ResLayer(bs);
    };
    this.layer1 = this.registerModule('layer1', make(width, layers[0], 1));
    this.layer2 = this.registerModule('layer2', make(width * 2, layers[1], 2));
    this.layer3 = this.registerModule('layer3', make(width * 4, layers[2], 2));
    this.layer4 = this.registerModule('layer4', make(width * 8, layers[3], 2));
    this.attnpool = this.registerModule('attnpool', new AttentionPool2d(Math.floor(inputResolution / 32), width * 32, heads, outputDim));
  }

  forward(x: Tensor): VisualFeatures {
    let y = x;
    for (const [conv, bn] of [
      [this.conv1, this.bn1],
      [this.conv2, this.bn2],
      [this.conv3, this.bn3],
    ] as const) {
      y = F.relu(bn.forward(conv.forward(y)));
    }
    y = F.avgPool2d(y, 2);
    y = this.layer1.forward(y);
    const c3 = this.layer2.forward(y);
    const c4 = this.layer3.forward(c3);
    const c5 = this.attnpool.forward(this.layer4.forward(c4));
    return { c3, c4, c5 };
  }
}

// ------------------------------------------------------------------ text transformer

class Mlp extends nn.Module {
  readonly c_fc: nn.Linear;
  readonly c_proj: nn.Linear;
  constructor(d: number) {
    super();
    this.c_fc = this.registerModule('c_fc', new nn.Linear(d, d * 4));
    // "gelu" (QuickGELU) has no parameters.
    this.c_proj = this.registerModule('c_proj', new nn.Linear(d * 4, d));
  }
  forward(x: Tensor): Tensor {
    return this.c_proj.forward(F.quickGelu(this.c_fc.forward(x)));
  }
}

/** Pre-LN block: x + attn(ln_1(x)); x + mlp(ln_2(x)). Works batch-first ([B, L, W]). */
export class ResidualAttentionBlock extends nn.Module {
  readonly attn: nn.MultiheadAttention;
  readonly ln_1: nn.LayerNorm;
  readonly mlp: Mlp;
  readonly ln_2: nn.LayerNorm;
  constructor(d: number, heads: number) {
    super();
    this.attn = this.registerModule('attn', new nn.MultiheadAttention(d, heads, { batchFirst: true }));
    this.ln_1 = this.registerModule('ln_1', new nn.LayerNorm(d));
    this.mlp = this.registerModule('mlp', new Mlp(d));
    this.ln_2 = this.registerModule('ln_2', new nn.LayerNorm(d));
  }
  forward(x: Tensor, masks: nn.AttentionMasks): Tensor {
    const h = this.ln_1.forward(x);
    const x1 = x.add(this.attn.forward(h, h, h, masks));
    return x1.add(this.mlp.forward(this.ln_2.forward(x1)));
  }
}

export class TextTransformer extends nn.Module {
  readonly resblocks: nn.ModuleList<ResidualAttentionBlock>;
  constructor(
    readonly width: number,
    readonly layers: number,
    heads: number,
  ) {
    super();
    this.resblocks = this.registerModule(
      'resblocks',
      new nn.ModuleList(Array.from({ length: layers }, () => new ResidualAttentionBlock(width, heads))),
    );
  }
}

/**
 * Called after text block `blockIndex` (0-based: 0 is the first block) with that block's output,
 * batch-first [B, L, width]; whatever it returns is the input of the next block (or of
 * ln_final after the last block). It fires after EVERY block, 0..layers-1.
 */
export type TextBlockCallback = (blockIndex: number, hidden: Tensor) => Tensor;

export interface TextFromEmbeddingsOptions {
  /**
   * [B, L] bool (or 0/1 integer), true/1 = padding. Used as key_padding_mask of every block,
   * together with the causal mask (both forbid attention; they are OR-ed).
   */
  padMask: Tensor;
  /** [B] int64: the position whose ln_final output is pooled into `state` (the EOS position). */
  eosIndex: Tensor;
  /** Per-block hook (see TextBlockCallback). */
  afterBlock?: TextBlockCallback;
}

export interface TextOutput {
  /** ln_final output for every position, [B, L, width] (CRIS's "word" features). */
  features: Tensor;
  /** features[b, eosIndex[b]] @ text_projection, [B, embedDim] (CRIS's "state"). */
  state: Tensor;
}

/**
 * OpenAI CLIP with CRIS's ModifiedResNet. Parameter names are OpenAI's: visual.*,
 * transformer.resblocks.N.*, token_embedding, positional_embedding, ln_final, text_projection,
 * logit_scale.
 */
export class ClipResNet extends nn.Module {
  readonly visual: ModifiedResNet;
  readonly transformer: TextTransformer;
  readonly token_embedding: nn.Embedding;
  readonly positional_embedding: Tensor;
  readonly ln_final: nn.LayerNorm;
  readonly text_projection: Tensor;
  readonly logit_scale: Tensor;

  constructor(readonly config: ClipResNetConfig) {
    super();
    const c = config;
    this.visual = this.registerModule(
      'visual',
      new ModifiedResNet(c.visionLayers, c.embedDim, c.visionHeads, c.imageResolution, c.visionWidth),
    );
    this.transformer = this.registerModule('transformer', new TextTransformer(c.transformerWidth, c.transformerLayers, c.transformerHeads));
    this.token_embedding = this.registerModule('token_embedding', new nn.Embedding(c.vocabSize, c.transformerWidth));
    noGrad(() => this.token_embedding.weight.normal_(0, 0.02));
    this.positional_embedding = this.registerParameter(
      'positional_embedding',
      tidy(() => empty([c.contextLength, c.transformerWidth]).normal_(0, 0.01)),
    );
    this.ln_final = this.registerModule('ln_final', new nn.LayerNorm(c.transformerWidth));
    this.text_projection = this.registerParameter(
      'text_projection',
      tidy(() => empty([c.transformerWidth, c.embedDim]).normal_(0, 1 / Math.sqrt(c.transformerWidth))),
    );
    this.logit_scale = this.registerParameter(
      'logit_scale',
      tidy(() => zeros([]).add_(Math.log(1 / 0.07))),
    );
  }

  /** The three CRIS image features (tidy'd). */
  encodeImage(pixels: Tensor): VisualFeatures {
    return tidy(() => this.visual.forward(pixels));
  }

  /** Token embeddings [B, L, width] (no positional embedding): what prompt learners edit. */
  embedTokens(inputIds: Tensor): Tensor {
    return this.token_embedding.forward(inputIds);
  }

  /**
   * The text transformer from caller-built input embeddings [B, L, width] (token embeddings,
   * with any prompt vectors already inserted; WITHOUT positional embeddings): adds
   * positional_embedding[:L], runs the blocks under the causal mask + opts.padMask (calling
   * opts.afterBlock after each), applies ln_final, pools at opts.eosIndex and projects.
   */
  encodeTextFromEmbeddings(inputEmbeds: Tensor, opts: TextFromEmbeddingsOptions): TextOutput {
    return tidy(() => {
      if (inputEmbeds.ndim !== 3 || inputEmbeds.size(2) !== this.config.transformerWidth) {
        throw new Error(
          `encodeTextFromEmbeddings: expected [B, L, ${this.config.transformerWidth}] embeddings, got [${inputEmbeds.shape.join(', ')}]`,
        );
      }
      const [B, L] = inputEmbeds.shape as [number, number];
      if (L > this.config.contextLength)
        throw new Error(`encodeTextFromEmbeddings: ${L} tokens exceed the context length ${this.config.contextLength}`);
      const pm = opts.padMask;
      if (pm.ndim !== 2 || pm.size(0) !== B || pm.size(1) !== L) {
        throw new Error(`encodeTextFromEmbeddings: padMask must be [${B}, ${L}], got [${pm.shape.join(', ')}]`);
      }
      if (opts.eosIndex.ndim !== 1 || opts.eosIndex.size(0) !== B) {
        throw new Error(`encodeTextFromEmbeddings: eosIndex must be [${B}], got [${opts.eosIndex.shape.join(', ')}]`);
      }
      const keyPaddingMask = pm.dtype === 'bool' ? pm : pm.ne(0);
      const dev = inputEmbeds.device;
      const pos = arange(L, undefined, 1, { device: dev });
      const causal = pos.unsqueeze(0).gt(pos.unsqueeze(1)); // [L, L], true above the diagonal = not allowed
      let x = inputEmbeds.add(this.positional_embedding.slice(0, 0, L));
      const blocks = this.transformer.resblocks.items;
      for (let i = 0; i < blocks.length; i++) {
        x = blocks[i]!.forward(x, { attnMask: causal, keyPaddingMask });
        if (opts.afterBlock) {
          const y = opts.afterBlock(i, x);
          if (!(y instanceof Tensor) || y.ndim !== 3 || y.size(0) !== B || y.size(1) !== L || y.size(2) !== x.size(2)) {
            throw new Error(`encodeTextFromEmbeddings: afterBlock(${i}) must return a [${B}, ${L}, ${x.size(2)}] tensor`);
          }
          x = y;
        }
      }
      const features = this.ln_final.forward(x);
      const idx = opts.eosIndex.device === dev ? opts.eosIndex : opts.eosIndex.to(dev);
      const pooled = features.index([arange(B, undefined, 1, { device: dev }), idx.long()]);
      return { features, state: pooled.matmul(this.text_projection) };
    });
  }

  /**
   * Plain CLIP text encoding as the reference's `encode_text(text, key_padding_mask=...)`:
   * pooled at argmax(inputIds) (the EOS id 49407 is the largest; its first occurrence wins).
   */
  encodeText(inputIds: Tensor, padMask: Tensor): TextOutput {
    return tidy(() => this.encodeTextFromEmbeddings(this.embedTokens(inputIds), { padMask, eosIndex: inputIds.argmax(-1) }));
  }
}
