/**
 * Desktop launcher for the VS Code test tier: downloads a VS Code build with @vscode/test-electron
 * (needs internet) and runs the same suite as runCodeServer.ts. Prints the same closing line.
 */
import { runTests } from '@vscode/test-electron';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SuiteStats } from './shared';

async function main(): Promise<void> {
  const extensionDevelopmentPath = resolve(__dirname, '../../..');
  const tmp = mkdtempSync(join(tmpdir(), 'chimera-electron-'));
  const statsFile = join(tmp, 'stats.json');
  mkdirSync(join(tmp, 'workspace'));
  let code = 1;
  try {
    code = await runTests({
      // Stable is what most users run; set CHIMERA_VSCODE_VERSION=1.90.0 to test the oldest supported.
      version: process.env.CHIMERA_VSCODE_VERSION ?? 'stable',
      extensionDevelopmentPath,
      extensionTestsPath: join(extensionDevelopmentPath, 'out/test/vscode/index'),
      launchArgs: [join(tmp, 'workspace'), '--disable-extensions', '--disable-workspace-trust', '--user-data-dir', join(tmp, 'ud')],
      extensionTestsEnv: { CHIMERA_TEST_STATS: statsFile },
    }).catch((error: unknown) => {
      console.error(error);
      return 1;
    });
  } finally {
    const stats: SuiteStats | undefined = existsSync(statsFile) ? JSON.parse(readFileSync(statsFile, 'utf8')) : undefined;
    console.log(`${stats?.passes ?? 0} passed, ${stats?.failures ?? 0} failed`);
    if (!stats?.passes) code = code || 1;
    rmSync(tmp, { recursive: true, force: true });
  }
  process.exitCode = code;
}

void main();
