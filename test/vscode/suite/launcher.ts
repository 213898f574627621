/**
 * What only the browser can do, asked from inside the suite: the offline launcher (runCodeServer)
 * presses real keys, so VS Code's own keybinding dispatch runs, or reads text from the page. Under a
 * launcher that does neither (CHIMERA_LAUNCHER_DONE unset, e.g. test-electron) the calls return
 * undefined at once, and tests skip what needs them.
 */
import { existsSync, readFileSync, rmSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { LAUNCHER_REQUEST_PREFIX, type LauncherReply, type LauncherRequest } from '../shared';

const MODIFIERS: Record<string, string> = { ctrl: 'Control', shift: 'Shift', alt: 'Alt', meta: 'Meta', cmd: 'Meta', win: 'Meta' };
const NAMED: Record<string, string> = {
  '\\': 'Backslash',
  '/': 'Slash',
  ';': 'Semicolon',
  "'": 'Quote',
  ',': 'Comma',
  '.': 'Period',
  '[': 'BracketLeft',
  ']': 'BracketRight',
  '`': 'Backquote',
  '-': 'Minus',
  '=': 'Equal',
  space: 'Space',
  enter: 'Enter',
  escape: 'Escape',
  tab: 'Tab',
};

/**
 * A VS Code key string ("ctrl+k shift+c", "alt+\\") as Playwright key presses, one per chord part
 * (["Control+KeyK", "Shift+KeyC"]): physical key codes, which VS Code dispatches by in a browser.
 */
export function playwrightKeys(vscodeKey: string): string[] {
  return vscodeKey.split(' ').map((chord) => {
    const parts = chord.split('+');
    const key = parts.pop()!;
    const mods = parts.map((m) => {
      const mod = MODIFIERS[m];
      if (!mod) throw new Error(`unknown modifier '${m}' in '${vscodeKey}'`);
      return mod;
    });
    let code: string | undefined;
    if (/^[a-z]$/.test(key)) code = `Key${key.toUpperCase()}`;
    else if (/^[0-9]$/.test(key)) code = `Digit${key}`;
    else if (/^f([1-9]|1[0-9])$/.test(key)) code = key.toUpperCase();
    else code = NAMED[key];
    if (!code) throw new Error(`unknown key '${key}' in '${vscodeKey}'`);
    return [...mods, code].join('+');
  });
}

let counter = 0;

async function ask(request: Omit<LauncherRequest, 'id'>, timeoutMs = 20_000): Promise<LauncherReply | undefined> {
  const base = process.env.CHIMERA_LAUNCHER_DONE;
  if (!base) return undefined;
  // Each test file is its own bundle with its own counter, so the time and a random part keep ids apart.
  const id = `${Date.now()}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  const done = `${base}-${id}`;
  await new Promise<void>((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      watcher.close();
      if (error) reject(error);
      else resolve();
    };
    // Watch before asking, so the reply cannot appear unnoticed in between.
    const watcher = watch(dirname(done), (_event, file) => {
      if (file === basename(done) || existsSync(done)) finish();
    });
    const timer = setTimeout(() => finish(new Error(`the launcher did not answer ${JSON.stringify(request)} within ${timeoutMs} ms`)), timeoutMs);
    console.log(`${LAUNCHER_REQUEST_PREFIX}${JSON.stringify({ id, ...request })}`);
    if (existsSync(done)) finish();
  });
  const reply = JSON.parse(readFileSync(done, 'utf8')) as LauncherReply;
  rmSync(done, { force: true });
  if (reply.error) throw new Error(`the launcher failed ${JSON.stringify(request)}: ${reply.error}`);
  return reply;
}

/** Presses `vscodeKey` in the browser window; false when the launcher cannot press keys. */
export async function pressKeys(vscodeKey: string): Promise<boolean> {
  return (await ask({ keys: playwrightKeys(vscodeKey) })) !== undefined;
}

/** Whether a launcher answers requests (the offline one does; test-electron does not). */
export function hasLauncher(): boolean {
  return Boolean(process.env.CHIMERA_LAUNCHER_DONE);
}

/** The text of every element matching `selector` in the page and its frames (webviews); undefined without a launcher. */
export async function pageTexts(selector: string): Promise<string[] | undefined> {
  return (await ask({ texts: selector }))?.texts;
}
