/** The device-resident KV cache on a real WebGPU adapter: the rows it keeps, read back from the device. */
import * as assert from 'node:assert/strict';
import { DeviceKvCache } from '../../src/core/kvcache';
import { kvCacheCases, layout, presents } from '../support/kvCacheCases';

kvCacheCases('device-resident on WebGPU (SwiftShader)', () => DeviceKvCache.create(layout, 'webgpu'));

describe('KV cache on WebGPU: where the rows live', () => {
  it('keeps its rows in GPU buffers, not in host memory', async () => {
    const cache = await DeviceKvCache.create(layout, 'webgpu');
    try {
      await cache.commit(presents(3, 1), [0, 2]);
      const locations = Object.values(cache.pastFeeds()).map((t) => t.location);
      assert.deepEqual(locations, ['gpu-buffer', 'gpu-buffer']);
    } finally {
      cache.dispose();
    }
  });
});
