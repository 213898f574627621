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
