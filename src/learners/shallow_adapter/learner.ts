/**
 * VLSM-Adapter's shallow adapter on CLIPSeg (`CLIPSegShallowAdapter`, github.com/naamiinepal/
 * vlsm-adapter @ d5b5a5e src/models/clipseg_adapter.py). The frozen encoders run unchanged; the
 * adapters act between them and the decoder, through the segmenter's hooks (DESIGN.md):
 *  - v: decoder input j = vision_extract_adapters[j](vision hidden_states[E[j] + 1]) (every token);
 *  - c: cond = cond_adapter(text_projection(pooled)), bottleneck 256 whatever adapterDim says;
 *  - l: then cond += text_extract_adapters[j](text hidden_states[E[j] + 1] at argmax(input_ids)):
 *    the raw text state (no final LayerNorm, no projection) through an adapter with its residual,
 *    so the state itself is added (text width must equal projection_dim).
 * Parameter names are the reference wrapper's (`vision_extract_adapters.{j}.fc{1,2}.*`, ...).
 * `quirks: fixed` drops the ReLU after the up-projection and sizes the conditional adapter by
 * adapterDim (docs/quirks.md); the placement stays the code's.
 */
import { type Tensor, arange, nn, tidy } from '../../torch/index.js';
import { parseOptions, requireEncoders } from '../base.js';
import { LearnerConfigError, type ContextLearner, type LearnerHost, type ModelHooks, type PromptPair, type TextStates } from '../types.js';
import { REFERENCE_COND_ADAPTER_DIM, requireSomeAdapter, type AdapterOptions } from '../vlsm-adapter/common.js';
import { Adapter, adapterList } from '../vlsm-adapter/adapter.js';
import { shallowAdapterOptionsSchema } from './options.js';

export class ShallowAdapterLearner extends nn.Module implements ContextLearner {
  readonly name = 'shallow_adapter' as const;
  readonly depth = 0;
  readonly numContext = 0;
  readonly usesText = false;
  readonly usesVision = false;
  readonly needsImageFeatures = false;
  readonly options: AdapterOptions;
  readonly vision_extract_adapters: nn.ModuleList<Adapter> | null = null;
  readonly text_extract_adapters: nn.ModuleList<Adapter> | null = null;
  readonly cond_adapter: Adapter | null = null;
  readonly hooks: ModelHooks;
  readonly #extract: readonly number[];

  constructor(options: Record<string, unknown>, host: LearnerHost) {
    super();
    const o = parseOptions(shallowAdapterOptionsSchema, 'shallow_adapter', options);
    requireSomeAdapter(o, 'shallow_adapter');
    const enc = requireEncoders(host, 'shallow_adapter');
    const E = enc.extractLayers;
    if (o.adapterInL) {
      if (host.textDim !== enc.projectionDim) {
        throw new LearnerConfigError(
          `learner shallow_adapter: adapterInL adds the raw text state (width ${host.textDim}) to the conditional embedding ` +
            `(width ${enc.projectionDim}); they must be equal (set adapterInL: false for this model)`,
        );
      }
      if (enc.textLayers < Math.max(...E) + 1) {
        throw new LearnerConfigError(
          `learner shallow_adapter: adapterInL reads text layer ${Math.max(...E) + 1} (extract layers [${E.join(', ')}]), ` +
            `but the text encoder has ${enc.textLayers} layers`,
        );
      }
    }
    this.options = o;
    this.#extract = E;
    const reference = host.quirks === 'reference';
    if (o.adapterInV)
      this.vision_extract_adapters = this.registerModule(
        'vision_extract_adapters',
        adapterList(E.length, host.visionDim!, o.adapterDim, reference),
      );
    if (o.adapterInL)
      this.text_extract_adapters = this.registerModule(
        'text_extract_adapters',
        adapterList(E.length, host.textDim, o.adapterDim, reference),
      );
    if (o.adapterInCond) {
      this.cond_adapter = this.registerModule(
        'cond_adapter',
        new Adapter(enc.projectionDim, reference ? REFERENCE_COND_ADAPTER_DIM : o.adapterDim, reference),
      );
    }
    this.hooks = {
      ...(this.vision_extract_adapters
        ? { visionActivations: (acts: Tensor[]) => acts.map((a, j) => this.vision_extract_adapters!.at(j).forward(a)) }
        : {}),
      ...(o.adapterInL || o.adapterInCond ? { conditional: (c: Tensor, text: TextStates) => this.conditional(c, text) } : {}),
      readsTextHiddenStates: o.adapterInL,
    };
  }

  /** cond_adapter(c), then + text_extract_adapters[j](text state of layer E[j] + 1 at the EOS position). */
  private conditional(c: Tensor, text: TextStates): Tensor {
    return tidy(() => {
      let cond = this.cond_adapter ? this.cond_adapter.forward(c) : c;
      if (this.text_extract_adapters) {
        const states = text.hiddenStates;
        if (!states) throw new Error('shallow_adapter: the text encoder did not keep its hidden states');
        // The reference's EOS position: argmax(input_ids) (the end-of-text id is the vocabulary's largest).
        const rows = arange(text.inputIds.size(0), undefined, 1, { device: cond.device });
        const eos = text.inputIds.argmax(-1).to(cond.device);
        this.#extract.forEach((l, j) => {
          cond = cond.add(this.text_extract_adapters!.at(j).forward(states[l + 1]!.index([rows, eos])));
        });
      }
      return cond;
    });
  }

  prompts(): PromptPair {
    return {};
  }

  describe(): Record<string, unknown> {
    return { name: this.name, ...this.options };
  }
}
