/**
 * CLIP text transformer (HF transformers 4.38.2 `CLIPTextTransformer` / `CLIPSegTextTransformer`):
 * token + position embeddings, causal + padding masked pre-LN encoder, final_layer_norm, EOS pooling.
 * Parameter names: embeddings.token_embedding.weight, embeddings.position_embedding.weight,
 * encoder.layers.N.*, final_layer_norm.*.
 *
 * The plain HF forward (`forward(inputIds, attentionMask)`) is `forwardEmbeds` on the token
 * embeddings with HF's mask and pooling index; context learners call `forwardEmbeds` with the
 * embeddings, mask and pooling index they built (prompts after BOS) and a per-layer hook.
 */
import { Tensor, arange, nn, tensor, tidy } from '../../torch/index.js';
import type { CLIPTextConfig } from './config.js';
import { CLIPEncoder, textAttentionBias, type EncoderLayerHooks, type LayerHook } from './layers.js';

export class CLIPTextEmbeddings extends nn.Module {
  readonly token_embedding: nn.Embedding;
  readonly position_embedding: nn.Embedding;
  constructor(readonly config: CLIPTextConfig) {
    super();
    this.token_embedding = this.registerModule('token_embedding', new nn.Embedding(config.vocabSize, config.hiddenSize));
    this.position_embedding = this.registerModule('position_embedding', new nn.Embedding(config.maxPositionEmbeddings, config.hiddenSize));
  }

  /** inputsEmbeds [B, L, D] + position_embedding(positionIds) (default positions 0..L-1). */
  forward(inputsEmbeds: Tensor, positionIds: Tensor | null = null): Tensor {
    const L = inputsEmbeds.size(1);
    const max = this.config.maxPositionEmbeddings;
    if (L > max) throw new Error(`CLIP text: sequence length ${L} exceeds max_position_embeddings ${max}`);
    return tidy(() => {
      const pos = positionIds ? this.position_embedding.forward(positionIds) : this.position_embedding.weight.narrow(0, 0, L);
      return inputsEmbeds.add(pos);
    });
  }
}

export interface TextEmbedsOptions {
  /** [B, L], 1 = token, 0 = padding (any dtype); null/absent = no padding mask. */
  attentionMask?: Tensor | null;
  /** Row index per batch element of the token to pool ([B] int64 tensor or numbers); absent = no pooled output. */
  poolIndex?: Tensor | number[] | null;
  /** Position ids [L] or [B, L] (default 0..L-1). */
  positionIds?: Tensor | null;
  /** Causal mask (default true, as CLIP). */
  causal?: boolean;
  /** Called after each encoder layer; see LayerHook. */
  afterLayer?: LayerHook | null;
  /** Hook points inside each encoder layer (adapters, LoRA); see EncoderLayerHooks. */
  hooks?: EncoderLayerHooks | null;
  /** Return the encoder's hidden states (default false). */
  outputHiddenStates?: boolean;
}

export interface CLIPTextOutput {
  /** final_layer_norm(encoder output) [B, L, D]. */
  lastHiddenState: Tensor;
  /** lastHiddenState at poolIndex [B, D] (null when no poolIndex was given). */
  pooledOutput: Tensor | null;
  /** Encoder input and per-layer outputs (before final_layer_norm), when asked. */
  hiddenStates: Tensor[] | null;
}

export class CLIPTextTransformer extends nn.Module {
  readonly embeddings: CLIPTextEmbeddings;
  readonly encoder: CLIPEncoder;
  readonly final_layer_norm: nn.LayerNorm;

  constructor(readonly config: CLIPTextConfig) {
    super();
    this.embeddings = this.registerModule('embeddings', new CLIPTextEmbeddings(config));
    this.encoder = this.registerModule('encoder', new CLIPEncoder(config));
    this.final_layer_norm = this.registerModule('final_layer_norm', new nn.LayerNorm(config.hiddenSize, config.layerNormEps));
  }

  /** token_embedding(inputIds): [B, L] int64 -> [B, L, D] (no positions). */
  embedTokens(inputIds: Tensor): Tensor {
    return this.embeddings.token_embedding.forward(inputIds);
  }

  /**
   * HF's EOS pooling index per row, [B] int64: `argmax(input_ids)` when eos_token_id == 2
   * (legacy configs such as CIDAS/clipseg-*), otherwise the first index of eos_token_id.
   */
  eosPoolIndex(inputIds: Tensor): Tensor {
    return tidy(() => (this.config.eosTokenId === 2 ? inputIds.argmax(-1) : inputIds.eq(this.config.eosTokenId).to('int32').argmax(-1)));
  }

  /** The HF forward: ids [B, L] (+ mask [B, L]) -> states, pooled output at HF's EOS index. */
  forward(
    inputIds: Tensor,
    attentionMask: Tensor | null = null,
    o: Pick<TextEmbedsOptions, 'afterLayer' | 'hooks' | 'outputHiddenStates' | 'positionIds'> = {},
  ): CLIPTextOutput {
    if (inputIds.ndim !== 2) throw new Error(`CLIP text: input_ids must be [B, L], got [${inputIds.shape.join(', ')}]`);
    return tidy(() =>
      this.forwardEmbeds(this.embedTokens(inputIds), {
        ...o,
        attentionMask,
        poolIndex: this.eosPoolIndex(inputIds),
      }),
    );
  }

  /**
   * The encoder from token-level input embeddings [B, L, D] that the caller built (e.g.
   * `[BOS, ctx_1..ctx_n, words..., last]`): position embeddings are added here, then the
   * causal + padding masked encoder (with `afterLayer` after each layer), final_layer_norm,
   * and pooling at `poolIndex`.
   */
  forwardEmbeds(inputsEmbeds: Tensor, o: TextEmbedsOptions = {}): CLIPTextOutput {
    if (inputsEmbeds.ndim !== 3 || inputsEmbeds.size(2) !== this.config.hiddenSize) {
      throw new Error(`CLIP text: inputs_embeds must be [B, L, ${this.config.hiddenSize}], got [${inputsEmbeds.shape.join(', ')}]`);
    }
    const [B, L] = [inputsEmbeds.size(0), inputsEmbeds.size(1)];
    if (o.attentionMask && (o.attentionMask.size(0) !== B || o.attentionMask.size(1) !== L)) {
      throw new Error(`CLIP text: attention mask [${o.attentionMask.shape.join(', ')}] does not match inputs [${B}, ${L}]`);
    }
    return tidy(() => {
      const h0 = this.embeddings.forward(inputsEmbeds, o.positionIds ?? null);
      const bias = textAttentionBias(o.attentionMask ?? null, L, o.causal ?? true, inputsEmbeds.device);
      const enc = this.encoder.forward(h0, {
        attentionBias: bias,
        afterLayer: o.afterLayer ?? null,
        hooks: o.hooks ?? null,
        outputHiddenStates: o.outputHiddenStates ?? false,
      });
      const last = this.final_layer_norm.forward(enc.lastHiddenState);
      let pooled: Tensor | null = null;
      if (o.poolIndex !== undefined && o.poolIndex !== null) {
        const idx = o.poolIndex instanceof Tensor ? o.poolIndex.to('int64') : tensor(o.poolIndex, { dtype: 'int64', device: last.device });
        if (idx.ndim !== 1 || idx.size(0) !== B)
          throw new Error(`CLIP text: poolIndex must have ${B} entries, got [${idx.shape.join(', ')}]`);
        pooled = last.index([arange(B, undefined, 1, { device: last.device }), idx]);
      }
      return { lastHiddenState: last, pooledOutput: pooled, hiddenStates: enc.hiddenStates };
    });
  }
}
