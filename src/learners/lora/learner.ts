/**
 * LoRA (Hu et al., ICLR 2022) on CLIPSeg's frozen encoders, with HF peft's semantics
 * (peft/tuners/lora/layer.py `Linear`): for each targeted Linear W (bias b) of each targeted
 * encoder layer, `y = W x + b + (alpha / r) · B(A(dropout(x)))`, A = Linear(in, r, no bias) with
 * kaiming_uniform_(a = √5), B = Linear(r, out, no bias) with zeros, so training starts from the
 * base model exactly. In eval mode (predict, eval, export) the update is merged as peft's
 * `merge()` does, `W' = W + (alpha / r) · B·A`, and the layer runs `F.linear(x, W', b)`; the
 * export's tracer folds W' into one constant. The base weights are never modified.
 *
 * It acts through the encoders' `linear` hook (DESIGN.md): the encoders do not know it is there.
 * Tensor names mirror the base module they adapt: `context_learner.text_model.encoder.layers.{i}.
 * self_attn.q_proj.lora_A.weight` adapts `model.clip.text_model.encoder.layers.{i}.self_attn.q_proj`.
 */
import { type Tensor, F, nn, tidy } from '../../torch/index.js';
import type { EncoderLayerHooks, LinearSite } from '../../models/clip/layers.js';
import { parseOptions, requireEncoders } from '../base.js';
import type { ContextLearner, LearnerHost, ModelHooks, PromptPair } from '../types.js';
import { loraOptionsSchema, loraSites, type LoraSite } from './options.js';

/** One LoRA pair for a Linear(in, out): lora_A [r, in], lora_B [out, r]. */
export class LoraPair extends nn.Module {
  readonly lora_A: nn.Linear;
  readonly lora_B: nn.Linear;
  constructor(inFeatures: number, outFeatures: number, rank: number) {
    super();
    this.lora_A = this.registerModule('lora_A', new nn.Linear(inFeatures, rank, false));
    this.lora_B = this.registerModule('lora_B', new nn.Linear(rank, outFeatures, false));
    nn.init.kaimingUniform_(this.lora_A.weight, Math.sqrt(5));
    nn.init.zeros_(this.lora_B.weight);
  }

  /** B·A [out, in]. */
  delta(): Tensor {
    return this.lora_B.weight.matmul(this.lora_A.weight);
  }
}

const SUBLAYER: Record<LoraSite, 'self_attn' | 'mlp'> = {
  q_proj: 'self_attn',
  k_proj: 'self_attn',
  v_proj: 'self_attn',
  out_proj: 'self_attn',
  fc1: 'mlp',
  fc2: 'mlp',
};

export class LoraLearner extends nn.Module implements ContextLearner {
  readonly name = 'lora' as const;
  readonly depth = 0;
  readonly numContext = 0;
  readonly usesText = false;
  readonly usesVision = false;
  readonly needsImageFeatures = false;
  readonly options: ReturnType<typeof loraOptionsSchema.parse>;
  /** alpha / rank. */
  readonly scaling: number;
  readonly hooks: ModelHooks;
  /** tower -> layer -> site -> pair */
  readonly #pairs = new Map<'text' | 'vision', Map<LoraSite, LoraPair>[]>();

  constructor(options: Record<string, unknown>, host: LearnerHost) {
    super();
    const o = parseOptions(loraOptionsSchema, 'lora', options);
    const enc = requireEncoders(host, 'lora');
    this.options = o;
    this.scaling = o.alpha / o.rank;
    const sites = loraSites(o.targetModules);
    const shapes = (dim: number, inter: number): Record<LoraSite, [number, number]> => ({
      q_proj: [dim, dim],
      k_proj: [dim, dim],
      v_proj: [dim, dim],
      out_proj: [dim, dim],
      fc1: [dim, inter],
      fc2: [inter, dim],
    });
    const towers = [
      { tower: 'vision' as const, layers: enc.visionLayersRun, shape: shapes(host.visionDim!, enc.visionIntermediate) },
      { tower: 'text' as const, layers: enc.textLayers, shape: shapes(host.textDim, enc.textIntermediate) },
    ].filter((t) => o.towers.includes(t.tower));
    const hooks: ModelHooks = {};
    for (const t of towers) {
      const encoder = this.registerModule(`${t.tower}_model`, new nn.Module()).registerModule('encoder', new nn.Module());
      const layers = encoder.registerModule('layers', new nn.ModuleList());
      const perLayer: Map<LoraSite, LoraPair>[] = [];
      for (let i = 0; i < t.layers; i++) {
        const layer = new nn.Module();
        const sub = { self_attn: new nn.Module(), mlp: new nn.Module() };
        const pairs = new Map<LoraSite, LoraPair>();
        for (const s of sites) {
          const [inF, outF] = t.shape[s];
          pairs.set(s, sub[SUBLAYER[s]].registerModule(s, new LoraPair(inF, outF, o.rank)));
        }
        for (const k of ['self_attn', 'mlp'] as const) if (sub[k]._modules.size > 0) layer.registerModule(k, sub[k]);
        layers.push(layer);
        perLayer.push(pairs);
      }
      this.#pairs.set(t.tower, perLayer);
      hooks[t.tower] = this.linearHook(t.tower);
    }
    this.hooks = hooks;
  }

  /** The LoRA pair of `tower` layer `layer` at `site`, if targeted. */
  pair(tower: 'text' | 'vision', layer: number, site: LinearSite): LoraPair | undefined {
    return this.#pairs.get(tower)?.[layer]?.get(site);
  }

  /** peft's merged weight W + (alpha / r)·B·A of a targeted Linear (the base's own weight stays as it is). */
  mergedWeight(base: nn.Linear, pair: LoraPair): Tensor {
    return tidy(() => base.weight.add(pair.delta().mul(this.scaling)));
  }

  /** Training: W x + b + s·B(A(dropout x)) (peft's unmerged forward); eval: F.linear(x, W + s·B·A, b) (merged). */
  private linearHook(tower: 'text' | 'vision'): EncoderLayerHooks {
    return {
      linear: (layer, site, x, base) => {
        const p = this.pair(tower, layer, site);
        if (!p) return base.forward(x);
        return tidy(() => {
          if (!this.training) return F.linear(x, this.mergedWeight(base, p), base.bias);
          const update = p.lora_B.forward(p.lora_A.forward(F.dropout(x, this.options.dropout, true)));
          return base.forward(x).add(update.mul(this.scaling));
        });
      },
    };
  }

  prompts(): PromptPair {
    return {};
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}
