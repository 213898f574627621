/** Both KV cache implementations: append, accepted-path compaction and rollback, checked row by row. */
import * as assert from 'node:assert/strict';
import { CpuKvCache, DeviceKvCache, type CacheLayout } from '../../src/core/kvcache';
import { kvCacheCases, layout, presents, ROW } from '../support/kvCacheCases';

for (const [name, make] of [
  ['CPU (views; resizable buffers grown in place)', async () => new CpuKvCache(layout)],
  ['CPU (views; plain buffers grown by copies)', async () => new CpuKvCache(layout, false)],
  ['device-resident (update graph, here on the CPU provider)', () => DeviceKvCache.create(layout, 'cpu')],
] as const) {
  kvCacheCases(name, make);
}

describe('KV cache growth (CPU)', () => {
  const big: CacheLayout = { ...layout, capacity: 2000 };
  const rowsOf = (n: number) => Array.from({ length: n }, (_, i) => i);

  /** Commits blocks and checks the rows allocated after each, then that every row survived the growth. */
  async function grow(cache: CpuKvCache, expected: { afterSix: number; afterLarge: number; atCapacity: number }): Promise<void> {
    assert.equal(cache.allocatedRows, 256, 'a long context is not preallocated');
    for (let block = 0; block < 6; block++) await cache.commit(presents(100, block + 1), rowsOf(100));
    assert.equal(cache.length, 600);
    assert.equal(cache.allocatedRows, expected.afterSix);
    const data = cache.pastFeeds().pk!.data as Float32Array;
    for (const [row, want] of [[0, 1100], [99, 1199], [100, 2100], [599, 6199]] as const) assert.equal(data[row * ROW], want);
    await cache.truncate(10);
    await cache.commit(presents(1500, 9), rowsOf(1500));
    assert.equal(cache.allocatedRows, expected.afterLarge, 'a large commit takes what it needs');
    await cache.commit(presents(490, 10), rowsOf(490));
    assert.equal(cache.allocatedRows, expected.atCapacity, 'never past its capacity');
    const after = cache.pastFeeds().pk!.data as Float32Array;
    assert.equal(after[1509 * ROW], 10599, 'rows kept through the growth (block 9, its row 1499)');
    assert.equal(after[1999 * ROW], 10589, 'the last row (block 10, its row 489)');
    cache.dispose();
    assert.equal(cache.allocatedRows, 0);
  }

  it('grows a resizable buffer in place, in whole steps of 64 rows, to what is used', async function () {
    if (!(typeof (ArrayBuffer.prototype as { resize?: unknown }).resize === 'function')) this.skip();
    await grow(new CpuKvCache(big, true), { afterSix: 640, afterLarge: 1536, atCapacity: 2000 });
  });

  it('grows by copies where the capacity cannot be reserved as address space', async () => {
    const cache = new CpuKvCache({ ...layout, capacity: 2 ** 50 }, true); // beyond any ArrayBuffer's reach
    await cache.commit(presents(300, 1), rowsOf(300));
    assert.equal(cache.allocatedRows, 384, 'half again, as a plain buffer grows');
    assert.equal((cache.pastFeeds().pk!.data as Float32Array)[299 * ROW], 1399);
    cache.dispose();
  });

  it('grows a plain buffer by half (whole steps of 64 rows), copying the rows it keeps', async () => {
    await grow(new CpuKvCache(big, false), { afterSix: 896, afterLarge: 1536, atCapacity: 2000 });
  });
});
