/**
 * The draft's model call, and what the model calls share (cache creation, int64 feeds, device outputs):
 * `DraftRunner.propose` appends newly verified hidden states to the draft's context cache and runs one
 * draft chain, returning candidate tokens per step. The target's call is target.ts.
 */
import type { Tensor } from 'onnxruntime-node';
import { CpuKvCache, DeviceKvCache, type CacheLayout, type KvCache } from './kvcache';
import type { LoadedModel } from './model';
import type { ProviderName } from './gpu/types';
import { loadOrt, type Session } from './session';

export function int64(values: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = BigInt(values[i]!);
  return out;
}

/** 'auto' keeps the cache where its graph runs: on a WebGPU device, or in host memory. */
export type CacheKind = 'auto' | 'host' | 'device';

/** A cache for a graph that runs on `on` (the target's provider unless said otherwise). */
export async function createCache(model: LoadedModel, layout: CacheLayout, kind: CacheKind = 'auto', on: ProviderName = model.device.kind): Promise<KvCache> {
  const onDevice = kind === 'device' || (kind === 'auto' && on === 'webgpu');
  return onDevice ? DeviceKvCache.create(layout, on === 'webgpu' ? 'webgpu' : 'cpu') : new CpuKvCache(layout);
}

export interface DraftProposal {
  /** [steps * topK] candidate ids, best first within each step. */
  tokens: Int32Array;
  /** [steps * topK] the draft's log-probabilities of those candidates. */
  logprobs: Float32Array;
  steps: number;
  topK: number;
}

/**
 * Context positions a windowed draft attends to: its training windows were 256 tokens, so older positions
 * cost time without helping its guesses.
 */
export const DRAFT_WINDOW = 256;

export class DraftRunner {
  /** Whether the graph takes a window of the context (`position_offset`) or the whole of it. */
  private readonly windowed: boolean;
  /** Cache rows before this position may be unset (skipped), so no window reaches below it. */
  private validFrom = 0;

  /**
   * `maxRows`: the most hidden-state rows one call may take, where the device computes larger blocks
   * wrongly (LoadedModel.maxBlockRows); a longer backlog is fed in pieces, which the draft's causal context
   * layer computes the same as one block.
   */
  constructor(
    private readonly session: Session,
    readonly cache: KvCache,
    private readonly width: number,
    private readonly maxRows = Infinity,
  ) {
    this.windowed = session.inputNames.includes('position_offset');
  }

  /**
   * The runner for `model`'s draft, its context cache where the draft runs. Only a draft on the target's
   * GPU inherits that device's block cap; on the CPU any block is sound.
   */
  static async open(model: LoadedModel, capacity: number, kind: CacheKind = 'auto'): Promise<DraftRunner> {
    const cache = await createCache(model, DraftRunner.layout(model, capacity), kind, model.draftDevice);
    const maxRows = model.draftDevice === 'cpu' ? Infinity : (model.maxBlockRows ?? Infinity);
    return new DraftRunner(model.draft!, cache, model.manifest.model.d_model, maxRows);
  }

  static layout(model: LoadedModel, capacity: number): CacheLayout {
    const d = model.manifest.draft!;
    return {
      pastNames: ['past_context.key', 'past_context.value'],
      presentNames: ['present_context.key', 'present_context.value'],
      heads: d.n_heads,
      headDim: d.head_dim,
      capacity,
    };
  }

  /**
   * `hidden` holds the target's hidden states of the positions verified since the last call (at least
   * one: the anchor is the last of them); `trigram` is the last two verified tokens and the root.
   */
  async propose(allHidden: Float32Array, trigram: readonly [number, number, number]): Promise<DraftProposal> {
    let hidden = this.skipUnseen(allHidden);
    const piece = this.maxRows * this.width;
    // Earlier pieces only extend the context cache; their proposals are not the last position's.
    for (; hidden.length > piece; hidden = hidden.subarray(piece)) await this.run(hidden.subarray(0, piece), trigram);
    return this.run(hidden, trigram);
  }

  private async run(hidden: Float32Array, trigram: readonly [number, number, number]): Promise<DraftProposal> {
    const ort = loadOrt();
    const n = hidden.length / this.width;
    const feeds: Record<string, Tensor> = {
      hidden_states: new ort.Tensor('float32', hidden, [1, n, this.width]),
      tokens: new ort.Tensor('int64', int64(trigram), [1, 3]),
    };
    if (this.windowed) {
      const window = this.cache.window(Math.max(0, Math.min(DRAFT_WINDOW, this.cache.length - this.validFrom)));
      Object.assign(feeds, window.feeds, { position_offset: new ort.Tensor('int64', BigInt64Array.from([BigInt(window.offset)]), [1]) });
    } else {
      Object.assign(feeds, this.cache.pastFeeds());
    }
    const outputs = await this.session.run(feeds);
    await this.cache.commit(outputs, Array.from({ length: n }, (_, i) => i));
    const raw = outputs.draft_tokens!;
    const [, steps, topK] = raw.dims as number[];
    const ids = raw.data as BigInt64Array;
    const tokens = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) tokens[i] = Number(ids[i]);
    const logprobs = Float32Array.from(outputs.draft_logprobs!.data as Float32Array);
    disposeDeviceOutputs(outputs);
    return { tokens, logprobs, steps: steps!, topK: topK! };
  }

  /** Follows the cache's rollback: rows from `length` on are gone, and no window reaches stale rows. */
  async truncate(length: number): Promise<void> {
    await this.cache.truncate(length);
    if (this.validFrom > this.cache.length) this.validFrom = this.cache.length;
  }

  /**
   * A windowed draft never attends further back than its window, so of a long backlog (the whole prompt
   * on a request's first call, or a long stretch the draft sat out) only the last window's rows are
   * computed; the rest are skipped in the cache and kept out of later windows.
   */
  private skipUnseen(hidden: Float32Array): Float32Array {
    const rows = hidden.length / this.width;
    if (!this.windowed || rows <= DRAFT_WINDOW) return hidden;
    const skipped = rows - DRAFT_WINDOW;
    if (!this.cache.skip(skipped)) return hidden;
    this.validFrom = this.cache.length;
    return hidden.subarray(skipped * this.width);
  }
}

/** GPU-resident outputs must be freed explicitly once their rows are committed. */
export function disposeDeviceOutputs(outputs: Record<string, Tensor>): void {
  for (const t of Object.values(outputs)) if (t.location === 'gpu-buffer') t.dispose();
}
