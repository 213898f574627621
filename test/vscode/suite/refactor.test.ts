/** Refactor in a real VS Code: a diff preview, applied only on accept, as one undoable edit. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChimeraApi } from '../../../src/extension/extension';
import { PROPOSAL_SCHEME } from '../../../src/extension/refactor';
import { activatedApi, nextEvent, openDocument, within } from './util';

const CODE = 'def total(values):\n    result = 0\n    for v in values:\n        result = result + v\n    return result\n';

function diffOpen(): boolean {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === PROPOSAL_SCHEME);
}

describe('refactor', function () {
  this.timeout(180_000);
  let api: ChimeraApi;

  before(async () => {
    api = await activatedApi();
    await within(api.engine.ready(), 90_000, 'the engine to start');
  });

  async function propose(editor: vscode.TextEditor) {
    editor.selection = new vscode.Selection(0, 0, editor.document.lineCount - 1, 0);
    const proposal = nextEvent(api.refactor.onDidPropose);
    void vscode.commands.executeCommand('chimera.refactor', { instruction: 'Rename `result` to `acc`' });
    return within(proposal, 120_000, 'the rewrite to finish streaming');
  }

  it('shows a diff, and accepting it replaces the selection in one undoable edit', async () => {
    const editor = await openDocument(CODE, 'python');
    const proposal = await propose(editor);
    assert.ok(diffOpen(), 'a diff editor shows the proposal');
    assert.equal(proposal.original, CODE);
    assert.equal(editor.document.getText(), CODE, 'nothing changes before the decision');
    assert.equal(await proposal.accept(), true);
    assert.equal(editor.document.getText(), proposal.proposed);
    assert.notEqual(editor.document.getText(), CODE);
    assert.ok(!diffOpen(), 'the diff closes');
    await vscode.window.showTextDocument(editor.document);
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), CODE, 'one undo restores the original');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('rejecting leaves the document unchanged', async () => {
    const editor = await openDocument(CODE, 'python');
    const proposal = await propose(editor);
    await proposal.reject();
    assert.equal(editor.document.getText(), CODE);
    assert.ok(!diffOpen());
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('a selection longer than the model can read is rewritten from its start, and the rest is kept as it was', async () => {
    const long = Array.from({ length: 3000 }, (_, i) => `value_${i} = compute(${i})`).join('\n') + '\n';
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const editor = await openDocument(long, 'python');
    assert.equal(vscode.window.activeTextEditor?.document, editor.document);
    const proposal = await propose(editor);
    const original = proposal.original;
    assert.ok(proposal.covered > 0 && proposal.covered < original.length, `covered ${proposal.covered} of ${original.length}`);
    assert.equal(original[proposal.covered - 1], '\n', 'the rewrite covers whole lines');
    assert.ok(proposal.proposed.endsWith(original.slice(proposal.covered)), 'the lines the model did not read are kept, not dropped');
    await proposal.reject();
    assert.equal(editor.document.getText(), long);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
