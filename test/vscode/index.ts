/**
 * Mocha entry point loaded by VS Code's extension host as `extensionTestsPath`, by both launchers
 * (runCodeServer.ts offline, runElectron.ts on desktops). VS Code calls `run()` and reports the
 * outcome to the launcher when the returned promise settles.
 */
import Mocha from 'mocha';
import { existsSync, readdirSync, watch, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { SCREENSHOT_MARKER, type SuiteStats } from './shared';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000 });
  // CHIMERA_TEST_GREP runs only the matching tests (the launcher passes CHIMERA_* to the extension host).
  if (process.env.CHIMERA_TEST_GREP) mocha.grep(process.env.CHIMERA_TEST_GREP);
  const suiteDir = join(__dirname, 'suite');
  const files = readdirSync(suiteDir, { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.test.js'))
    .sort();
  for (const file of files) mocha.addFile(join(suiteDir, file));

  return new Promise<void>((resolve, reject) => {
    const runner = mocha.run(async (failures) => {
      const stats: SuiteStats = {
        tests: runner.stats?.tests ?? 0,
        passes: runner.stats?.passes ?? 0,
        failures: runner.stats?.failures ?? failures,
        pending: runner.stats?.pending ?? 0,
        duration: runner.stats?.duration ?? 0,
      };
      const statsFile = process.env.CHIMERA_TEST_STATS;
      if (statsFile) writeFileSync(statsFile, JSON.stringify(stats));
      await pauseForScreenshot();
      if (failures > 0) reject(new Error(`${failures} VS Code test(s) failed`));
      // A suite that silently loaded nothing must not look like a pass.
      else if (stats.passes === 0) reject(new Error(`no VS Code tests ran (found ${files.length} suite files)`));
      else resolve();
    });
  });
}

/**
 * Holds the extension host open while the launcher photographs the window. Once run() settles,
 * VS Code shuts the extension host down and the webviews it owns go blank, so a screenshot taken
 * at exit would show an empty chat view. The launcher names a file in CHIMERA_SCREENSHOT_DONE,
 * watches the log for SCREENSHOT_MARKER, takes the picture, then creates the file.
 */
async function pauseForScreenshot(): Promise<void> {
  const doneFile = process.env.CHIMERA_SCREENSHOT_DONE;
  if (!doneFile) return;
  await vscode.commands.executeCommand('notifications.clearAll');
  await new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      watcher.close();
      resolve();
    };
    // Watch before announcing, so the file cannot appear unnoticed in between.
    const watcher = watch(dirname(doneFile), (_event, name) => {
      if (name === basename(doneFile) || existsSync(doneFile)) finish();
    });
    const timer = setTimeout(() => {
      console.error('the launcher did not confirm the screenshot within 30 s; exiting anyway');
      finish();
    }, 30_000);
    console.log(SCREENSHOT_MARKER);
    if (existsSync(doneFile)) finish();
  });
}
