/**
 * `chimera serve` against web pages, in real Chromium (Debian's, through playwright-core, as the VS Code
 * tier drives it). Chromium resolves evil.example to 127.0.0.1, so an "attacker's" page is served from
 * this machine and nothing leaves it:
 * - a cross-site page POSTs a generation with Content-Type text/plain (no CORS preflight needed);
 * - a DNS-rebinding page: loaded from evil.example:P, then the server behind port P becomes chimera
 *   serve, and the page reads /v1/models as a same-origin request (Host: evil.example:P).
 */
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServe, type Served } from '../support/serve';

const CHROMIUM = process.env.CHIMERA_CHROMIUM ?? '/usr/bin/chromium';

/** A plain page server, standing in for the attacker's web site. */
async function pageServer(port = 0): Promise<Server> {
  const server = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html', connection: 'close' });
    res.end('<!doctype html><title>a web page</title><p>Nothing to see here.</p>');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return server;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('chimera serve against web pages (real Chromium)', function () {
  this.timeout(90_000);
  let browser: Browser;
  let page: Page;

  before(async function () {
    if (!existsSync(CHROMIUM)) this.skip();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-dev-shm-usage', '--host-resolver-rules=MAP evil.example 127.0.0.1'],
    });
  });
  beforeEach(async () => (page = await browser.newPage()));
  afterEach(() => page.close());
  after(() => browser?.close());

  it('a cross-site page cannot make it generate, even with a text/plain POST', async () => {
    const served: Served = await startServe([], { CHIMERA_LOG: 'debug' });
    const site = await pageServer();
    try {
      await page.goto(`http://evil.example:${(site.address() as AddressInfo).port}/`);
      const api = `${served.base}/v1/completions`;
      // What a page can send without a CORS preflight: the response is opaque, but the request arrives.
      const sent = await page.evaluate(async (url) => {
        const res = await fetch(url, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ prompt: 'pwned by a web page', max_tokens: 8 }) });
        return res.type;
      }, api);
      assert.equal(sent, 'opaque');
      // The server says what it did with it: refused (before), or generated ("api: 8 tokens").
      const outcome = await served.waitForLog(/refused POST \/v1\/completions|api: \d+ tokens/);
      assert.match(outcome, /refused POST \/v1\/completions \(403 origin_not_allowed\)/);
      assert.doesNotMatch(served.log(), /api: \d+ tokens/, 'nothing was generated');
    } finally {
      await close(site);
      await served.stop();
    }
  });

  it('a DNS-rebinding page cannot read its answers', async () => {
    // The page loads from evil.example:P while P is the attacker's server...
    const site = await pageServer();
    const port = (site.address() as AddressInfo).port;
    await page.goto(`http://evil.example:${port}/`);
    await close(site);
    // ...then port P is chimera serve's, and the page's same-origin requests reach it.
    const served = await startServe(['--port', String(port)]);
    try {
      const seen = await page.evaluate(async () => {
        const res = await fetch('/v1/models');
        return { status: res.status, body: await res.text() };
      });
      assert.equal(seen.status, 403, `the page read: ${seen.body}`);
      assert.doesNotMatch(seen.body, /chimera-test-fixture/);
      assert.match(served.log(), /refused GET \/v1\/models \(403 host_not_allowed\)/);
    } finally {
      await served.stop();
    }
  });
});
