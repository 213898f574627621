/**
 * Chat webview script (bundled to media/build/chat.js, runs in the webview's browser sandbox).
 * For now it shows an empty state and the engine status; the chat issue adds the conversation UI.
 * It builds the DOM with textContent only, never innerHTML, so no string can become markup.
 */
import { isExtensionToWebview, type ExtensionToWebview, type WebviewToExtension } from './messages';

interface VsCodeApi {
  postMessage(message: WebviewToExtension): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderEmptyState(root: HTMLElement): HTMLElement {
  const panel = element('section', 'empty-state');
  panel.append(
    element('h2', 'empty-title', 'Chimera Chat'),
    element('p', 'empty-text', 'Private code chat with a model that runs on this machine. Nothing is sent anywhere.'),
  );
  const status = element('p', 'status');
  status.setAttribute('role', 'status');
  status.textContent = 'Connecting…';
  panel.append(status);
  root.replaceChildren(panel);
  return status;
}

function showStatus(status: HTMLElement, message: ExtensionToWebview): void {
  status.dataset.engine = message.engine;
  status.textContent = message.detail;
}

const root = document.getElementById('root');
if (root) {
  const status = renderEmptyState(root);
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (isExtensionToWebview(event.data)) showStatus(status, event.data);
  });
  vscode.postMessage({ type: 'ready' });
}
