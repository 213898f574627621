/**
 * Wires the chat feature (session, history, view, code block actions, Explain) and exposes the
 * slice of it that the real-VS-Code tests drive. Nothing here is a user-visible command besides
 * `chimera.explain`; the test hooks are reachable only through the extension's exported API.
 */
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { CodeAction, ProbeReport, TranscriptMessage } from '../webview/messages';
import { ChatHistoryStore, contextCharBudget } from './chatHistory';
import { CodeBlockActions, type ApplyOutcome, type Confirm } from './chatCodeActions';
import { ChatSession } from './chatSession';
import { CHAT_VIEW_ID, ChatViewProvider, type RenderReport, type StatusMessage } from './chatView';
import type { BackendService } from './backendService';
import { registerExplain } from './explain';
import { readSettings } from './settings';

export interface ChatApi {
  whenResolved(): Promise<void>;
  whenReady(): Promise<void>;
  /** The next time a webview says ready, e.g. after the view is re-created. */
  nextReady(): Promise<void>;
  /** Sends a question exactly as the webview's Send does; resolves with the finished reply. */
  send(text: string, includeContext?: boolean): Promise<TranscriptMessage>;
  /** What the webview received for reply `id` (resolves once it has the final form). */
  rendered(id: string): Promise<RenderReport>;
  transcript(): readonly TranscriptMessage[];
  newChat(): Promise<void>;
  /** Test-only: shows `markdown` as an assistant message in the webview (not stored in history). */
  renderMarkdown(markdown: string): Promise<void>;
  /** Fires with every engine status the panel's header is given. */
  onDidShowStatus: vscode.Event<StatusMessage>;
  /** Test-only: asks the webview to inspect its DOM. */
  probe(): Promise<ProbeReport>;
  /** A code block button, exactly as the webview's click does (Apply… asks through a notification). */
  codeAction(action: CodeAction, code: string): Promise<unknown>;
  /** Apply… with the Accept/Reject answer given by the caller instead of the notification. */
  applyDiff(code: string, confirm: Confirm): Promise<ApplyOutcome>;
}

export function registerChat(context: vscode.ExtensionContext, backends: BackendService, log: vscode.LogOutputChannel): ChatApi {
  const session = new ChatSession({
    engine: backends,
    store: new ChatHistoryStore(context.workspaceState),
    options: () => {
      const s = readSettings(log);
      return { maxTokens: s.chat.maxTokens, temperature: s.temperature, mode: s.decoding.mode };
    },
    // A reply cut off because the engine is loading a model (a switch, a restart) was stopped, not failed;
    // a shared server's failure gets its own message and buttons.
    describeError: (err) => backends.describeError(err),
    newId: randomUUID,
    warn: (message) => log.warn(message),
  });
  const actions = new CodeBlockActions(log);
  const view = new ChatViewProvider({ extensionUri: context.extensionUri, log, session, backends, actions });
  context.subscriptions.push(
    actions,
    view,
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, view),
    registerExplain({
      session,
      reveal: () => vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`),
      maxChars: () => contextCharBudget(backends.model?.maxContext),
    }),
  );
  return testApi(view, session, actions);
}

function testApi(view: ChatViewProvider, session: ChatSession, actions: CodeBlockActions): ChatApi {
  let probes = 0;
  return {
    whenResolved: () => view.whenResolved(),
    whenReady: () => view.whenReady(),
    nextReady: () => view.nextReady(),
    onDidShowStatus: view.onDidShowStatus,
    send: (text, includeContext = false) => view.handle({ type: 'send', text, includeContext }) as Promise<TranscriptMessage>,
    rendered: (id) => view.renderReports.take(id),
    transcript: () => session.transcript,
    newChat: () => session.clear(),
    renderMarkdown: async (markdown) => {
      await view.whenReady();
      await view.post({ type: 'append', message: { id: `test-${randomUUID()}`, role: 'assistant', text: markdown, status: 'done' } });
    },
    probe: async () => {
      await view.whenReady();
      const requestId = `probe-${++probes}`;
      const report = view.probeReports.take(requestId);
      await view.post({ type: 'probe', requestId });
      return report;
    },
    codeAction: (action, code) => view.handle({ type: 'codeAction', action, code }),
    applyDiff: (code, confirm) => actions.applyDiff(code, confirm),
  };
}
