/** What the chat header and the status bar say in each engine state, a model switch above all. */
import * as assert from 'node:assert/strict';
import { EngineState } from '../../src/engine/lifecycle';
import { chatStatus, modelLabel, statusBarView, type EngineSnapshot } from '../../src/extension/engineView';
import { LastStats } from '../../src/extension/modelStats';
import type { GenerationStats } from '../../src/protocol';

const INFO_A: EngineSnapshot['info'] = { model: { name: 'model-a', path: '/models/a' }, device: { kind: 'cpu', requested: 'cpu', reason: 'requested' } };
const INFO_B: EngineSnapshot['info'] = { model: { name: 'model-b', path: '/models/b' }, device: { kind: 'cpu', requested: 'cpu', reason: 'requested' } };

function stats(tokensPerSecond: number): GenerationStats {
  return { mode: 'chimera', promptTokens: 10, reusedTokens: 0, generatedTokens: 12, steps: 4, drafted: 9, accepted: 8, meanAcceptedLength: 3, firstTokenMs: 5, totalMs: 40, decodeTokensPerSecond: tokensPerSecond, tokensPerSecond };
}

function snapshot(state: EngineState, extra: Partial<EngineSnapshot> = {}): EngineSnapshot {
  return { state, info: null, lastError: null, loading: null, ...extra };
}

describe('engine views', () => {
  it('names a model setting by its folder, or as the bundled model', () => {
    assert.equal(modelLabel(''), 'the bundled model');
    assert.equal(modelLabel('  '), 'the bundled model');
    assert.equal(modelLabel('/home/me/models/qwen-coder/'), 'qwen-coder');
    assert.equal(modelLabel('C:\\models\\tiny-package'), 'tiny-package');
  });

  it('a model switch reads "Loading <model>…" at every step, never stopped or failed, with no speed shown', () => {
    const last = stats(87);
    // The steps the client and the service pass through on a switch from A to B.
    const steps: EngineSnapshot[] = [
      snapshot(EngineState.Ready, { info: INFO_A, loading: 'b' }), // the old engine shutting down
      snapshot(EngineState.Stopped, { info: INFO_A, loading: 'b' }), // a stop, if a launcher goes through one
      snapshot(EngineState.Starting, { info: INFO_A, loading: 'b' }),
      snapshot(EngineState.Ready, { info: INFO_B, loading: 'b' }), // ready, before the switch has settled
    ];
    for (const step of steps) {
      assert.deepEqual(chatStatus(step), { type: 'status', engine: 'starting', detail: 'Loading b…', actions: [] }, step.state);
      const bar = statusBarView(step, last, true);
      assert.equal(bar.error, false);
      assert.equal(bar.text, '$(loading~spin) Chimera');
      assert.doesNotMatch(`${bar.text} ${bar.tooltip}`, /tok\/s|stopped|not running/);
    }
  });

  it('shows errors only for a real failure, even while a switch was under way', () => {
    const failed = snapshot(EngineState.Failed, { info: INFO_A, lastError: 'model package /x: chimera.json is missing', loading: null });
    assert.deepEqual(chatStatus(failed), { type: 'status', engine: 'error', detail: 'The local engine is not running: model package /x: chimera.json is missing', actions: ['selectModel', 'showLog'] });
    assert.equal(statusBarView(failed, null, true).error, true);
    assert.deepEqual(chatStatus(snapshot(EngineState.Failed, { lastError: 'the engine exited unexpectedly' })).actions, ['restartEngine', 'showLog']);
  });

  it('shows the loaded model and, once it has generated, its own speed', () => {
    const ready = snapshot(EngineState.Ready, { info: INFO_B });
    assert.deepEqual(chatStatus(ready), { type: 'status', engine: 'ready', detail: 'Ready: model-b on CPU', actions: [] });
    assert.equal(statusBarView(ready, null, true).text, '$(sparkle) Chimera CPU');
    const bar = statusBarView(ready, stats(41.6), false);
    assert.equal(bar.text, '$(sparkle) Chimera CPU · 42 tok/s · 3.0/step $(circle-slash)');
    assert.match(bar.tooltip, /^model-b on cpu \(requested\)\. Last generation: 12 tokens at 41\.6 tok\/s\./);
  });

  it('links the status bar to the GPU diagnostics only when a GPU was allowed and the CPU runs the model', () => {
    const on = (device: NonNullable<EngineSnapshot['info']>['device']) => statusBarView(snapshot(EngineState.Ready, { info: { model: INFO_A!.model, device } }), null, true);
    const fellBack = on({ kind: 'cpu', requested: 'auto', reason: 'GPU unavailable (webgpu: no adapter); using the CPU' });
    assert.equal(fellBack.gpuFallback, true);
    assert.match(fellBack.tooltip, /GPU unavailable \(webgpu: no adapter\)/);
    assert.equal(on({ kind: 'cpu', requested: 'cpu', reason: 'CPU requested in settings' }).gpuFallback, undefined, 'the CPU was asked for');
    assert.equal(on({ kind: 'webgpu', requested: 'auto', reason: 'webgpu execution provider initialised' }).gpuFallback, undefined);
    assert.equal(on({ kind: 'webgpu', requested: 'auto', reason: 'x' }).text, '$(sparkle) Chimera GPU');
  });

  it('crash recovery and the first start stay neutral too', () => {
    assert.equal(chatStatus(snapshot(EngineState.Restarting)).engine, 'starting');
    assert.equal(chatStatus(snapshot(EngineState.Starting)).engine, 'starting');
    assert.equal(statusBarView(snapshot(EngineState.Restarting, { lastError: 'crashed' }), null, true).error, false);
  });
});

describe('last stats, kept with their model', () => {
  it('gives a model only the stats it produced', () => {
    const last = new LastStats();
    assert.equal(last.of('/models/a'), null);
    last.note('/models/a', stats(50));
    assert.equal(last.of('/models/a')?.decodeTokensPerSecond, 50);
    assert.equal(last.of('/models/b'), null, 'model B never sees model A\'s speed');
    assert.equal(last.of(undefined), null);
  });

  it('is cleared by a switch, so switching back does not bring old numbers back', () => {
    const last = new LastStats();
    last.note('/models/a', stats(50));
    last.clear();
    assert.equal(last.of('/models/a'), null);
  });

  it('drops stats from no known model, and keeps the newest otherwise', () => {
    const last = new LastStats();
    last.note(undefined, stats(10));
    assert.equal(last.of(undefined), null);
    last.note('/models/a', stats(10));
    last.note('/models/b', stats(20));
    assert.equal(last.of('/models/a'), null);
    assert.equal(last.of('/models/b')?.decodeTokensPerSecond, 20);
  });
});
