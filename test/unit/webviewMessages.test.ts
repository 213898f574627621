import * as assert from 'node:assert/strict';
import { isExtensionToWebview, isTranscriptMessage, isWebviewToExtension, type ExtensionToWebview, type TranscriptMessage, type WebviewToExtension } from '../../src/webview/messages';

const report = {
  foreignScripts: 0,
  handlerAttributes: 0,
  unsafeUrls: 0,
  forbiddenElements: 0,
  payloadRan: false,
  codeBlocks: 1,
  highlightedBlocks: 1,
  messages: [{ role: 'assistant', text: 'hi' }],
};

/** One well-formed example of every message the webview may send. */
const FROM_WEBVIEW: WebviewToExtension[] = [
  { type: 'ready' },
  { type: 'send', text: 'What does this do?', includeContext: true },
  { type: 'stop' },
  { type: 'newChat' },
  { type: 'codeAction', action: 'applyDiff', code: 'x = 1' },
  { type: 'runAction', action: 'selectModel' },
  { type: 'rendered', id: 'a1', pieces: 3, text: 'abc' },
  { type: 'probeResult', requestId: 'probe-1', report },
];

const reply: TranscriptMessage = { id: 'a1', role: 'assistant', text: 'Hello', status: 'done', stats: { generatedTokens: 3, decodeTokensPerSecond: 12.5, meanAcceptedLength: 1.5 } };
const explain: TranscriptMessage = { id: 'u1', role: 'user', text: 'Explain this code', kind: 'explain', attachment: { label: 'a.py:1', languageId: 'python', code: 'x = 1' } };

const TO_WEBVIEW: ExtensionToWebview[] = [
  { type: 'status', engine: 'error', detail: 'model missing', actions: ['selectModel', 'showLog'] },
  { type: 'transcript', messages: [explain, reply] },
  { type: 'append', message: explain },
  { type: 'delta', id: 'a1', text: 'He' },
  { type: 'done', message: { ...reply, status: 'error', error: 'engine crashed', errorActions: ['restartEngine'] } },
  { type: 'probe', requestId: 'probe-1' },
];

describe('webview message guards', () => {
  it('accept every well-formed message in each direction', () => {
    for (const message of FROM_WEBVIEW) assert.equal(isWebviewToExtension(message), true, JSON.stringify(message));
    for (const message of TO_WEBVIEW) assert.equal(isExtensionToWebview(message), true, JSON.stringify(message));
  });

  it('do not accept a message meant for the other direction', () => {
    for (const message of FROM_WEBVIEW.filter((m) => m.type !== 'ready')) assert.equal(isExtensionToWebview(message), false, JSON.stringify(message));
    for (const message of TO_WEBVIEW) assert.equal(isWebviewToExtension(message), false, JSON.stringify(message));
  });

  it('reject malformed messages from the (untrusted) webview', () => {
    for (const bad of [
      null,
      undefined,
      'ready',
      [{ type: 'ready' }],
      {},
      { type: 'Ready' },
      { type: 'send', text: 42, includeContext: false },
      { type: 'send', text: 'hi' },
      { type: 'codeAction', action: 'delete', code: 'x' },
      { type: 'codeAction', action: 'copy' },
      // Commands travel as a closed set of names, never as command ids the host would run.
      { type: 'runAction', action: 'workbench.action.terminal.new' },
      { type: 'rendered', id: 'a1', pieces: -1, text: '' },
      { type: 'rendered', id: 'a1', pieces: 1.5, text: '' },
      { type: 'probeResult', requestId: 'p', report: { ...report, payloadRan: 'no' } },
      { type: 'send', text: 'x'.repeat(2_000_001), includeContext: false },
      // Prototype keys are not message types.
      { type: 'constructor' },
      { type: '__proto__' },
      { type: 'toString' },
    ]) {
      assert.equal(isWebviewToExtension(bad), false, JSON.stringify(bad)?.slice(0, 80));
    }
  });

  it('reject malformed messages from the host before they reach the DOM', () => {
    for (const bad of [
      { type: 'status', engine: 'broken', detail: 'x', actions: [] },
      { type: 'status', engine: 'ready', detail: 'x' },
      { type: 'status', engine: 'ready', detail: 'x', actions: ['rm -rf'] },
      { type: 'append', message: { ...reply, role: 'system' } },
      { type: 'append', message: { ...reply, status: 'finished' } },
      { type: 'transcript', messages: [reply, { id: 'x' }] },
      { type: 'done', message: { ...reply, stats: { generatedTokens: 1, decodeTokensPerSecond: Infinity, meanAcceptedLength: 1 } } },
      { type: 'delta', id: 'a1' },
    ]) {
      assert.equal(isExtensionToWebview(bad), false, JSON.stringify(bad));
    }
  });

  it('checks stored transcript messages field by field', () => {
    assert.equal(isTranscriptMessage(reply), true);
    assert.equal(isTranscriptMessage(explain), true);
    assert.equal(isTranscriptMessage({ ...explain, attachment: { label: 'a', code: 'x' } }), false);
    assert.equal(isTranscriptMessage({ ...explain, kind: 'refactor' }), false);
  });
});
