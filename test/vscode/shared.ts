/** What the suite entry (index.ts, inside VS Code) and the launchers (plain Node) agree on. No vscode import. */

/** Written to the file named by CHIMERA_TEST_STATS when the suite finishes. */
export interface SuiteStats {
  tests: number;
  passes: number;
  failures: number;
  pending: number;
  duration: number;
}

/** Logged when the window is ready for the launcher's screenshot; see pauseForScreenshot in index.ts. */
export const SCREENSHOT_MARKER = 'chimera:screenshot-ready';

/**
 * Logged by a suite that wants a named picture mid-run (`chimera:screenshot:<name>`); the launcher saves
 * it next to CHIMERA_SCREENSHOT as <name>.png and creates `${CHIMERA_SCREENSHOT_DONE}-<name>`.
 */
export const NAMED_SCREENSHOT_PREFIX = 'chimera:screenshot:';

/**
 * Logged by a suite that needs the browser (`chimera:launcher:<JSON LauncherRequest>`): the launcher
 * presses keys (so VS Code's own keybinding dispatch runs) or reads text from the page, then writes a
 * LauncherReply as JSON to `${CHIMERA_LAUNCHER_DONE}-<id>`.
 */
export const LAUNCHER_REQUEST_PREFIX = 'chimera:launcher:';

export interface LauncherRequest {
  id: string;
  /** Playwright key presses, in order ("Control+KeyK", "Shift+KeyC"). */
  keys?: string[];
  /** A CSS selector: the reply holds the text of every matching element, in the page and its frames. */
  texts?: string;
}

export interface LauncherReply {
  texts?: string[];
  error?: string;
}
