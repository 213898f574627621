/**
 * The `chimera.chat` webview view in the Chimera activity-bar container: a thin adapter between the
 * webview (untrusted: every message is checked) and the ChatSession, the engine status and the
 * code block actions. The conversation lives in the session, so the view can be closed, re-created
 * or opened late (Explain opens it) and is brought up to date from the transcript on `ready`.
 */
import * as vscode from 'vscode';
import { EngineUnavailableError } from '../engine/client';
import { isWebviewToExtension, type ExtensionToWebview, type ProbeReport, type WebviewToExtension } from '../webview/messages';
import { contextCharBudget } from './chatHistory';
import type { CodeBlockActions } from './chatCodeActions';
import { createNonce, renderChatHtml } from './chatHtml';
import type { ChatSession, DescribedError } from './chatSession';
import type { BackendService } from './backendService';
import { ACTION_COMMANDS } from './serverView';
import { errorActions, type ChatStatus } from './engineView';
import { describeEngineError } from './engineService';
import { editorAttachment } from './explain';

export const CHAT_VIEW_ID = 'chimera.chat';

export type StatusMessage = ChatStatus;

/** What the webview received for one reply (see the `rendered` message). */
export interface RenderReport {
  pieces: number;
  text: string;
}

/** A promise with its resolver exposed, so an event can settle it later. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Values that arrive by key, possibly before anyone asks for them; keeps only the newest few. */
class Mailbox<T> {
  private readonly values = new Map<string, T>();
  private readonly waiting = new Map<string, (value: T) => void>();

  put(key: string, value: T): void {
    const waiter = this.waiting.get(key);
    this.waiting.delete(key);
    if (waiter) return waiter(value);
    this.values.set(key, value);
    for (const old of [...this.values.keys()].slice(0, -20)) this.values.delete(old);
  }

  take(key: string): Promise<T> {
    const value = this.values.get(key);
    if (value !== undefined) return Promise.resolve(value);
    return new Promise<T>((resolve) => this.waiting.set(key, resolve));
  }
}

export interface ChatViewDeps {
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  session: ChatSession;
  backends: BackendService;
  actions: CodeBlockActions;
}

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private readonly resolved = signal();
  private readonly ready = signal();
  private readonly readyListeners = new Set<() => void>();
  private readonly disposables: vscode.Disposable[] = [];
  private view: vscode.WebviewView | undefined;
  /** Messages posted before the script listens would be lost; until `ready`, the transcript covers them. */
  private webviewReady = false;
  readonly renderReports = new Mailbox<RenderReport>();
  readonly probeReports = new Mailbox<ProbeReport>();
  private readonly statusEmitter = new vscode.EventEmitter<StatusMessage>();
  /** Fires with every engine status the header is given (tests check that a switch shows no error). */
  readonly onDidShowStatus = this.statusEmitter.event;

  constructor(private readonly deps: ChatViewDeps) {
    const sub = deps.session.onEvent((event) => this.post(event));
    this.disposables.push({ dispose: () => sub.dispose() }, this.statusEmitter, deps.backends.onDidChange(() => this.post(this.status())));
  }

  /** Settles once VS Code has created the view and we have set its HTML. */
  whenResolved(): Promise<void> {
    return this.resolved.promise;
  }

  /** Settles once the webview script has run (so the CSP let it load) and said `ready`. */
  whenReady(): Promise<void> {
    return this.ready.promise;
  }

  /** Settles the next time a webview says `ready` (a re-created view, for instance). */
  nextReady(): Promise<void> {
    return new Promise<void>((resolve) => {
      const listener = () => {
        this.readyListeners.delete(listener);
        resolve();
      };
      this.readyListeners.add(listener);
    });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    const media = vscode.Uri.joinPath(this.deps.extensionUri, 'media');
    const webview = view.webview;
    this.view = view;
    this.webviewReady = false;
    webview.options = { enableScripts: true, localResourceRoots: [media] };
    webview.html = renderChatHtml({
      cspSource: webview.cspSource,
      nonce: createNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'build', 'chat.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css')).toString(),
    });
    const received = webview.onDidReceiveMessage((message: unknown) => this.onMessage(message));
    view.onDidDispose(() => {
      received.dispose();
      if (this.view === view) this.view = undefined;
    });
    this.deps.log.info('Chat view resolved.');
    this.resolved.resolve();
  }

  /** Sends to the webview if it is listening; otherwise the transcript on `ready` will carry it. */
  post(message: ExtensionToWebview): Thenable<boolean> {
    if (!this.view || !this.webviewReady) return Promise.resolve(false);
    return this.view.webview.postMessage(message);
  }

  private onMessage(message: unknown): void {
    if (!isWebviewToExtension(message)) {
      this.deps.log.warn(`Chat view sent an unknown message: ${JSON.stringify(message)?.slice(0, 200)}`);
      return;
    }
    this.handle(message).catch((err: unknown) => this.deps.log.error(`Chat: ${message.type} failed: ${describeEngineError(err)}`));
  }

  /** Acts on a checked webview message; the returned promise is what tests await. */
  handle(message: WebviewToExtension): Promise<unknown> {
    switch (message.type) {
      case 'ready':
        return this.onReady();
      case 'send':
        if (message.text.trim().length === 0) return Promise.resolve();
        return this.deps.session.ask({ text: message.text, kind: 'ask', attachment: message.includeContext ? this.contextAttachment() : undefined });
      case 'stop':
        return this.deps.session.stop();
      case 'newChat':
        return this.deps.session.clear();
      case 'codeAction':
        return this.deps.actions.run(message.action, message.code);
      case 'runAction':
        return Promise.resolve(vscode.commands.executeCommand(ACTION_COMMANDS[message.action]));
      case 'rendered':
        this.renderReports.put(message.id, { pieces: message.pieces, text: message.text });
        return Promise.resolve();
      case 'probeResult':
        this.probeReports.put(message.requestId, message.report);
        return Promise.resolve();
    }
  }

  private async onReady(): Promise<void> {
    this.webviewReady = true;
    await this.post(this.status());
    await this.post({ type: 'transcript', messages: [...this.deps.session.transcript] });
    this.ready.resolve();
    for (const listener of [...this.readyListeners]) listener();
  }

  private contextAttachment() {
    const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors[0];
    if (!editor) {
      void vscode.window.showInformationMessage('Chimera: no editor is open, so the question was sent without code context.');
      return undefined;
    }
    return editorAttachment(editor, 'file', contextCharBudget(this.deps.backends.model?.maxContext));
  }

  private status(): StatusMessage {
    const status = this.deps.backends.chatStatus();
    this.statusEmitter.fire(status);
    return status;
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/**
 * An error as the panel shows it: the reason, and Select model… when the model is the problem. While a
 * model loads (`loading`), the engine going away is the switch itself, so the reply is only interrupted.
 */
export function describeChatError(err: unknown, loading = false): DescribedError {
  if (loading && err instanceof EngineUnavailableError) {
    return { message: 'The engine restarted to load a model before the reply finished. Ask again to get a full answer.', actions: [], interrupted: true };
  }
  const message = typeof err === 'string' ? err : describeEngineError(err);
  return { message, actions: errorActions(message) };
}
