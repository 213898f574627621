/** The `chimera.chat` webview view in the Chimera activity-bar container. */
import * as vscode from 'vscode';
import { isWebviewToExtension, type ExtensionToWebview } from '../webview/messages';
import { createNonce, renderChatHtml } from './chatHtml';

export const CHAT_VIEW_ID = 'chimera.chat';

/** A promise with its resolver exposed, so an event can settle it later. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private readonly resolved = signal();
  private readonly ready = signal();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Settles once VS Code has created the view and we have set its HTML. */
  whenResolved(): Promise<void> {
    return this.resolved.promise;
  }

  /** Settles once the webview script has run (so the CSP let it load) and said `ready`. */
  whenReady(): Promise<void> {
    return this.ready.promise;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const webview = view.webview;
    webview.options = { enableScripts: true, localResourceRoots: [media] };
    webview.html = renderChatHtml({
      cspSource: webview.cspSource,
      nonce: createNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'build', 'chat.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css')).toString(),
    });
    this.disposables.push(
      webview.onDidReceiveMessage((message: unknown) => this.onMessage(webview, message)),
    );
    this.log.info('Chat view resolved.');
    this.resolved.resolve();
  }

  private onMessage(webview: vscode.Webview, message: unknown): void {
    if (!isWebviewToExtension(message)) {
      this.log.warn(`Chat view sent an unknown message: ${JSON.stringify(message)}`);
      return;
    }
    switch (message.type) {
      case 'ready': {
        this.ready.resolve();
        const status: ExtensionToWebview = {
          type: 'status',
          engine: 'unavailable',
          detail: 'Chat is not available yet in this build: the local engine arrives in a later version.',
        };
        void webview.postMessage(status);
        break;
      }
    }
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
