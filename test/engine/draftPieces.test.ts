/**
 * The draft fed a long backlog in pieces (as on a device whose kernels are wrong for large blocks, see
 * core/gpu/blockCheck.ts) proposes what it proposes from one block: its context layer is causal.
 */
import * as assert from 'node:assert/strict';
import { loadModel, type LoadedModel } from '../../src/core/model';
import { createCache, DraftRunner } from '../../src/core/runner';
import { createTarget } from '../../src/core/target';
import { fixtureDir, memoryLog } from '../support/models';

describe('draft context in pieces', () => {
  let model: LoadedModel;
  before(async () => (model = await loadModel(fixtureDir, { device: 'cpu', log: memoryLog().log, costs: 'default' })));
  after(() => model.dispose());

  it('gives the same proposals, and the same next proposal, as one block', async () => {
    const tokens = Array.from({ length: 45 }, (_, i) => 30 + ((i * 53) % 300));
    const target = await createTarget(model, 64);
    const out = await target.forward(tokens, 1);
    const hidden = Float32Array.from(out.hidden!);
    out.release();
    target.dispose();
    const width = model.manifest.model.d_model;
    const propose = async (maxRows: number) => {
      const draft = new DraftRunner(model.draft!, await createCache(model, DraftRunner.layout(model, 64)), width, maxRows);
      try {
        const first = await draft.propose(hidden.subarray(0, 40 * width), [1, 2, 3]);
        const next = await draft.propose(hidden.subarray(40 * width), [4, 5, 6]);
        assert.equal(draft.cache.length, 45);
        return [first, next];
      } finally {
        draft.cache.dispose();
      }
    };
    const whole = await propose(Infinity);
    const pieces = await propose(8);
    for (const [i, p] of pieces.entries()) {
      assert.deepEqual(Array.from(p.tokens), Array.from(whole[i]!.tokens));
      const worst = p.logprobs.reduce((m, v, j) => Math.max(m, Math.abs(v - whole[i]!.logprobs[j]!)), 0);
      assert.ok(worst < 1e-4, `log-probabilities differ by ${worst}`);
    }
  });
});
