/** Both KV cache implementations: append, accepted-path compaction and rollback, checked row by row. */
import * as assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { CpuKvCache, DeviceKvCache, type CacheLayout, type KvCache } from '../../src/core/kvcache';

const layout: CacheLayout = { pastNames: ['pk', 'pv'], presentNames: ['nk', 'nv'], heads: 2, headDim: 3, capacity: 16 };
const ROW = layout.heads * layout.headDim;

/** Present outputs of T rows whose values encode (tensor, row): easy to trace after compaction. */
function presents(t: number, tag: number): Record<string, ort.Tensor> {
  const make = (which: number) => new ort.Tensor('float32', Float32Array.from({ length: t * ROW }, (_, i) => tag * 1000 + which * 100 + Math.floor(i / ROW)), [1, t, layout.heads, layout.headDim]);
  return { nk: make(1), nv: make(2) };
}

async function rows(cache: KvCache): Promise<number[][]> {
  const feeds = cache.pastFeeds();
  const read = async (t: ort.Tensor) => (t.location === 'gpu-buffer' ? ((await t.getData()) as Float32Array) : (t.data as Float32Array));
  const out: number[][] = [];
  for (const name of layout.pastNames) {
    const data = await read(feeds[name]!);
    assert.deepEqual(feeds[name]!.dims, [1, cache.length, layout.heads, layout.headDim]);
    out.push(Array.from({ length: cache.length }, (_, r) => data[r * ROW]!));
  }
  return out;
}

for (const [name, make] of [
  ['CPU (preallocated, views)', async () => new CpuKvCache(layout)],
  ['device-resident (update graph, here on the CPU provider)', () => DeviceKvCache.create(layout, 'cpu')],
] as const) {
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

describe('KV cache growth (CPU)', () => {
  it('allocates as positions are used, doubling, and keeps every row it grew past', async () => {
    const big: CacheLayout = { ...layout, capacity: 2000 };
    const cache = new CpuKvCache(big);
    assert.equal(cache.allocatedRows, 256, 'a long context is not preallocated');
    for (let block = 0; block < 6; block++) await cache.commit(presents(100, block + 1), Array.from({ length: 100 }, (_, i) => i));
    assert.equal(cache.length, 600);
    assert.equal(cache.allocatedRows, 1024);
    const data = cache.pastFeeds().pk!.data as Float32Array;
    for (const [row, want] of [[0, 1100], [99, 1199], [100, 2100], [599, 6199]] as const) assert.equal(data[row * ROW], want);
    await cache.truncate(10);
    await cache.commit(presents(1500, 9), Array.from({ length: 1500 }, (_, i) => i));
    assert.equal(cache.allocatedRows, 2000, 'never past its capacity');
    cache.dispose();
    assert.equal(cache.allocatedRows, 0);
  });
});

