import * as assert from 'node:assert/strict';
import { isExtensionToWebview, isWebviewToExtension } from '../../src/webview/messages';

describe('webview message guards', () => {
  it('accepts the ready message from the webview and rejects anything else', () => {
    assert.equal(isWebviewToExtension({ type: 'ready' }), true);
    for (const bad of [null, undefined, 'ready', {}, { type: 'Ready' }, { type: 'status' }, [{ type: 'ready' }]]) {
      assert.equal(isWebviewToExtension(bad), false, JSON.stringify(bad));
    }
  });

  it('accepts a well-formed status message and rejects malformed ones', () => {
    assert.equal(isExtensionToWebview({ type: 'status', engine: 'unavailable', detail: 'x' }), true);
    for (const bad of [
      { type: 'status', engine: 'broken', detail: 'x' },
      { type: 'status', engine: 'ready' },
      { type: 'status', engine: 'ready', detail: 3 },
      { type: 'ready' },
      null,
    ]) {
      assert.equal(isExtensionToWebview(bad), false, JSON.stringify(bad));
    }
  });
});
