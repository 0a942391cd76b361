/**
 * VLSM-Adapter's dense adapter on CLIPSeg (`CLIPSegDenseAdapter`, github.com/naamiinepal/
 * vlsm-adapter @ d5b5a5e src/models/clipseg_adapter.py). Inside encoder layer i (0-based) with
 * i < n = max(extract_layers), through the encoders' layer hooks (DESIGN.md):
 *   h = h + A_attn[i](self_attn(layer_norm1(h))),   h = h + A_out[i](mlp(layer_norm2(h)))
 * in the vision (v) and the text (l) encoder, and c: cond = cond_adapter(text_projection(pooled)),
 * bottleneck 256 whatever adapterDim says. Layers i >= n run unadapted, so the last extracted
 * layer (1-based max(E) + 1) has none although it feeds the decoder; the text side also counts n
 * from the *vision* extract layers. Parameter names are the reference wrapper's
 * (`v_attn_adapters.{i}`, `v_out_adapters.{i}`, `l_attn_adapters.{i}`, `l_out_adapters.{i}`, `cond_adapter`).
 * `quirks: fixed` adapts every layer that runs (vision: max(E) + 1 layers, text: all), drops the
 * ReLU after the up-projection and sizes the conditional adapter by adapterDim (docs/quirks.md).
 */
import { type Tensor, nn } from '../../torch/index.js';
import type { EncoderLayerHooks } from '../../models/clip/layers.js';
import { parseOptions, requireEncoders } from '../base.js';
import type { ContextLearner, LearnerHost, ModelHooks, PromptPair } from '../types.js';
import { REFERENCE_COND_ADAPTER_DIM, requireSomeAdapter, type AdapterOptions } from '../vlsm-adapter/common.js';
import { Adapter, adapterList } from '../vlsm-adapter/adapter.js';
import { denseAdapterOptionsSchema } from './options.js';

/** Hooks that pass layer i's sub-block outputs through attn[i] / out[i] while i has one. */
function blockHooks(attn: nn.ModuleList<Adapter>, out: nn.ModuleList<Adapter>): EncoderLayerHooks {
  return {
    attnOutput: (i: number, a: Tensor) => (i < attn.length ? attn.at(i).forward(a) : a),
    mlpOutput: (i: number, m: Tensor) => (i < out.length ? out.at(i).forward(m) : m),
  };
}

export class DenseAdapterLearner extends nn.Module implements ContextLearner {
  readonly name = 'dense_adapter' as const;
  readonly depth = 0;
  readonly numContext = 0;
  readonly usesText = false;
  readonly usesVision = false;
  readonly needsImageFeatures = false;
  readonly options: AdapterOptions;
  readonly v_attn_adapters: nn.ModuleList<Adapter> | null = null;
  readonly v_out_adapters: nn.ModuleList<Adapter> | null = null;
  readonly l_attn_adapters: nn.ModuleList<Adapter> | null = null;
  readonly l_out_adapters: nn.ModuleList<Adapter> | null = null;
  readonly cond_adapter: Adapter | null = null;
  readonly hooks: ModelHooks;

  constructor(options: Record<string, unknown>, host: LearnerHost) {
    super();
    const o = parseOptions(denseAdapterOptionsSchema, 'dense_adapter', options);
    requireSomeAdapter(o, 'dense_adapter');
    const enc = requireEncoders(host, 'dense_adapter');
    this.options = o;
    const reference = host.quirks === 'reference';
    // The reference: num_adapters = max(extract_layers) for both encoders; fixed: every layer that runs.
    const n = Math.max(...enc.extractLayers);
    const nv = reference ? n : enc.visionLayersRun;
    const nl = reference ? n : enc.textLayers;
    const list = (count: number, dim: number): nn.ModuleList<Adapter> => adapterList(count, dim, o.adapterDim, reference);
    if (o.adapterInV) {
      this.v_attn_adapters = this.registerModule('v_attn_adapters', list(nv, host.visionDim!));
      this.v_out_adapters = this.registerModule('v_out_adapters', list(nv, host.visionDim!));
    }
    if (o.adapterInL) {
      this.l_attn_adapters = this.registerModule('l_attn_adapters', list(nl, host.textDim));
      this.l_out_adapters = this.registerModule('l_out_adapters', list(nl, host.textDim));
    }
    if (o.adapterInCond) {
      this.cond_adapter = this.registerModule(
        'cond_adapter',
        new Adapter(enc.projectionDim, reference ? REFERENCE_COND_ADAPTER_DIM : o.adapterDim, reference),
      );
    }
    this.hooks = {
      ...(this.v_attn_adapters ? { vision: blockHooks(this.v_attn_adapters, this.v_out_adapters!) } : {}),
      ...(this.l_attn_adapters ? { text: blockHooks(this.l_attn_adapters, this.l_out_adapters!) } : {}),
      ...(this.cond_adapter ? { conditional: (c: Tensor) => this.cond_adapter!.forward(c) } : {}),
    };
  }

  prompts(): PromptPair {
    return {};
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}
