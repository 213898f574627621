/**
 * How the extension host starts the engine process, the same on every platform.
 *
 * - `fork` runs `process.execPath` with the engine file as one argument, never through a shell, so a path
 *   with spaces, quotes or backslashes (a Windows user folder, `C:\Users\Ana María\.vscode\extensions`)
 *   arrives as it is, with nothing to quote or escape.
 * - Under VS Code `process.execPath` is Electron: ELECTRON_RUN_AS_NODE=1 makes it run the engine as plain
 *   Node. It is set last, so no inherited or configured environment can turn it off.
 * - `execArgv` is empty: the extension host's own flags (`--inspect` when debugging, Electron switches)
 *   must not reach the engine, where a second debugger on the same port would stop it starting.
 * - stdout is ignored (the protocol runs over the IPC channel), stderr carries the engine's log lines.
 */
import type { ForkOptions } from 'node:child_process';

export function engineForkOptions(inherited: NodeJS.ProcessEnv, configured: NodeJS.ProcessEnv = {}): ForkOptions {
  return {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...inherited, ...configured, ELECTRON_RUN_AS_NODE: '1' },
    execArgv: [],
  };
}
