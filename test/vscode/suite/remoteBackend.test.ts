/**
 * The shared-server backend in a real VS Code: the suite starts `chimera serve` itself (a real
 * OpenAI-compatible server on a free port, with a bearer token), points the extension at it, and runs
 * inline completion, chat, Explain and Refactor through it. The server's own debug log shows each
 * generation it ran, so every test checks the answer came from the server and not from the local engine.
 * Settings and the stored key are restored afterwards, so later suites run on the local engine.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EngineState } from '../../../src/engine/lifecycle';
import type { ChimeraApi } from '../../../src/extension/extension';
import { PROPOSAL_SCHEME } from '../../../src/extension/refactor';
import { defaultModelDir, fixtureDir, hasDefaultModel } from '../../support/models';
import { startServe, type Served } from '../../support/serve';
import { activatedApi, nextEvent, openDocument, within } from './util';

const TOKEN = 'team-server-key';
const PYTHON = 'import os\n\n\ndef list_python_files(root):\n    """Return the paths of all .py files under root."""\n    result = []\n    for dirpath, dirnames, filenames in os.walk(root):\n        for name in filenames:\n            ';
const CODE = 'def total(values):\n    result = 0\n    for v in values:\n        result = result + v\n    return result\n';
const INVOKE: vscode.InlineCompletionContext = { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined };

/** Lines the server's engine logs for every generation it finished or stopped (CHIMERA_LOG=debug). */
function generations(served: Served): number {
  return served.log().split('\n').filter((line) => /debug: api: (\d+ tokens|stopped after)/.test(line)).length;
}

/** Resolves once the server has logged `count` generations (its log arrives on its own schedule). */
async function untilGenerations(served: Served, count: number): Promise<void> {
  while (generations(served) < count) await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('shared server backend (chimera serve)', function () {
  this.timeout(180_000);
  let api: ChimeraApi;
  let served: Served;
  let model: string;
  const config = () => vscode.workspace.getConfiguration('chimera');

  before(async () => {
    api = await activatedApi();
    // ELECTRON_RUN_AS_NODE lets the same spawn work under a desktop VS Code, whose execPath is Electron.
    served = await startServe(['--model', hasDefaultModel ? defaultModelDir : fixtureDir, '--token', TOKEN], { CHIMERA_LOG: 'debug', ELECTRON_RUN_AS_NODE: '1' });
    model = ((await (await fetch(`${served.base}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { data: { id: string }[] }).data[0]!.id;
    await vscode.commands.executeCommand('chimera.setServerApiKey', TOKEN);
    await config().update('chat.maxTokens', 48, vscode.ConfigurationTarget.Global);
    await config().update('server.url', `${served.base}/v1`, vscode.ConfigurationTarget.Global);
    // chimera serve takes OpenAI's `suffix` for fill-in-the-middle and applies the model's own template.
    await config().update('server.fimFormat', 'openai-suffix', vscode.ConfigurationTarget.Global);
    await config().update('backend', 'openai-compatible', vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('chimera.openChat');
    await within(api.chatView.whenReady(), 30_000, 'the chat webview to say ready');
    await api.chatView.newChat();
  });

  after(async () => {
    for (const key of ['backend', 'server.url', 'server.fimFormat', 'server.model', 'chat.maxTokens']) await config().update(key, undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('chimera.setServerApiKey', '');
    await served?.stop();
    await within(api.engine.ready(), 90_000, 'the local engine to be back');
    await api.chatView.newChat();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('stops the local engine while the server answers, so its model does not hold memory for nothing', async () => {
    const stopped = () => api.engine.client.state === EngineState.Stopped;
    if (!stopped()) {
      await within(
        new Promise<void>((resolve) => {
          const sub = api.engine.onDidChangeState(() => stopped() && (sub.dispose(), resolve()));
        }),
        30_000,
        'the local engine to stop',
      );
    }
    assert.equal(api.engine.client.state, EngineState.Stopped);
  });

  it('without the key the server refuses: the reply says so and offers Set API Key…; storing the key connects', async () => {
    assert.equal(await vscode.commands.executeCommand('chimera.setServerApiKey', ''), false, 'the key is removed');
    const reply = await within(api.chatView.send('hello'), 60_000, 'the refused reply');
    assert.equal(reply.status, 'error');
    assert.match(reply.error ?? '', /refused the API key.*HTTP 401/);
    assert.deepEqual(reply.errorActions, ['setServerApiKey']);
    assert.match(api.statusBar.text, /\$\(error\) Chimera 127\.0\.0\.1:\d+/);
    assert.equal(await vscode.commands.executeCommand('chimera.setServerApiKey', TOKEN), true);
    const backend = await within(api.backends.ready(), 30_000, 'the connection with the key');
    assert.equal(backend.model?.name, model);
    assert.equal(backend.model?.hasFim, true);
    assert.match(api.statusBar.text, new RegExp(`^\\$\\(cloud\\) Chimera 127\\.0\\.0\\.1:${served.port} · ${model}`));
    assert.match(api.statusBar.tooltip, /Your code is sent to this server/);
    assert.equal(api.chatView.transcript().length, 2);
    await api.chatView.newChat();
  });

  it('inline completion: a suggestion from the server through the registered provider, cached on repeat', async () => {
    const editor = await openDocument(PYTHON, 'python');
    const end = editor.document.positionAt(PYTHON.length);
    const before = generations(served);
    const items = await api.inline.provideInlineCompletionItems(editor.document, end, INVOKE, new vscode.CancellationTokenSource().token);
    assert.ok(items && items.length === 1, 'one suggestion');
    const text = items[0]!.insertText as string;
    assert.ok(text.trim().length > 0);
    await within(untilGenerations(served, before + 1), 10_000, 'the server to log the generation');
    assert.equal(generations(served), before + 1, 'the server generated it (the provider may stop it once settled)');
    assert.match(api.statusBar.text, /· \d+(\.\d)? (ms|s)$/, 'the status bar shows the last latency');
    const again = await api.inline.provideInlineCompletionItems(editor.document, end, INVOKE, new vscode.CancellationTokenSource().token);
    assert.equal(again?.[0]?.insertText, text, 'a repeat is served from the cache');
    assert.equal(generations(served), before + 1, 'and not asked of the server again');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('chat: the reply streams from the server into the webview and names the server\'s model', async () => {
    const before = generations(served);
    const reply = await within(api.chatView.send('Write a Python function that adds two numbers.'), 120_000, 'the reply');
    assert.equal(reply.status === 'done' || reply.status === 'length', true, `status ${reply.status}: ${reply.error ?? ''}`);
    assert.equal(reply.model, model);
    assert.ok(reply.text.length > 0);
    const rendered = await within(api.chatView.rendered(reply.id), 30_000, 'the webview to render the reply');
    assert.equal(rendered.text, reply.text, 'the webview shows exactly the server\'s reply');
    assert.ok(rendered.pieces > 1, `streamed in ${rendered.pieces} piece(s)`);
    await within(untilGenerations(served, before + 1), 10_000, 'the server to log the reply');
  });

  it('Explain: the selection goes to the server as a chat request, and its answer lands in the panel', async () => {
    const editor = await openDocument(CODE, 'python');
    editor.selection = new vscode.Selection(0, 0, 2, 0);
    const before = generations(served);
    const reply = (await within(Promise.resolve(vscode.commands.executeCommand('chimera.explain')), 120_000, 'the explanation')) as { status: string; model?: string; text: string };
    assert.ok(reply.status === 'done' || reply.status === 'length', reply.status);
    assert.equal(reply.model, model);
    await within(untilGenerations(served, before + 1), 10_000, 'the server to log the generation');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('Refactor: the rewrite streams from the server into a diff, and rejecting it leaves the file as it was', async () => {
    const editor = await openDocument(CODE, 'python');
    editor.selection = new vscode.Selection(0, 0, editor.document.lineCount - 1, 0);
    const before = generations(served);
    const proposal = nextEvent(api.refactor.onDidPropose);
    void vscode.commands.executeCommand('chimera.refactor', { instruction: 'Rename `result` to `acc`' });
    const proposed = await within(proposal, 120_000, 'the rewrite to finish streaming');
    assert.equal(proposed.original, CODE);
    await within(untilGenerations(served, before + 1), 10_000, 'the server to log the generation');
    assert.ok(vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === PROPOSAL_SCHEME), 'a diff shows the proposal');
    await proposed.reject();
    assert.equal(editor.document.getText(), CODE);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('Select Model… lists the server\'s models, and a model it does not serve is named as such with Select Model…', async () => {
    assert.equal(await vscode.commands.executeCommand('chimera.selectModel', model), model);
    assert.equal(config().get('server.model'), model);
    const models = await api.backends.listServerModels();
    assert.deepEqual(models.map((m) => m.id), [model]);
    await config().update('server.model', 'no-such-model', vscode.ConfigurationTarget.Global);
    const reply = await within(api.chatView.send('hello'), 60_000, 'the failed reply');
    assert.equal(reply.status, 'error');
    assert.match(reply.error ?? '', /does not serve that model.*no-such-model/);
    assert.equal(reply.errorActions?.[0], 'selectModel');
    await config().update('server.model', undefined, vscode.ConfigurationTarget.Global);
    await within(api.backends.ready(), 30_000, 'the connection to come back');
  });

  it('a model of no known FIM family: a notice says inline completion is off and why, no completion is asked, chat still works', async () => {
    await config().update('server.fimFormat', 'auto', vscode.ConfigurationTarget.Global);
    try {
      const notice = nextEvent(api.backends.onDidNotify);
      const backend = await within(api.backends.ready(), 30_000, 'the connection');
      assert.equal(backend.model?.hasFim, false, `${model} names no known family`);
      assert.match(await within(notice, 10_000, 'the notice'), /Inline completion is off: no fill-in-the-middle format is known for this model.*chimera\.server\.fimFormat/);
      assert.match(api.statusBar.tooltip, /no inline completion \(no FIM format/);
      const editor = await openDocument(PYTHON, 'python');
      const before = generations(served);
      const items = await api.inline.provideInlineCompletionItems(editor.document, editor.document.positionAt(PYTHON.length), INVOKE, new vscode.CancellationTokenSource().token);
      assert.equal(items, undefined);
      const reply = await within(api.chatView.send('hello'), 60_000, 'the reply');
      assert.ok(reply.status === 'done' || reply.status === 'length', reply.status);
      await within(untilGenerations(served, before + 1), 10_000, 'the server to log the reply');
      assert.equal(generations(served), before + 1, 'only the chat reached the server');
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    } finally {
      await config().update('server.fimFormat', 'openai-suffix', vscode.ConfigurationTarget.Global);
    }
  });

  it('a plain http:// URL to another machine shows a warning as it connects', async () => {
    const warning = nextEvent(api.backends.onDidNotify);
    await config().update('server.url', 'http://gpu-box.invalid:8000/v1', vscode.ConfigurationTarget.Global);
    const ready = api.backends.ready();
    assert.match(await within(warning, 10_000, 'the warning'), /http:\/\/gpu-box\.invalid:8000\/v1 is plain http:\/\/ to another machine.*unencrypted/);
    await assert.rejects(ready, (err: Error) => err.name === 'RemoteError');
    await config().update('server.url', `${served.base}/v1`, vscode.ConfigurationTarget.Global);
    await within(api.backends.ready(), 30_000, 'the connection to come back');
  });

  it('a server that is not running: the reply says it cannot be reached and offers Retry', async () => {
    await config().update('server.url', 'http://127.0.0.1:9/v1', vscode.ConfigurationTarget.Global);
    const reply = await within(api.chatView.send('hello'), 60_000, 'the failed reply');
    assert.equal(reply.status, 'error');
    assert.match(reply.error ?? '', /cannot be reached.*127\.0\.0\.1:9/);
    assert.equal(reply.errorActions?.[0], 'retryServer');
    await config().update('server.url', `${served.base}/v1`, vscode.ConfigurationTarget.Global);
    await within(api.backends.ready(), 30_000, 'the connection to come back');
  });
});
