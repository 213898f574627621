/**
 * Choosing the device with a software adapter present: `auto` never prefers it to the CPU provider, it
 * runs only when asked for, and a WebGPU failure falls back to the CPU with the reason kept.
 */
import * as assert from 'node:assert/strict';
import { DeviceError } from '../../src/core/errors';
import { loadModel } from '../../src/core/model';
import { makeClient } from '../support/engine';
import { fixtureDir, memoryLog } from '../support/models';

describe('WebGPU provider on SwiftShader: device choice', function () {
  this.timeout(120_000);

  it('auto keeps the CPU provider when the only adapter is software, and says why', async () => {
    const model = await loadModel(fixtureDir, { device: 'auto', allowSoftwareGpu: false, log: memoryLog().log, costs: 'default' });
    try {
      assert.equal(model.device.kind, 'cpu');
      const webgpu = model.device.attempts.find((a) => a.provider === 'webgpu');
      assert.equal(webgpu?.outcome, 'refused');
      assert.match(webgpu!.reason, /SwiftShader/);
      assert.match(webgpu!.reason, /CHIMERA_ALLOW_SOFTWARE_GPU/, 'the reason says how to allow it');
      assert.match(model.device.reason, /using the CPU/);
    } finally {
      await model.dispose();
    }
  });

  it('a GPU demanded with only a software adapter fails loudly instead of crawling', async () => {
    await assert.rejects(loadModel(fixtureDir, { device: 'gpu', allowSoftwareGpu: false, log: memoryLog().log, costs: 'default' }), (err: unknown) => err instanceof DeviceError && /no usable GPU/.test(err.message) && /software/.test(err.message));
  });

  it('a WebGPU failure falls back to the CPU, and the engine reports the reason', async () => {
    // A Vulkan driver manifest that does not exist: WebGPU is tried (software allowed) and finds no adapter.
    const { client } = makeClient({ modelPath: fixtureDir, device: 'auto', env: { VK_ICD_FILENAMES: '/nonexistent/vk_icd.json', VK_DRIVER_FILES: '/nonexistent/vk_icd.json', CHIMERA_ALLOW_SOFTWARE_GPU: '1' } });
    try {
      await client.start();
      const init = client.info!;
      assert.equal(init.device.kind, 'cpu');
      const webgpu = init.device.attempts?.find((a) => a.provider === 'webgpu');
      assert.equal(webgpu?.outcome, 'failed');
      assert.match(webgpu!.reason, /adapter/i);
      assert.match(init.device.reason, /webgpu: .*adapter.*using the CPU/i);
      const answer = await client.complete({ prefix: 'def add(a, b):\n    return', suffix: '', languageId: 'python', maxTokens: 4, temperature: 0 }).result;
      assert.ok(answer.stats.generatedTokens > 0, 'the CPU fallback answers');
    } finally {
      await client.stop();
    }
  });
});
