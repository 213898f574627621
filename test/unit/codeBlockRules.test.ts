import * as assert from 'node:assert/strict';
import { codeActionRefusal } from '../../src/extension/codeBlockRules';
import { hasCode, type CodeAction } from '../../src/webview/messages';

const ACTIONS: CodeAction[] = ['copy', 'insert', 'applyDiff'];

describe('code block actions on blocks without code', () => {
  it('counts only blocks with a visible character as code', () => {
    for (const empty of ['', ' ', '\n', '  \n\t\n', '\r\n']) assert.equal(hasCode(empty), false, JSON.stringify(empty));
    for (const code of ['x', '  x  ', '\n}\n', '#']) assert.equal(hasCode(code), true, JSON.stringify(code));
  });

  it('refuses every action on an empty or whitespace-only block, saying why', () => {
    for (const action of ACTIONS) {
      for (const empty of ['', '   \n\t']) {
        const refusal = codeActionRefusal(action, empty);
        assert.ok(refusal, `${action} on ${JSON.stringify(empty)}`);
        assert.match(refusal, /code block is empty/);
      }
    }
    // Apply… and Insert would have replaced the selection with nothing; the message says so.
    assert.match(codeActionRefusal('applyDiff', '')!, /nothing to apply.*delete/);
    assert.match(codeActionRefusal('insert', '')!, /nothing to insert.*delete/);
  });

  it('lets every action run on a block with code, whitespace around it included', () => {
    for (const action of ACTIONS) assert.equal(codeActionRefusal(action, '\n  return 1\n'), undefined);
  });
});
