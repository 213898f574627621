/**
 * The README's pictures, taken in a clean window with the model the suite runs (the bundled one by
 * default): ghost text in a Python file, and an Explain answer in the chat. Each also checks that the
 * feature answered, so a picture of an empty editor or panel fails instead of being saved.
 * CHIMERA_SCREENSHOT=test-results/vscode-window.png saves them as inline-completion.png and explain.png.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChimeraApi } from '../../../src/extension/extension';
import { screenshot } from './screenshot';
import { activatedApi, nextEvent, within } from './util';

const LIST_FILES = 'import os\n\n\ndef list_python_files(root):\n    """Return the paths of all .py files under root."""\n    result = []\n    for dirpath, dirnames, filenames in os.walk(root):\n        for name in filenames:\n            ';
const READ_LINES = 'def read_lines(path):\n    """Return the lines of a text file, without their line endings."""\n    with open(path) as f:\n        return [line.rstrip("\\n") for line in f]\n';

describe('README pictures', function () {
  this.timeout(180_000);
  let api: ChimeraApi;
  const config = () => vscode.workspace.getConfiguration('chimera');
  const folder = () => vscode.workspace.workspaceFolders![0]!.uri;
  const written: vscode.Uri[] = [];

  /** A real file in the workspace, so the tab shows a real name; deleted after. */
  async function openFile(name: string, content: string): Promise<vscode.TextEditor> {
    const uri = vscode.Uri.joinPath(folder(), name);
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(content));
    written.push(uri);
    return vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), vscode.ViewColumn.One);
  }

  before(async () => {
    api = await activatedApi();
    await config().update('chat.maxTokens', 40, vscode.ConfigurationTarget.Global);
    await within(api.engine.ready(), 90_000, 'the engine to start');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('notifications.clearAll');
    await vscode.commands.executeCommand('chimera.openChat');
    await within(api.chatView.whenReady(), 30_000, 'the chat webview');
    await api.chatView.newChat();
  });

  after(async () => {
    await config().update('chat.maxTokens', undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const uri of written) await vscode.workspace.fs.delete(uri).then(undefined, () => undefined);
  });

  it('ghost text in a Python file', async () => {
    const editor = await openFile('walk.py', LIST_FILES);
    const end = editor.document.positionAt(LIST_FILES.length);
    editor.selection = new vscode.Selection(end, end);
    const provided = nextEvent(api.inline.onDidProvide);
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    const suggestion = await within(provided, 60_000, 'a suggestion');
    assert.ok(suggestion.trim().length > 0, 'the model suggested something');
    await vscode.commands.executeCommand('notifications.clearAll');
    await new Promise((resolve) => setTimeout(resolve, 500)); // a frame or two to paint the ghost text
    await screenshot('inline-completion');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('an Explain answer in the chat', async () => {
    const editor = await openFile('lines.py', READ_LINES);
    editor.selection = new vscode.Selection(0, 0, editor.document.lineCount - 1, 0);
    const reply = await vscode.commands.executeCommand<{ status?: string; text: string } | undefined>('chimera.explain');
    assert.ok(reply && reply.status !== 'error' && reply.text.trim().length > 0, `the explanation: ${JSON.stringify(reply)}`);
    await vscode.commands.executeCommand('notifications.clearAll');
    await new Promise((resolve) => setTimeout(resolve, 800)); // the webview renders the last pieces
    await screenshot('explain');
  });
});
