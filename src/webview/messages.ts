/**
 * Messages between the chat webview and the extension host. Shared by both sides (this file
 * imports neither vscode nor the DOM), so a message shape can only change in one place.
 */

/** What the engine can offer the chat right now, as shown in the panel. */
export type EngineAvailability = 'unavailable' | 'starting' | 'ready';

export type WebviewToExtension =
  /** The script has loaded (so the CSP allowed it) and can receive messages. */
  { type: 'ready' };

export type ExtensionToWebview =
  /** Sent in reply to `ready`: the panel's initial status. */
  { type: 'status'; engine: EngineAvailability; detail: string };

/** Checks a message coming from the webview; the webview is untrusted input as far as the host is concerned. */
export function isWebviewToExtension(value: unknown): value is WebviewToExtension {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'ready';
}

/** Checks a message arriving in the webview before it touches the DOM. */
export function isExtensionToWebview(value: unknown): value is ExtensionToWebview {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; engine?: unknown; detail?: unknown };
  return (
    message.type === 'status' &&
    (message.engine === 'unavailable' || message.engine === 'starting' || message.engine === 'ready') &&
    typeof message.detail === 'string'
  );
}
