/** Runs inside a real VS Code extension host (code-server offline, or Electron via test-electron). */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChimeraApi } from '../../../src/extension/extension';

const EXTENSION_ID = 'chimera.chimera-code';

/** Waits for an event-driven promise, failing with a useful message instead of hanging the suite. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('Chimera Code extension', () => {
  let extension: vscode.Extension<ChimeraApi>;
  let api: ChimeraApi;

  before(async () => {
    const found = vscode.extensions.getExtension<ChimeraApi>(EXTENSION_ID);
    assert.ok(found, `${EXTENSION_ID} is not installed in this VS Code`);
    extension = found;
    api = await extension.activate();
  });

  it('activates and returns its API', () => {
    assert.equal(extension.isActive, true);
    assert.equal(typeof api.chatView.whenResolved, 'function');
  });

  it('registers every command that package.json contributes', async () => {
    const contributed = (extension.packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands.map(
      (c) => c.command,
    );
    assert.ok(contributed.length > 0, 'package.json contributes no commands');
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(
      contributed.filter((id) => !registered.has(id)),
      [],
      'contributed but not registered',
    );
  });

  it('toggleInline flips chimera.inline.enabled for the user and reports the new state', async () => {
    const config = () => vscode.workspace.getConfiguration('chimera');
    const before = config().get<boolean>('inline.enabled');
    try {
      const first = await vscode.commands.executeCommand<boolean>('chimera.toggleInline');
      assert.equal(first, !before);
      assert.equal(config().inspect<boolean>('inline.enabled')?.globalValue, !before);
      const second = await vscode.commands.executeCommand<boolean>('chimera.toggleInline');
      assert.equal(second, before);
      assert.equal(config().get<boolean>('inline.enabled'), before);
    } finally {
      await config().update('inline.enabled', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  // Last on purpose: it leaves the Chimera view open for the launcher's screenshot.
  it('opens the chat view, whose script loads under the CSP and says ready', async () => {
    await vscode.commands.executeCommand('chimera.openChat');
    await within(api.chatView.whenResolved(), 30_000, 'the chat view to resolve');
    await within(api.chatView.whenReady(), 30_000, 'the chat webview script to post ready');
  });
});
