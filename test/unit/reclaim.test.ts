/**
 * Output arrays of finished steps are collected every few megabytes, at the start of a run (when the
 * previous outputs are garbage), and the wrapper returns the session's outputs unchanged.
 */
import * as assert from 'node:assert/strict';
import { minorCollector, OutputReclaimer, reclaimOutputs } from '../../src/core/reclaim';
import type { Session } from '../../src/core/session';

const outputs = (bytes: number) => ({ logits: { data: new Float32Array(bytes / 4) }, shape: { data: 'not an array' } });

describe('output reclaimer', () => {
  it('collects at the start of the run after enough output bytes, and not before', () => {
    let collected = 0;
    const reclaimer = new OutputReclaimer(() => collected++, 1000);
    reclaimer.beforeRun();
    reclaimer.afterRun(outputs(600));
    reclaimer.beforeRun();
    assert.equal(collected, 0, '600 bytes are under the threshold');
    reclaimer.afterRun(outputs(600));
    assert.equal(collected, 0, 'never in the middle of a run');
    reclaimer.beforeRun();
    assert.equal(collected, 1);
    reclaimer.beforeRun();
    assert.equal(collected, 1, 'the count starts again after a collection');
  });

  it('counts arrays on the CPU and never reads outputs kept on a GPU', () => {
    let collected = 0;
    const reclaimer = new OutputReclaimer(() => collected++, 1000);
    const onGpu = {
      location: 'gpu-buffer',
      get data(): never {
        throw new Error('The data is not on CPU');
      },
    };
    reclaimer.afterRun({ 'present.0.key': onGpu, logits: { location: 'cpu', data: new Float32Array(300) } });
    reclaimer.beforeRun();
    assert.equal(collected, 1, '1200 bytes on the CPU');
  });

  it('wraps a session so each run is counted and its outputs pass through unchanged', async () => {
    let collected = 0;
    const produced = outputs(800);
    const session = { run: async () => produced } as unknown as Session;
    reclaimOutputs(session, () => collected++, 1000);
    assert.equal(await session.run({}), produced);
    assert.equal(await session.run({}), produced);
    assert.equal(collected, 0);
    await session.run({});
    assert.equal(collected, 1);
  });

  it('gets a minor collection from this V8, and it runs', () => {
    const collect = minorCollector();
    assert.equal(typeof collect, 'function');
    collect!();
    assert.equal(minorCollector(), collect, 'one per process');
  });
});
