/**
 * Prefill chunks shrink as models widen, so one chunk's activations (a prompt's memory peak) stay about
 * the same size, within 64..256 tokens.
 */
import * as assert from 'node:assert/strict';
import { prefillChunkFor } from '../../src/core/target';

describe('prefill chunk size', () => {
  it('takes 256 tokens for narrow models and fewer, in powers of two, for wider ones', () => {
    assert.equal(prefillChunkFor(256), 256); // the bundled model
    assert.equal(prefillChunkFor(384), 128);
    assert.equal(prefillChunkFor(512), 128);
    assert.equal(prefillChunkFor(896), 64); // Qwen2.5-0.5B
    assert.equal(prefillChunkFor(1024), 64);
    assert.equal(prefillChunkFor(1536), 64); // Qwen2.5-1.5B
    assert.equal(prefillChunkFor(3584), 64); // Qwen2.5-7B: never below 64
    assert.equal(prefillChunkFor(0), 256);
  });
});
