/**
 * The KV cache cases both tiers run: append, accepted-path compaction, rollback and overflow, checked row
 * by row. The engine tier runs them on the CPU provider, the WebGPU tier on a WebGPU adapter.
 */
import * as assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { CacheLayout, KvCache } from '../../src/core/kvcache';
import { ElemType, model, node, valueInfo } from '../../src/core/onnxGraph';

export const layout: CacheLayout = { pastNames: ['pk', 'pv'], presentNames: ['nk', 'nv'], heads: 2, headDim: 3, capacity: 16 };
export const ROW = layout.heads * layout.headDim;

/** Present outputs of T rows whose values encode (tensor, row): easy to trace after compaction. */
export function presents(t: number, tag: number): Record<string, ort.Tensor> {
  const make = (which: number) => new ort.Tensor('float32', Float32Array.from({ length: t * ROW }, (_, i) => tag * 1000 + which * 100 + Math.floor(i / ROW)), [1, t, layout.heads, layout.headDim]);
  return { nk: make(1), nv: make(2) };
}

let copier: Promise<ort.InferenceSession> | undefined;

/**
 * Copies a WebGPU tensor to host memory through an Identity graph on the WebGPU provider: onnxruntime-node
 * 1.30 aborts the process on `getData()` of a gpu-buffer tensor, and a session's outputs come to the host.
 */
async function download(t: ort.Tensor): Promise<Float32Array> {
  copier ??= ort.InferenceSession.create(
    model({ name: 'copy', nodes: [node('Identity', ['x'], ['y'], 'copy')], inputs: [valueInfo('x', ElemType.float, [1, 'P', layout.heads, layout.headDim])], outputs: [valueInfo('y', ElemType.float, [1, 'P', layout.heads, layout.headDim])] }),
    { executionProviders: ['webgpu'] },
  );
  const out = await (await copier).run({ x: t });
  return out.y!.data as Float32Array;
}

export async function rows(cache: KvCache): Promise<number[][]> {
  const feeds = cache.pastFeeds();
  const read = async (t: ort.Tensor) => (t.location === 'gpu-buffer' ? download(t) : (t.data as Float32Array));
  const out: number[][] = [];
  for (const name of layout.pastNames) {
    const data = await read(feeds[name]!);
    assert.deepEqual(feeds[name]!.dims, [1, cache.length, layout.heads, layout.headDim]);
    out.push(Array.from({ length: cache.length }, (_, r) => data[r * ROW]!));
  }
  return out;
}


/** Defines the cache cases for caches made by `make`. */
export function kvCacheCases(name: string, make: () => Promise<KvCache>): void {
  describe(`KV cache: ${name}`, () => {
    let cache: KvCache;
    beforeEach(async () => (cache = await make()));
    afterEach(() => cache.dispose());

    it('starts empty and appends whole blocks', async () => {
      assert.deepEqual(await rows(cache), [[], []]);
      await cache.commit(presents(3, 1), [0, 1, 2]);
      assert.deepEqual(await rows(cache), [[1100, 1101, 1102], [1200, 1201, 1202]]);
    });

    it('keeps only the accepted path of a tree, in path order', async () => {
      await cache.commit(presents(2, 1), [0, 1]);
      await cache.commit(presents(6, 2), [0, 2, 5]);
      assert.deepEqual(await rows(cache), [[1100, 1101, 2100, 2102, 2105], [1200, 1201, 2200, 2202, 2205]]);
    });

    it('rolls back by length and appends after the cut', async () => {
      await cache.commit(presents(5, 1), [0, 1, 2, 3, 4]);
      await cache.truncate(2);
      assert.equal(cache.length, 2);
      await cache.commit(presents(1, 3), [0]);
      assert.deepEqual(await rows(cache), [[1100, 1101, 3100], [1200, 1201, 3200]]);
      await cache.truncate(10);
      assert.equal(cache.length, 3, 'truncating past the end changes nothing');
    });

    it('refuses to overflow its capacity', async () => {
      await assert.rejects(cache.commit(presents(17, 1), Array.from({ length: 17 }, (_, i) => i)), /KV cache full/);
    });
  });
}
