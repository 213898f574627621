/**
 * The chat panel and Explain in a real VS Code, against the real engine and the real webview.
 * The model may be the random-weight test fixture, so replies are checked for arriving and for
 * matching the engine's result, never for what they say.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChimeraApi } from '../../../src/extension/extension';
import { ACCEPT, PROPOSAL_SCHEME, REJECT } from '../../../src/extension/chatCodeActions';
import { screenshot } from './screenshot';
import { activatedApi, openDocument, within } from './util';

const CODE = 'def add(a, b):\n    return a + b\n';

/**
 * Markdown a hostile prompt could make a model write; each payload would set window.__chimeraPwned.
 * Blocks are separated by blank lines: a raw HTML block runs until one, and would otherwise swallow
 * the markdown links below it as literal text, so they would never be tested as links.
 */
const PAYLOAD = [
  'Harmless text with **bold** and a [web link](https://example.com).',
  '<script>window.__chimeraPwned = "script"</script>',
  '<img src=x onerror="window.__chimeraPwned = \'img\'">',
  '[click me](javascript:window.__chimeraPwned=\'link\')',
  '[spaced](  JaVaScRiPt:window.__chimeraPwned=1)',
  'Inline <a href="javascript:window.__chimeraPwned=2">raw link</a>.',
  '<iframe srcdoc="<script>parent.__chimeraPwned=3</script>"></iframe>',
  '<svg><script>window.__chimeraPwned=4</script></svg>',
  '<style>body { display: none }</style>',
  '<button onclick="window.__chimeraPwned=5">press</button>',
  '<form action="javascript:window.__chimeraPwned=6"><input type=submit></form>',
  '```typescript\nconst answer: number = 42; // a highlighted block\n```',
].join('\n\n');

function diffOpen(): boolean {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === PROPOSAL_SCHEME);
}

describe('chat panel', function () {
  this.timeout(180_000);
  let api: ChimeraApi;
  const config = () => vscode.workspace.getConfiguration('chimera');

  before(async () => {
    api = await activatedApi();
    // Short replies keep the suite quick on a CPU; still many decode steps, so many streamed pieces.
    await config().update('chat.maxTokens', 48, vscode.ConfigurationTarget.Global);
    await within(api.engine.ready(), 90_000, 'the engine to start');
    await vscode.commands.executeCommand('chimera.openChat');
    await within(api.chatView.whenReady(), 30_000, 'the chat webview to say ready');
    await api.chatView.newChat();
  });

  after(async () => {
    await config().update('chat.maxTokens', undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('streams a reply from the real engine into the webview', async () => {
    const reply = await within(api.chatView.send('Write a Python function that adds two numbers.'), 120_000, 'the reply');
    assert.ok(reply.status === 'done' || reply.status === 'length', `reply ended ${reply.status}: ${reply.error ?? ''}`);
    assert.ok(reply.text.length > 0, 'the engine produced text');
    assert.equal(reply.model, api.engine.client.info?.model.name, 'the reply names the model that wrote it');
    const rendered = await within(api.chatView.rendered(reply.id), 10_000, 'the webview to report the reply');
    assert.ok(rendered.pieces > 1, `the webview received ${rendered.pieces} streamed piece(s)`);
    assert.equal(rendered.text, reply.text, 'the streamed pieces add up to the engine result');
    assert.deepEqual(
      api.chatView.transcript().map((m) => m.role),
      ['user', 'assistant'],
    );
  });

  it('adds the editor selection as context when asked', async () => {
    const editor = await openDocument(CODE, 'python');
    editor.selection = new vscode.Selection(1, 0, 2, 0);
    const reply = await within(api.chatView.send('Is this line correct?', true), 120_000, 'the reply');
    const question = api.chatView.transcript().find((m) => m.id !== reply.id && m.text === 'Is this line correct?');
    assert.equal(question?.attachment?.code, '    return a + b\n');
    assert.match(question?.attachment?.label ?? '', /:2$/);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('Explain sends the selection to the panel and streams the reply there', async () => {
    const editor = await openDocument(CODE, 'python');
    editor.selection = new vscode.Selection(0, 0, 2, 0);
    const reply = await within(vscode.commands.executeCommand<{ id: string; text: string; status: string } | undefined>('chimera.explain'), 120_000, 'the explanation');
    assert.ok(reply, 'Explain asked the engine');
    assert.ok(reply.status === 'done' || reply.status === 'length', `reply ended ${reply.status}`);
    const question = api.chatView.transcript().at(-2);
    assert.equal(question?.kind, 'explain');
    assert.equal(question?.attachment?.code, CODE);
    assert.match(question?.attachment?.label ?? '', /:1-2$/);
    await within(api.chatView.rendered(reply.id), 10_000, 'the webview to report the explanation');
    const shown = (await within(api.chatView.probe(), 10_000, 'the probe')).messages.slice(-2);
    assert.equal(shown[0]?.role, 'user');
    assert.match(shown[0]?.text ?? '', /Explain this code[\s\S]*return a \+ b/);
    assert.equal(shown[1]?.role, 'assistant');
    assert.ok((shown[1]?.text ?? '').trim().length > 0, 'the reply is shown');
    await screenshot('chat-reply');
  });

  it('Explain without an editor asks for one instead of sending anything', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const before = api.chatView.transcript().length;
    assert.equal(await vscode.commands.executeCommand('chimera.explain'), undefined);
    assert.equal(api.chatView.transcript().length, before);
  });

  it('renders hostile markdown without running any of it', async () => {
    await api.chatView.renderMarkdown(PAYLOAD);
    const report = await within(api.chatView.probe(), 10_000, 'the probe');
    assert.equal(report.payloadRan, false, 'a payload ran');
    assert.equal(report.foreignScripts, 0, 'scripts without the page nonce');
    assert.equal(report.handlerAttributes, 0, 'elements with on* attributes');
    assert.equal(report.unsafeUrls, 0, 'javascript: or other unsafe URLs');
    assert.equal(report.forbiddenElements, 0, 'iframe/style/form/img/svg elements in the transcript');
    // The harmless parts still render, so the checks above are not passing on an empty panel.
    const shown = report.messages.at(-1)?.text ?? '';
    assert.match(shown, /Harmless text with bold and a web link/);
    // The javascript: links are still there as text, without their href.
    assert.match(shown, /click me[\s\S]*spaced[\s\S]*raw link/);
    assert.doesNotMatch(shown, /\]\(javascript:/i, 'the markdown links were parsed as links, not left as text');
    assert.ok(report.highlightedBlocks >= 1 && report.codeBlocks >= 1, `code blocks ${report.codeBlocks}, highlighted ${report.highlightedBlocks}`);
    await screenshot('chat-markdown');
  });

  it('copies a code block through the host clipboard', async () => {
    const code = `copied ${Date.now()}`;
    await api.chatView.codeAction('copy', code);
    assert.equal(await vscode.env.clipboard.readText(), code);
  });

  it('inserts a code block at the cursor', async () => {
    const editor = await openDocument(CODE, 'python');
    editor.selection = new vscode.Selection(2, 0, 2, 0);
    await api.chatView.codeAction('insert', 'print(add(1, 2))\n');
    assert.equal(editor.document.getText(), `${CODE}print(add(1, 2))\n`);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('applies a code block through a diff only when accepted, as one undoable edit', async () => {
    const editor = await openDocument(CODE, 'python');
    editor.selection = new vscode.Selection(1, 0, 2, 0);
    const replacement = '    return b + a\n';
    let sawDiff = false;
    const rejected = await api.chatView.applyDiff(replacement, async () => {
      sawDiff = diffOpen();
      return REJECT;
    });
    assert.equal(rejected, 'rejected');
    assert.ok(sawDiff, 'the diff was open while the question was asked');
    assert.equal(editor.document.getText(), CODE);
    assert.equal(await api.chatView.applyDiff(replacement, async () => ACCEPT), 'accepted');
    assert.equal(editor.document.getText(), 'def add(a, b):\n    return b + a\n');
    assert.ok(!diffOpen(), 'the diff closes');
    await vscode.window.showTextDocument(editor.document);
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), CODE, 'one undo restores the original');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('refuses to insert or apply an empty code block, leaving the file as it was', async () => {
    const editor = await openDocument(CODE, 'python');
    editor.selection = new vscode.Selection(0, 0, 2, 0);
    let asked = false;
    const outcome = await api.chatView.applyDiff('  \n', async () => {
      asked = true;
      return ACCEPT;
    });
    assert.equal(outcome, 'empty');
    assert.equal(asked, false, 'no diff was proposed');
    assert.equal(await api.chatView.codeAction('insert', '\n'), false);
    assert.equal(editor.document.getText(), CODE, 'the selected function is still there');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('restores the conversation when the view is re-created', async () => {
    const expected = api.chatView.transcript().map((m) => m.role);
    assert.ok(expected.length >= 4, 'earlier tests left a conversation');
    const again = api.chatView.nextReady();
    // Closing the Chimera container disposes the webview (no retainContextWhenHidden); opening it makes a new one.
    await vscode.commands.executeCommand('workbench.action.closeSidebar');
    await vscode.commands.executeCommand('chimera.openChat');
    await within(again, 30_000, 'the re-created webview to say ready');
    const shown = (await within(api.chatView.probe(), 10_000, 'the probe')).messages;
    assert.deepEqual(
      shown.map((m) => m.role),
      expected,
    );
  });

  it('New chat clears the conversation and the panel', async () => {
    await api.chatView.newChat();
    assert.deepEqual(api.chatView.transcript(), []);
    assert.deepEqual((await within(api.chatView.probe(), 10_000, 'the probe')).messages, []);
  });

  it('answers a 400 KB question, saying how much of it the model could not read', async () => {
    // 400 KB of content used to fail the reply with "Maximum call stack size exceeded".
    // Runs after New chat, so the question is the whole conversation.
    const question = `Summarise this log:\n${'line of a long log\n'.repeat(21_000)}`;
    const reply = await within(api.chatView.send(question), 120_000, 'the reply');
    assert.ok(reply.status === 'done' || reply.status === 'length', `reply ended ${reply.status}: ${reply.error ?? ''}`);
    assert.match(reply.notice ?? '', /^Left out to fit the model's context: [\d,]+ characters of your message\.$/);
  });
});
