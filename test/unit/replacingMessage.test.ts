import * as assert from 'node:assert/strict';
import { inlineToggleMessage, ReplacingMessage } from '../../src/extension/replacingMessage';

describe('inline toggle message', () => {
  it('keeps one message up: each toggle takes the last one down first', () => {
    const up = new Set<string>();
    const slot = new ReplacingMessage((text) => {
      up.add(text);
      return { dispose: () => up.delete(text) };
    });
    slot.set('off');
    slot.set('on');
    slot.set('off again');
    assert.deepEqual([...up], ['off again']);
    slot.dispose();
    assert.equal(up.size, 0);
  });

  it('says what is in effect, and why when a workspace setting wins', () => {
    assert.equal(inlineToggleMessage(false, false), 'Chimera: inline completions are now off.');
    assert.equal(inlineToggleMessage(true, true), 'Chimera: inline completions are now on.');
    assert.match(inlineToggleMessage(true, false), /set on for the user, but this workspace's setting keeps them off/);
  });
});
