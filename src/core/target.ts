/**
 * The target model behind one interface, whatever its graph's layout: a block of tokens (a prompt chunk,
 * one token, or a flattened tree) in, logits (and hidden states, where the graph has them) out, and the
 * rows to keep committed to the session's KV cache afterwards. The decoding loop, the cost profile and
 * `chimera verify` all go through it, so a new layout is one more implementation, not another loop.
 *
 * - NativeTarget: the Chimera package contract (sequence-major cache in, new rows out, additive bias
 *   that can carry a tree mask, last_hidden_state for the draft);
 * - StandardTarget (formats/standardTarget.ts): Optimum and onnxruntime-genai exports (head-major cache
 *   in, the whole cache out, causal mask only: chains, no hidden states).
 */
import type { Tensor } from 'onnxruntime-node';
import { HOST_LOOKUP_INPUT, type HostEmbeddings } from './embeddings';
import type { CacheLayout, KvCache } from './kvcache';
import type { LoadedModel } from './model';
import { StandardTarget } from './formats/standardTarget';
import { createCache, disposeDeviceOutputs, int64, type CacheKind } from './runner';
import { loadOrt, type Session } from './session';
import { isChain, type TreeShape } from './tree';

export interface TargetStep {
  /** [keep * V] logits of the last `keep` tokens. */
  logits: Float32Array;
  /** [T * D] last hidden states of every token; null when the graph does not output them. */
  hidden: Float32Array | null;
  /** Appends the rows of these tokens (indices into the block, in order) to the cache and frees the step. */
  commit(keep: readonly number[]): Promise<void>;
  /** Frees the step without keeping any of its rows. */
  release(): void;
}

export interface TargetModel {
  readonly vocab: number;
  readonly width: number;
  /** Cached positions, and the most there may be. */
  readonly length: number;
  readonly capacity: number;
  /** Whether forward() takes a tree; a graph with only a causal mask verifies chains (each node's parent is the one before). */
  readonly trees: boolean;
  /** Runs `tokens` after the cached positions: causal without `tree`; with it, node i sees its ancestors. */
  forward(tokens: readonly number[], keep: number, tree?: TreeShape): Promise<TargetStep>;
  truncate(length: number): Promise<void>;
  dispose(): void;
}

/** The session's target for a loaded model, with a cache of `capacity` positions. */
export async function createTarget(model: LoadedModel, capacity: number, kind: CacheKind = 'auto'): Promise<TargetModel> {
  const m = model.manifest.model;
  if (model.layout) return new StandardTarget(model.target, model.layout, { vocab: m.vocab_size, width: m.d_model, layers: m.n_layers, kvHeads: m.n_kv_heads, headDim: m.head_dim }, capacity);
  const cache = await createCache(model, NativeTarget.layout(model, capacity), kind);
  return new NativeTarget(model.target, cache, { vocab: model.manifest.model.vocab_size, width: model.manifest.model.d_model, trees: model.treesSound ?? true }, model.embeddings);
}

export class NativeTarget implements TargetModel {
  readonly vocab: number;
  readonly width: number;
  /** False where the provider was found to compute trees wrongly (LoadedModel.treesSound): chains only. */
  readonly trees: boolean;

  constructor(
    private readonly session: Session,
    private readonly cache: KvCache,
    dims: { vocab: number; width: number; trees?: boolean },
    /** Where the graph takes `inputs_embeds`, the package's rows read by the engine (embeddings.ts). */
    private readonly embeddings: HostEmbeddings | null = null,
  ) {
    this.vocab = dims.vocab;
    this.width = dims.width;
    this.trees = dims.trees ?? true;
  }

  static layout(model: LoadedModel, capacity: number): CacheLayout {
    const m = model.manifest.model;
    const pastNames: string[] = [];
    const presentNames: string[] = [];
    for (let i = 0; i < m.n_layers; i++) {
      for (const part of ['key', 'value']) {
        pastNames.push(`past_key_values.${i}.${part}`);
        presentNames.push(`present.${i}.${part}`);
      }
    }
    return { pastNames, presentNames, heads: m.n_kv_heads, headDim: m.head_dim, capacity };
  }

  get length(): number {
    return this.cache.length;
  }

  get capacity(): number {
    return this.cache.capacity;
  }

  async forward(tokens: readonly number[], keep: number, tree?: TreeShape): Promise<TargetStep> {
    if (tree && !this.trees && !isChain(tree)) throw new Error('this model verifies chains only on this device (its trees were found computed wrongly)');
    const ort = loadOrt();
    const t = tokens.length;
    const p = this.cache.length;
    const positions = new Array<number>(t);
    const bias = new Float32Array(t * (p + t));
    for (let i = 0; i < t; i++) {
      positions[i] = p + (tree ? tree.depths[i]! : i);
      const row = i * (p + t) + p;
      for (let j = 0; j < t; j++) {
        bias[row + j] = tree ? tree.mask[i * t + j]! : j <= i ? 0 : -Infinity;
      }
    }
    const feeds: Record<string, Tensor> = {
      input_ids: new ort.Tensor('int64', int64(tokens), [1, t]),
      position_ids: new ort.Tensor('int64', int64(positions), [1, t]),
      attention_bias: new ort.Tensor('float32', bias, [1, 1, t, p + t]),
      logits_to_keep: new ort.Tensor('int64', BigInt64Array.from([BigInt(keep)]), [1]),
      ...this.cache.pastFeeds(),
    };
    if (this.embeddings) feeds[HOST_LOOKUP_INPUT] = new ort.Tensor('float32', this.embeddings.lookup(tokens), [1, t, this.embeddings.width]);
    const outputs = await this.session.run(feeds);
    return {
      logits: outputs.logits!.data as Float32Array,
      hidden: outputs.last_hidden_state!.data as Float32Array,
      commit: async (rows) => {
        await this.cache.commit(outputs, rows);
        disposeDeviceOutputs(outputs);
      },
      release: () => disposeDeviceOutputs(outputs),
    };
  }

  truncate(length: number): Promise<void> {
    return this.cache.truncate(length);
  }

  dispose(): void {
    this.cache.dispose();
  }
}

/**
 * Tokens per prefill chunk: as many as keep one chunk's activations near those of 64 tokens of a
 * 1024-wide model, between 64 and 256. A chunk's activations are the peak of a prompt's memory: a 0.5B
 * model (896 wide) peaked 37 MB lower in 128-token chunks than in 256, and another 12-22 MB lower in 64
 * (its prompts about 7% slower, still twice llama.cpp's Q8_0 speed), while the bundled 256-wide model,
 * whose calls are short, was about 10% faster in 256-token chunks.
 */
export function prefillChunkFor(width: number): number {
  const tokens = (64 * 1024) / Math.max(1, width);
  return Math.min(256, Math.max(64, 2 ** Math.floor(Math.log2(tokens))));
}
