/**
 * Builds the chat webview's HTML. Pure (no vscode import) so the Content-Security-Policy can be
 * unit-tested: nothing loads except our own stylesheet and the one script carrying the nonce.
 */
import { randomBytes } from 'node:crypto';

export interface ChatHtmlInput {
  /** `webview.cspSource`: the origin that serves files from localResourceRoots. */
  cspSource: string;
  /** Fresh per render, from `createNonce()`. */
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

/** 128 random bits from the OS CSPRNG; Math.random would make the nonce guessable. */
export function createNonce(): string {
  return randomBytes(16).toString('base64');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

export function renderChatHtml(input: ChatHtmlInput): string {
  const csp = contentSecurityPolicy(input.cspSource, input.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${escapeAttribute(input.styleUri)}">
  <title>Chimera Chat</title>
</head>
<body>
  <main id="root"></main>
  <script nonce="${escapeAttribute(input.nonce)}" src="${escapeAttribute(input.scriptUri)}"></script>
</body>
</html>
`;
}

function escapeAttribute(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
