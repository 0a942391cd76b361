/**
 * Shared Attention (TuneVLSeg): one unified prompt of width Dt + Dv per layer, passed through a
 * TransformerEncoderLayer per layer; the output's first Dt features are the text prompt, the
 * rest the vision prompt (computed once per forward pass for both sides).
 * Parameters: `context_vectors` [depth, n, Dt + Dv], `projection_layers.{i}.{self_attn.*, linear1.*,
 * linear2.*, norm1.*, norm2.*}` (PyTorch nn.TransformerEncoderLayer names).
 *
 * Quirk 10 (`quirks: 'reference'`): the reference calls the batch_first=False layer on
 * `ctx[i].unsqueeze(0)` ([1, n, D]), so the sequence has length 1 and the n tokens are the
 * batch: attention never mixes prompt tokens (softmax over a single key); the per-layer copies
 * start identical (deepcopy). `fixed`: the n tokens form the sequence (attention mixes them) and
 * each layer is initialised independently.
 */
import type { z } from 'zod';
import { nn, tidy } from '../../torch/index.js';
import { BaseLearner, openVisionPromptLearner, projectionList, randomVectors } from '../base.js';
import { LearnerConfigError, type LearnerHost, type PromptPair } from '../types.js';
import { sharedAttnOptionsSchema, type SharedAttnOptions } from './options.js';

export class SharedAttnLearner extends BaseLearner {
  readonly name = 'shared_attn' as const;
  readonly usesText = true;
  readonly usesVision = true;
  readonly options: z.output<typeof sharedAttnOptionsSchema>;
  readonly quirks: LearnerHost['quirks'];
  readonly textDim: number;
  readonly projection_layers: nn.ModuleList<nn.TransformerEncoderLayer>;

  constructor(options: SharedAttnOptions, host: LearnerHost) {
    const { o, dv } = openVisionPromptLearner(sharedAttnOptionsSchema, 'shared_attn', options, host);
    const d = host.textDim + dv;
    if (d % o.heads !== 0)
      throw new LearnerConfigError(
        `learner shared_attn: d_model ${d} (text ${host.textDim} + vision ${dv}) is not divisible by heads ${o.heads}`,
      );
    super(randomVectors([o.depth, o.numContext, d], o.vectorStd)); // [depth, n, Dt + Dv]
    this.options = o;
    this.quirks = host.quirks;
    this.textDim = host.textDim;
    const make = (): nn.TransformerEncoderLayer =>
      new nn.TransformerEncoderLayer(d, o.heads, {
        dimFeedforward: o.feedforward,
        dropout: o.dropout,
        activation: o.activation,
        layerNormEps: o.layerNormEps,
        normFirst: o.normFirst,
        batchFirst: false,
      });
    this.projection_layers = this.registerModule(
      'projection_layers',
      projectionList(o.depth, o.useUnifiedProjection, make, this.quirks === 'reference'),
    );
  }

  /** text: y[:, :Dt] [n, Dt]; vision: y[:, Dt:] [n, Dv], y = projection_layers[layer](ctx[layer]). */
  prompts(layer: number): PromptPair {
    const ctx = this.ctx(layer); // [n, Dt + Dv]
    return tidy(() => {
      const n = this.numContext;
      // reference: [1, n, D] read as (seq 1, batch n); fixed: [n, 1, D] = a sequence of n tokens.
      const x = this.quirks === 'reference' ? ctx.unsqueeze(0) : ctx.unsqueeze(1);
      const y = this.projection_layers.at(layer).forward(x).reshape(n, this.contextDim);
      return { text: y.narrow(1, 0, this.textDim), vision: y.narrow(1, this.textDim, this.contextDim - this.textDim) };
    });
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}
