/**
 * Offline launcher for the VS Code test tier (see ../shared/vscode-ci.md in the workspace).
 *
 * @vscode/test-electron cannot download VS Code on machines without internet, so this runs the
 * same mocha suite inside the real extension host of the VS Code server shipped in the npm package
 * code-server (VS Code 1.100.3), driven by Debian's headless Chromium through playwright-core.
 *
 * Env:
 *   CHIMERA_SCREENSHOT  save a PNG of the window here when the suite finishes
 *   CHIMERA_CHROMIUM    browser executable (default /usr/bin/chromium)
 * Prints `N passed, M failed` on its own line; exits non-zero on failure, when nothing ran,
 * and with 124 after OVERALL_TIMEOUT_MS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { format } from 'node:util';
import { LAUNCHER_REQUEST_PREFIX, NAMED_SCREENSHOT_PREFIX, SCREENSHOT_MARKER, type LauncherReply, type LauncherRequest, type SuiteStats } from './shared';

const OVERALL_TIMEOUT_MS = 300_000;
const EXIT_TIMEOUT = 124;
const CHROMIUM = process.env.CHIMERA_CHROMIUM ?? '/usr/bin/chromium';

const extensionRoot = resolve(__dirname, '../../..');
const testsEntry = join(extensionRoot, 'out/test/vscode/index'); // VS Code adds `.js` itself
const serverEntry = join(extensionRoot, 'node_modules/code-server/out/node/entry.js');

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * The model the suite's engine loads: CHIMERA_TEST_MODEL, else the bundled default model once it is
 * built, else the tiny random test fixture. `chimera.modelPath` is machine-scoped, so it goes in the
 * remote's Machine settings (and User settings, which test-electron-style hosts read).
 */
function writeTestSettings(tmp: string): void {
  const defaultModel = join(extensionRoot, 'models/default');
  const model = process.env.CHIMERA_TEST_MODEL ?? (existsSync(join(defaultModel, 'chimera.json')) ? defaultModel : join(extensionRoot, 'test/fixtures/tiny-package'));
  const settings = JSON.stringify({ 'chimera.modelPath': model, 'chimera.device': 'cpu', 'editor.inlineSuggest.enabled': true, 'workbench.startupEditor': 'none' }, null, 2);
  for (const scope of ['Machine', 'User']) {
    mkdirSync(join(tmp, 'ud', scope), { recursive: true });
    writeFileSync(join(tmp, 'ud', scope, 'settings.json'), settings);
  }
  console.log(`test model: ${model}`);
}

/**
 * Links the extension into the extensions folder too, as a user's installed copy (the development copy
 * still runs), so that its page in the Extensions view exists for the tests and screenshots. Removing
 * the temporary folder removes the link, never what it points to.
 */
function installSelf(extensionsDir: string): void {
  const { publisher, name, version } = JSON.parse(readFileSync(join(extensionRoot, 'package.json'), 'utf8')) as Record<string, string>;
  mkdirSync(extensionsDir, { recursive: true });
  symlinkSync(extensionRoot, join(extensionsDir, `${publisher}.${name}-${version}`), 'dir');
}

/** Starts code-server in its own process group and resolves once it is listening. */
function startServer(tmp: string, port: number, workspace: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  // Always pass --config: without it code-server writes ~/.config/code-server.
  const config = join(tmp, 'config.yaml');
  writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const args = [
    serverEntry,
    '--config', config,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', join(tmp, 'ud'),
    '--extensions-dir', join(tmp, 'ext'),
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    workspace,
  ];
  const server = spawn(process.execPath, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolveServer, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      process.stderr.write(`[code-server] ${text}`);
      if (output.includes('HTTP server listening')) resolveServer(server);
    };
    server.stdout?.on('data', onData);
    server.stderr?.on('data', onData);
    server.once('error', reject);
    server.once('exit', (code, signal) => reject(new Error(`code-server exited early (${code ?? signal})\n${output}`)));
  });
}

/** The running server, so the overall timeout can kill it too. */
let activeServer: ChildProcess | undefined;

function stopServer(server: ChildProcess | undefined): void {
  if (!server?.pid || server.exitCode !== null) return;
  try {
    process.kill(-server.pid, 'SIGKILL'); // the whole group: code-server forks the extension host
  } catch {
    // Already gone.
  }
}

function remoteUri(port: number, path: string): string {
  return `vscode-remote://127.0.0.1:${port}${path}`;
}

/** A frame that navigates or goes away while it is read; reading the page again gets its new content. */
const FRAME_CHANGED = /Execution context was destroyed|Frame was detached|frame got detached/i;

/**
 * The text of every element matching `selector` in every frame, webviews included (the README and
 * walkthrough pages render in iframes). A webview that reloads mid-read is read again, a few times.
 */
async function frameTexts(page: Page, selector: string): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const texts: string[] = [];
      for (const frame of page.frames()) texts.push(...(await frame.locator(selector).allTextContents()));
      return texts;
    } catch (error) {
      if (attempt >= 5 || !FRAME_CHANGED.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function runSuite(tmp: string): Promise<number> {
  const port = await freePort();
  const workspace = join(tmp, 'workspace');
  mkdirSync(workspace, { recursive: true });
  writeFileSync(join(workspace, 'example.py'), 'def add(a, b):\n    return a + b\n');
  installSelf(join(tmp, 'ext'));
  writeTestSettings(tmp);
  const statsFile = join(tmp, 'stats.json');
  const screenshot = process.env.CHIMERA_SCREENSHOT;
  const screenshotDone = join(tmp, 'screenshot-done');
  const launcherDone = join(tmp, 'launcher-done');

  // The extension host inherits the server's environment, so CHIMERA_* reaches the suite this way.
  const serverEnv: NodeJS.ProcessEnv = {
    ...process.env,
    EXTENSIONS_GALLERY: '{}',
    XDG_CONFIG_HOME: join(tmp, 'xdg-config'),
    XDG_DATA_HOME: join(tmp, 'xdg-data'),
    CHIMERA_TEST_STATS: statsFile,
    CHIMERA_LAUNCHER_DONE: launcherDone,
    ...(screenshot ? { CHIMERA_SCREENSHOT_DONE: screenshotDone } : {}),
  };

  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  try {
    server = await startServer(tmp, port, workspace, serverEnv);
    activeServer = server;
    const home = join(tmp, 'home');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        XDG_CONFIG_HOME: join(home, '.config'),
        XDG_CACHE_HOME: join(home, '.cache'),
        XDG_DATA_HOME: join(home, '.local/share'),
      },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });

    let exitWith: (code: number) => void = () => undefined;
    const exited = new Promise<number>((r) => (exitWith = r));
    let shot: Promise<void> | undefined;
    const takeScreenshot = (path: string) =>
      (shot ??= (async () => {
        mkdirSync(dirname(resolve(path)), { recursive: true });
        await page.screenshot({ path }).catch((e: unknown) => console.error(`screenshot failed: ${String(e)}`));
      })());

    // A suite asks for the browser (keybinding and walkthrough tests): press keys or read the page, then reply.
    const answer = async (request: LauncherRequest) => {
      const reply: LauncherReply = {};
      try {
        for (const key of request.keys ?? []) await page.keyboard.press(key);
        if (request.texts) reply.texts = await frameTexts(page, request.texts);
      } catch (error) {
        reply.error = String(error);
      }
      // Written whole, then renamed: the suite reads the reply as soon as the name appears.
      const done = `${launcherDone}-${request.id.replace(/[^\w-]/g, '_')}`;
      writeFileSync(`${done}.tmp`, JSON.stringify(reply));
      renameSync(`${done}.tmp`, done);
    };

    await page.exposeFunction('codeAutomationLog', async (type: string, message: unknown) => {
      const text = readableLog(message);
      process.stdout.write(`[${type}] ${text}\n`);
      // The suite has finished and holds the extension host (and so the chat webview) open for us.
      if (screenshot && text === SCREENSHOT_MARKER) {
        await takeScreenshot(screenshot);
        writeFileSync(screenshotDone, '');
      }
      if (text.startsWith(LAUNCHER_REQUEST_PREFIX)) await answer(JSON.parse(text.slice(LAUNCHER_REQUEST_PREFIX.length)) as LauncherRequest);
      // A suite asks for a named picture mid-run and waits for the done file.
      if (screenshot && text.startsWith(NAMED_SCREENSHOT_PREFIX)) {
        const name = text.slice(NAMED_SCREENSHOT_PREFIX.length).replace(/[^\w-]/g, '_');
        const path = join(dirname(resolve(screenshot)), `${name}.png`);
        mkdirSync(dirname(path), { recursive: true });
        await page.screenshot({ path }).catch((e: unknown) => console.error(`screenshot ${name} failed: ${String(e)}`));
        console.log(`screenshot: ${path}`);
        writeFileSync(`${screenshotDone}-${name}`, '');
      }
    });
    await page.exposeFunction('codeAutomationExit', async (code: number) => {
      // Fallback when the suite never got to the marker (for example it crashed): capture what is left.
      if (screenshot) await takeScreenshot(screenshot);
      exitWith(code);
    });

    const payload = [
      ['extensionDevelopmentPath', remoteUri(port, extensionRoot)],
      ['extensionTestsPath', remoteUri(port, testsEntry)],
      ['skipWelcome', 'true'],
    ];
    const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);
    const code = await exited;
    if (screenshot) console.log(`screenshot: ${resolve(screenshot)}`);
    return report(code, statsFile);
  } finally {
    await browser?.close().catch(() => undefined);
    stopServer(server);
  }
}

/** The workbench forwards console calls as the array of console arguments; format them like console.log. */
function readableLog(message: unknown): string {
  if (Array.isArray(message)) return format(...(message as unknown[]));
  return typeof message === 'string' ? message : JSON.stringify(message);
}

/** Prints the closing line CI reads and decides the exit code from the real mocha counts. */
function report(code: number, statsFile: string): number {
  if (!existsSync(statsFile)) {
    console.log('0 passed, 0 failed');
    console.error(`the suite wrote no stats (extension host exit code ${code})`);
    return 1;
  }
  const stats = JSON.parse(readFileSync(statsFile, 'utf8')) as SuiteStats;
  console.log(`${stats.passes} passed, ${stats.failures} failed`);
  if (stats.passes === 0) console.error('no tests ran');
  return code === 0 && stats.failures === 0 && stats.passes > 0 ? 0 : 1;
}

async function main(): Promise<void> {
  if (!existsSync(serverEntry)) throw new Error(`code-server is not installed (${serverEntry}); run npm ci`);
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}; install Debian's chromium or set CHIMERA_CHROMIUM`);
  const tmp = mkdtempSync(join(tmpdir(), 'chimera-vscode-'));
  const timer = setTimeout(() => {
    console.log('0 passed, 0 failed');
    console.error(`VS Code tests timed out after ${OVERALL_TIMEOUT_MS / 1000} s`);
    stopServer(activeServer);
    rmSync(tmp, { recursive: true, force: true });
    process.exit(EXIT_TIMEOUT);
  }, OVERALL_TIMEOUT_MS);
  try {
    process.exitCode = await runSuite(tmp);
  } finally {
    clearTimeout(timer);
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
