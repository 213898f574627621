/**
 * A model switch in a real VS Code, as the user sees it: the chat header and the status bar stay
 * neutral while the engine loads the new model (no "stopped", no error), and the old model's tok/s
 * leave with it. Switches between the suite's model and the tiny test fixture both ways.
 */
import * as assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { EngineState } from '../../../src/engine/client';
import type { StatusMessage } from '../../../src/extension/chatView';
import type { ChimeraApi } from '../../../src/extension/extension';
import { pickerItems, pickerPlaceholder } from '../../../src/extension/modelPicker';
import { repoRoot } from '../../support/paths';
import { activatedApi, openDocument, within } from './util';

const TINY = join(repoRoot, 'test/fixtures/tiny-package');
const PYTHON = 'def add(a, b):\n    ';

interface Seen {
  statuses: StatusMessage[];
  statusBar: string[];
}

describe('model switch', function () {
  this.timeout(240_000);
  let api: ChimeraApi;
  const config = () => vscode.workspace.getConfiguration('chimera');

  before(async () => {
    api = await activatedApi();
    await within(api.engine.ready(), 90_000, 'the engine to start');
    await vscode.commands.executeCommand('chimera.openChat');
    await within(api.chatView.whenReady(), 30_000, 'the chat webview to say ready');
  });

  after(async () => {
    await config().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
    await within(loaded(() => true), 90_000, 'the engine to come back on the suite model');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  /** Resolves once the engine is ready on a model for which `wanted(path)` holds. */
  function loaded(wanted: (path: string) => boolean): Promise<void> {
    const done = () => api.engine.state === EngineState.Ready && wanted(api.engine.client.info?.model.path ?? '');
    if (done()) return Promise.resolve();
    return new Promise((resolveDone) => {
      const sub = api.engine.onDidChangeState(() => {
        if (done()) {
          sub.dispose();
          resolveDone();
        }
      });
    });
  }

  /** Everything the header and the status bar showed while `work` ran. */
  async function watch(work: () => Promise<void>): Promise<Seen> {
    const seen: Seen = { statuses: [], statusBar: [] };
    const subs = [api.chatView.onDidShowStatus((s) => seen.statuses.push(s)), api.engine.onDidChangeState(() => seen.statusBar.push(`${api.statusBar.text} | ${api.statusBar.tooltip}`))];
    try {
      await work();
    } finally {
      for (const s of subs) s.dispose();
    }
    return seen;
  }

  /** An inline completion through the registered provider, so its stats reach the status bar as a user's would. */
  async function completeOnce(): Promise<void> {
    const editor = await openDocument(PYTHON, 'python');
    const end = editor.document.positionAt(PYTHON.length);
    const reported = new Promise<void>((resolveReported) => {
      const sub = api.engine.onDidFinishGeneration(() => {
        sub.dispose();
        resolveReported();
      });
    });
    await api.inline.provideInlineCompletionItems(editor.document, end, { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined }, new vscode.CancellationTokenSource().token);
    await within(reported, 60_000, 'the completion to report its stats');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  }

  async function switchTo(path: string | undefined, isTarget: (loadedPath: string) => boolean): Promise<void> {
    await completeOnce();
    assert.match(api.statusBar.text, /tok\/s/, 'the status bar shows the current model\'s speed before the switch');
    const seen = await watch(async () => {
      await config().update('modelPath', path, vscode.ConfigurationTarget.Global);
      await within(loaded(isTarget), 90_000, 'the engine to load the new model');
    });
    const alarming = seen.statuses.filter((s) => s.engine === 'error' || s.engine === 'stopped');
    assert.deepEqual(alarming, [], 'the chat header showed an error or "stopped" during a normal switch');
    assert.ok(seen.statuses.some((s) => s.engine === 'starting' && /^Loading /.test(s.detail)), `the header said it was loading the model: ${JSON.stringify(seen.statuses)}`);
    assert.ok(!seen.statusBar.some((t) => t.includes('$(error)')), `the status bar showed an error: ${seen.statusBar.join(' / ')}`);
    assert.doesNotMatch(api.statusBar.text, /tok\/s/, 'the old model\'s speed is gone after the switch');
    assert.doesNotMatch(api.statusBar.tooltip, /tok\/s/, 'the old model\'s speed is gone from the tooltip too');
    await completeOnce();
    assert.match(api.statusBar.text, /tok\/s/, 'the new model\'s own speed shows once it has generated');
  }

  it('to another model: the header says Loading, never stopped or failed, and the old tok/s are cleared', async () => {
    await switchTo(TINY, (p) => resolve(p) === resolve(TINY));
  });

  it('and back to the previous model, the same way', async () => {
    await switchTo(undefined, (p) => resolve(p) !== resolve(TINY));
  });

  it('after recovering from a bad model path, the picker marks what loaded and the bad path as failed', async () => {
    const bad = join(tmpdir(), `chimera-no-such-model-${Date.now()}`);
    const seen = await watch(async () => {
      const failed = new Promise<void>((resolveFailed) => {
        const sub = api.engine.onDidChangeState((state) => state === EngineState.Failed && (sub.dispose(), resolveFailed()));
      });
      await config().update('modelPath', bad, vscode.ConfigurationTarget.Global);
      await within(failed, 60_000, 'the engine to refuse the missing model');
    });
    assert.ok(seen.statuses.some((s) => s.engine === 'error'), 'a real failure does show as an error');
    assert.match(pickerPlaceholder(api.engine.modelFacts()), /^No model is loaded: chimera-no-such-model-\d+ failed to load$/);
    await config().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
    await within(loaded(() => true), 90_000, 'the engine to recover on the suite model');
    const facts = api.engine.modelFacts();
    const hint = pickerPlaceholder(facts);
    assert.doesNotMatch(hint, /no-such-model/, `the hint still names the failed path: ${hint}`);
    // The suite's model is a folder setting, or the bundled one once an earlier suite has reset the setting.
    assert.ok(hint.startsWith(`Loaded now: ${api.engine.client.info?.model.name} (`), hint);
    const items = pickerItems(facts);
    assert.equal(items.filter((i) => i.description === 'loaded now').length, 1, 'the loaded model is marked');
    assert.ok(items.some((i) => i.label.endsWith('chimera-no-such-model-' + bad.split('-').at(-1)) && /failed to load/.test(i.description ?? '')), 'the bad path is marked as failed');
  });
});
