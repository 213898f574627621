import * as assert from 'node:assert/strict';
import { FORBIDDEN_ATTRIBUTES, FORBIDDEN_TAGS, isSafeUrl, PLAIN_ATTRIBUTES, SANITIZE_POLICY, UNWRAPPED_IN_CODE } from '../../src/webview/sanitizePolicy';

describe('markdown sanitising policy', () => {
  it('allows web, mail and fragment links', () => {
    for (const url of ['https://example.com/a?b#c', 'http://localhost:8080', 'mailto:dev@example.com', '#section', 'HTTPS://EXAMPLE.COM']) {
      assert.equal(isSafeUrl(url), true, url);
    }
  });

  it('refuses script, data, file, command and relative URLs, however they are disguised', () => {
    for (const url of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      ' javascript:alert(1)',
      'java\tscript:alert(1)',
      'java\nscript:alert(1)',
      '\u0000javascript:alert(1)',
      'vbscript:msgbox(1)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'command:workbench.action.terminal.new',
      'vscode://ms-vscode.remote/x',
      '//evil.example/x',
      'relative/path',
      '',
    ]) {
      assert.equal(isSafeUrl(url), false, JSON.stringify(url));
    }
  });

  it('forbids every element that runs code, loads something or restyles the panel', () => {
    for (const tag of ['script', 'style', 'iframe', 'object', 'embed', 'img', 'svg', 'math', 'form', 'link', 'meta', 'base']) {
      assert.ok((FORBIDDEN_TAGS as readonly string[]).includes(tag), tag);
    }
    for (const attribute of ['style', 'id', 'name', 'srcdoc', 'formaction']) {
      assert.ok((FORBIDDEN_ATTRIBUTES as readonly string[]).includes(attribute), attribute);
    }
  });

  it('hands DOMPurify the same URL rule, with data attributes and unknown protocols off', () => {
    assert.equal(SANITIZE_POLICY.ALLOWED_URI_REGEXP.source, /^(?:(?:https?|mailto):|#)/i.source);
    assert.equal(SANITIZE_POLICY.ALLOW_DATA_ATTR, false);
    assert.equal(SANITIZE_POLICY.ALLOW_UNKNOWN_PROTOCOLS, false);
    assert.deepEqual(SANITIZE_POLICY.USE_PROFILES, { html: true });
  });

  it('exempts from the URL rule only attributes that never hold a URL (start, align, colspan…)', () => {
    for (const name of ['start', 'align', 'colspan', 'rowspan']) assert.ok((PLAIN_ATTRIBUTES as readonly string[]).includes(name), name);
    for (const url of ['href', 'src', 'action', 'formaction', 'xlink:href', 'cite', 'data', 'poster', 'background', 'style']) {
      assert.ok(!(SANITIZE_POLICY.ADD_URI_SAFE_ATTR as string[]).includes(url), url);
    }
  });

  it('hides nothing: the hidden attribute is dropped and folding elements are unwrapped inside code', () => {
    assert.ok((FORBIDDEN_ATTRIBUTES as readonly string[]).includes('hidden'));
    assert.deepEqual([...UNWRAPPED_IN_CODE].sort(), ['details', 'rp', 'summary']);
  });
});
