/** The Select Model picker marks what the engine loaded and what failed, not what the setting says. */
import * as assert from 'node:assert/strict';
import { BROWSE_LABEL, BUNDLED_LABEL, pickerItems, pickerPlaceholder, type ModelFacts } from '../../src/extension/modelPicker';

const BAD = '/home/me/models/broken';
const GOOD = '/home/me/models/qwen-coder';
const REASON = 'the model could not be loaded: /home/me/models/broken/target.onnx: no such file';

function summary(facts: ModelFacts): string[] {
  return pickerItems(facts).map((i) => `${i.label}${i.description ? ` [${i.description}]` : ''}`);
}

describe('model picker hints', () => {
  it('after recovering from a bad path: the bundled model is marked loaded, the bad path failed, and nothing says "Now using" it', () => {
    const facts: ModelFacts = { loaded: { name: 'chimera-code-default', path: '/ext/models/default', setting: '' }, failed: { path: BAD, reason: REASON }, loading: null };
    assert.equal(pickerPlaceholder(facts), 'Loaded now: chimera-code-default (the bundled default model)');
    assert.deepEqual(summary(facts), [BROWSE_LABEL, `${BUNDLED_LABEL} [loaded now]`, '$(error) broken [failed to load; choose it to try again]']);
    const failedItem = pickerItems(facts).at(-1)!;
    assert.deepEqual(failedItem.choice, { kind: 'setting', path: BAD });
    assert.equal(failedItem.detail, `${BAD}: ${REASON}`);
  });

  it('while the bad path is the one that failed and nothing runs', () => {
    const facts: ModelFacts = { loaded: null, failed: { path: BAD, reason: REASON }, loading: null };
    assert.equal(pickerPlaceholder(facts), 'No model is loaded: broken failed to load');
    assert.deepEqual(summary(facts), [BROWSE_LABEL, BUNDLED_LABEL, '$(error) broken [failed to load; choose it to try again]']);
  });

  it('marks a loaded package folder and offers to reload it', () => {
    const facts: ModelFacts = { loaded: { name: 'qwen2.5-coder', path: GOOD, setting: GOOD }, failed: null, loading: null };
    assert.equal(pickerPlaceholder(facts), `Loaded now: qwen2.5-coder (${GOOD})`);
    assert.deepEqual(summary(facts), [BROWSE_LABEL, '$(check) qwen2.5-coder [loaded now]', BUNDLED_LABEL]);
    assert.deepEqual(pickerItems(facts)[1]!.choice, { kind: 'setting', path: GOOD });
  });

  it('marks the bundled model as failed when it was the one that failed', () => {
    const facts: ModelFacts = { loaded: null, failed: { path: '', reason: 'broken install' }, loading: null };
    assert.equal(pickerPlaceholder(facts), 'No model is loaded: the bundled model failed to load');
    assert.deepEqual(summary(facts), [BROWSE_LABEL, `${BUNDLED_LABEL} [failed to load]`]);
  });

  it('says a load is under way, and shortens a long failure reason', () => {
    assert.equal(pickerPlaceholder({ loaded: null, failed: null, loading: 'qwen-coder' }), 'Loading qwen-coder…');
    assert.equal(pickerPlaceholder({ loaded: null, failed: null, loading: null }), 'No model is loaded yet');
    const long = pickerItems({ loaded: null, failed: { path: BAD, reason: 'x'.repeat(500) }, loading: null }).at(-1)!;
    assert.ok(long.detail!.length < 220 && long.detail!.endsWith('…'));
  });
});
