import * as assert from 'node:assert/strict';
import { contentSecurityPolicy, createNonce, renderChatHtml } from '../../src/extension/chatHtml';

const input = {
  cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
  nonce: 'bm9uY2Utdg==',
  scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/build/chat.js',
  styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/chat.css',
};

function cspOf(html: string): Map<string, string> {
  const content = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1];
  assert.ok(content, 'the page must declare a CSP meta tag');
  const policy = content.replace(/&#39;|&quot;/g, "'");
  return new Map(
    policy.split(';').map((directive) => {
      const [name = '', ...values] = directive.trim().split(/\s+/);
      return [name, values.join(' ')] as const;
    }),
  );
}

describe('chat webview html', () => {
  it('denies everything by default and allows scripts only by nonce', () => {
    const csp = cspOf(renderChatHtml(input));
    assert.equal(csp.get('default-src'), "'none'");
    assert.equal(csp.get('script-src'), `'nonce-${input.nonce}'`);
    assert.equal(csp.get('style-src'), input.cspSource);
    assert.doesNotMatch(contentSecurityPolicy(input.cspSource, input.nonce), /unsafe-(inline|eval)/);
  });

  it('gives the page no way to reach the network or frame other content', () => {
    const csp = cspOf(renderChatHtml(input));
    // Absent directives fall back to default-src 'none': no fetch/XHR/WebSocket, no frames, no workers.
    for (const directive of ['connect-src', 'frame-src', 'child-src', 'worker-src', 'object-src', 'form-action']) {
      assert.equal(csp.get(directive), undefined, directive);
    }
    // No wildcard or bare-scheme source anywhere (cspSource is one specific origin).
    for (const [directive, sources] of csp) assert.doesNotMatch(sources, /(^|\s)(\*|https?:)(\s|$)/, directive);
  });

  it('gives every script tag the nonce and loads only our bundle', () => {
    const html = renderChatHtml(input);
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1] ?? '');
    assert.equal(scripts.length, 1);
    assert.ok(scripts[0]!.includes(`nonce="${input.nonce}"`), scripts[0]);
    assert.ok(scripts[0]!.includes(`src="${input.scriptUri}"`), scripts[0]);
    assert.ok(html.includes(`<link rel="stylesheet" href="${input.styleUri}">`));
  });

  it('escapes attribute values so a URI cannot break out of its attribute', () => {
    const html = renderChatHtml({ ...input, scriptUri: 'x" onload="alert(1)' });
    assert.doesNotMatch(html, /onload="alert/);
    assert.match(html, /src="x&quot; onload=&quot;alert\(1\)"/);
  });

  it('creates a fresh 128-bit base64 nonce each time', () => {
    const nonces = new Set(Array.from({ length: 50 }, createNonce));
    assert.equal(nonces.size, 50);
    for (const nonce of nonces) {
      assert.match(nonce, /^[A-Za-z0-9+/]+=*$/);
      assert.equal(Buffer.from(nonce, 'base64').length, 16);
    }
  });
});
