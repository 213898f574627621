/** Both KV cache implementations: append, accepted-path compaction and rollback, checked row by row. */
import * as assert from 'node:assert/strict';
import { CpuKvCache, DeviceKvCache, type CacheLayout } from '../../src/core/kvcache';
import { kvCacheCases, layout, presents, ROW } from '../support/kvCacheCases';

for (const [name, make] of [
  ['CPU (preallocated, views)', async () => new CpuKvCache(layout)],
  ['device-resident (update graph, here on the CPU provider)', () => DeviceKvCache.create(layout, 'cpu')],
] as const) {
  kvCacheCases(name, make);
}

describe('KV cache growth (CPU)', () => {
  it('allocates as positions are used, growing by half, and keeps every row it grew past', async () => {
    const big: CacheLayout = { ...layout, capacity: 2000 };
    const cache = new CpuKvCache(big);
    assert.equal(cache.allocatedRows, 256, 'a long context is not preallocated');
    for (let block = 0; block < 6; block++) await cache.commit(presents(100, block + 1), Array.from({ length: 100 }, (_, i) => i));
    assert.equal(cache.length, 600);
    assert.equal(cache.allocatedRows, 896, '256, then 384, 576 and 896 (half again, in whole steps of 64 rows)');
    const data = cache.pastFeeds().pk!.data as Float32Array;
    for (const [row, want] of [[0, 1100], [99, 1199], [100, 2100], [599, 6199]] as const) assert.equal(data[row * ROW], want);
    await cache.truncate(10);
    await cache.commit(presents(1500, 9), Array.from({ length: 1500 }, (_, i) => i));
    assert.equal(cache.allocatedRows, 1510, 'a large commit takes what it needs');
    await cache.commit(presents(400, 10), Array.from({ length: 400 }, (_, i) => i));
    assert.equal(cache.allocatedRows, 2000, 'never past its capacity');
    assert.equal((cache.pastFeeds().pk!.data as Float32Array)[1509 * ROW], 10599, 'rows kept through the growth (block 9, its row 1499)');
    cache.dispose();
    assert.equal(cache.allocatedRows, 0);
  });
});

