/**
 * The default keybindings in a real VS Code: package.json binds the four everyday actions, none of the
 * keys is one of VS Code's own defaults (read from the running VS Code's Default Keybindings), and each
 * key, pressed for real in the browser (runCodeServer), runs its command.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChimeraApi } from '../../../src/extension/extension';
import { PROPOSAL_SCHEME } from '../../../src/extension/refactor';
import { pressKeys } from './launcher';
import { activatedApi, EXTENSION_ID, nextEvent, openDocument, within } from './util';

interface Keybinding {
  command: string;
  key: string;
  mac?: string;
  when?: string;
}

const COMMANDS = {
  openChat: 'chimera.openChat',
  explain: 'chimera.explain',
  refactor: 'chimera.refactor',
  trigger: 'editor.action.inlineSuggest.trigger',
};

const CODE = 'def total(values):\n    result = 0\n    for v in values:\n        result = result + v\n    return result\n';

/** Modifiers in a fixed order, so "shift+ctrl+x" and "ctrl+shift+x" compare equal. */
function normalize(key: string): string {
  return key
    .toLowerCase()
    .split(' ')
    .map((chord) => {
      const parts = chord.split('+');
      const last = parts.pop()!;
      return [...parts.sort(), last].join('+');
    })
    .join(' ');
}

function contributed(): Keybinding[] {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension);
  return (extension.packageJSON as { contributes: { keybindings?: Keybinding[] } }).contributes.keybindings ?? [];
}

function bindingFor(command: string): Keybinding {
  const found = contributed().filter((k) => k.command === command);
  assert.equal(found.length, 1, `package.json should bind ${command} exactly once`);
  return found[0]!;
}

/** Polls `check` until it returns a value, failing after `ms`. */
async function waitFor<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Presses the binding's key for real, or skips the test where the launcher cannot press keys. */
async function press(context: Mocha.Context, binding: Keybinding): Promise<void> {
  if (!(await pressKeys(binding.key))) context.skip();
}

describe('default keybindings', function () {
  this.timeout(180_000);
  let api: ChimeraApi;
  const config = () => vscode.workspace.getConfiguration('chimera');

  before(async () => {
    api = await activatedApi();
    await config().update('chat.maxTokens', 24, vscode.ConfigurationTarget.Global);
    await within(api.engine.ready(), 90_000, 'the engine to start');
  });

  after(async () => {
    await config().update('chat.maxTokens', undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('package.json binds Open Chat, Explain, Refactor and Trigger Completion, with macOS keys', () => {
    for (const command of Object.values(COMMANDS)) {
      const binding = bindingFor(command);
      assert.ok(binding.key && binding.mac, `${command} needs a key and a mac key`);
      // macOS uses Cmd where the others use Ctrl, and nothing else changes.
      assert.equal(binding.mac, binding.key.replace(/\bctrl\+/g, 'cmd+'), `${command}: mac key`);
    }
    assert.match(bindingFor(COMMANDS.explain).when ?? '', /editorTextFocus/);
    assert.match(bindingFor(COMMANDS.refactor).when ?? '', /editorTextFocus && !editorReadonly/);
    assert.match(bindingFor(COMMANDS.trigger).when ?? '', /config\.chimera\.inline\.enabled/);
  });

  it("no key is taken by VS Code's own default keybindings", async () => {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse('vscode://defaultsettings/keybindings.json'));
    const json = doc.getText().replace(/^\s*\/\/.*$/gm, '');
    const all = JSON.parse(json) as Keybinding[];
    assert.ok(all.length > 500, `only ${all.length} default keybindings: the document did not load`);
    const ours = contributed();
    const isOurs = (k: Keybinding) => ours.some((o) => o.command === k.command && normalize(o.key) === normalize(k.key));
    const theirs = all.filter((k) => !isOurs(k)).map((k) => ({ ...k, key: normalize(k.key) }));
    // A prefix VS Code already uses for chords of its own (Ctrl+K) changes nothing when it gets one more.
    const chordPrefixes = new Set(theirs.filter((k) => k.key.includes(' ')).map((k) => k.key.split(' ')[0]));
    const clashes: string[] = [];
    for (const binding of ours) {
      const key = normalize(binding.key);
      const [first] = key.split(' ');
      for (const other of theirs) {
        const same = other.key === key;
        const shadowsChord = !key.includes(' ') && other.key.startsWith(`${key} `);
        const prefixBoundAlone = key.includes(' ') && other.key === first && !chordPrefixes.has(first!);
        if (same || shadowsChord || prefixBoundAlone) clashes.push(`${binding.key} (${binding.command}) vs ${other.key} → ${other.command} [${other.when ?? ''}]`);
      }
    }
    assert.deepEqual(clashes, []);
    // The check can fail: VS Code's own Ctrl+K Ctrl+C (comment lines) is found by the same test.
    assert.ok(theirs.some((k) => k.key === 'ctrl+k ctrl+c'), 'the defaults include Ctrl+K Ctrl+C');
  });

  it('Trigger Completion: the key asks the engine for a suggestion at the cursor', async function () {
    const binding = bindingFor(COMMANDS.trigger);
    const code = 'import os\n\n\ndef list_python_files(root):\n    result = []\n    for dirpath, dirnames, filenames in os.walk(root):\n        ';
    const editor = await openDocument(code, 'python');
    const end = editor.document.positionAt(code.length);
    editor.selection = new vscode.Selection(end, end);
    // Opening a document and moving the cursor ask for nothing by themselves; only the key should.
    let early = false;
    const quiet = api.inline.onDidProvide(() => (early = true));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    quiet.dispose();
    assert.equal(early, false, 'a suggestion came before the key was pressed');
    const provided = nextEvent(api.inline.onDidProvide);
    await press(this, binding);
    const suggestion = await within(provided, 60_000, `a suggestion after ${binding.key}`);
    assert.equal(typeof suggestion, 'string');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('Explain: the key sends the selection to the chat', async function () {
    const binding = bindingFor(COMMANDS.explain);
    const editor = await openDocument(CODE, 'python');
    editor.selection = new vscode.Selection(0, 0, 2, 0);
    // New messages by id: the transcript may drop old ones to stay within its budget.
    const seen = new Set(api.chatView.transcript().map((m) => m.id));
    const fresh = () => api.chatView.transcript().filter((m) => !seen.has(m.id));
    await press(this, binding);
    const question = await waitFor(
      () => fresh().find((m) => m.role === 'user' && m.kind === 'explain'),
      30_000,
      `an Explain question after ${binding.key}`,
    );
    assert.equal(question.attachment?.code, 'def total(values):\n    result = 0\n');
    // Let the reply finish, so the engine is free for the next test.
    await waitFor(
      () => fresh().find((m) => m.role === 'assistant' && m.status !== 'streaming'),
      120_000,
      'the explanation to finish',
    );
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('Refactor: the key asks for an instruction, and accepting one proposes a diff', async function () {
    const binding = bindingFor(COMMANDS.refactor);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const editor = await openDocument(CODE, 'python');
    editor.selection = new vscode.Selection(0, 0, editor.document.lineCount - 1, 0);
    const proposal = nextEvent(api.refactor.onDidPropose);
    await press(this, binding);
    // The key opened the instruction picker; accept its first suggestion (a no-op when no picker is open).
    let proposed = false;
    void proposal.then(() => (proposed = true));
    const diffShown = () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === PROPOSAL_SCHEME);
    await waitFor(
      () => {
        if (diffShown() || proposed) return true;
        void vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
        return undefined;
      },
      15_000,
      `the instruction picker after ${binding.key}`,
    );
    const result = await within(proposal, 120_000, 'the rewrite to finish streaming');
    assert.equal(result.original, CODE);
    await result.reject();
    assert.equal(editor.document.getText(), CODE);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Open Chat: the key shows the chat panel', async function () {
    const binding = bindingFor(COMMANDS.openChat);
    await vscode.commands.executeCommand('workbench.action.closeSidebar');
    await openDocument(CODE, 'python');
    const ready = api.chatView.nextReady();
    await press(this, binding);
    await within(ready, 30_000, `the chat webview to load after ${binding.key}`);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
