/**
 * How the extension host starts the engine process, the same on every platform.
 *
 * - `fork` runs `process.execPath` with the engine file as one argument, never through a shell, so a path
 *   with spaces, quotes or backslashes (a Windows user folder, `C:\Users\Ana María\.vscode\extensions`)
 *   arrives as it is, with nothing to quote or escape.
 * - Under VS Code `process.execPath` is Electron: ELECTRON_RUN_AS_NODE=1 makes it run the engine as plain
 *   Node. It is set last, so no inherited or configured environment can turn it off.
 * - `execArgv` holds only the engine's own V8 flags (ENGINE_V8_FLAGS): the extension host's flags
 *   (`--inspect` when debugging, Electron switches) must not reach the engine, where a second debugger on
 *   the same port would stop it starting. (V8 reads heap flags only at start, so they cannot be set later.)
 * - stdout is ignored (the protocol runs over the IPC channel), stderr carries the engine's log lines.
 * - ENGINE_ENVIRONMENT comes first, so a user's own setting of the same variables wins.
 */
import type { ForkOptions } from 'node:child_process';

/**
 * The engine's own process settings. glibc's malloc gives a freed block above its mmap threshold back to
 * the system at once, but it raises that threshold (up to 32 MB) each time it frees such a block; from then
 * on a prompt's large buffers come from the heap and stay resident after they are freed. A fixed threshold
 * (setting it turns the raising off) lets them go: a 0.5B int8 model decoded in about 690 MB instead of 735,
 * at the same speed, and a tokenizer parse left 5 MB behind instead of 16. Other C libraries ignore it.
 */
export const ENGINE_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: String(2 ** 20) };

/**
 * V8's young generation grows to 32 MB while a long prompt is tokenized, and keeps those pages. 2 MB
 * semi-spaces kept the tokenizer's resident memory 11-17 MB lower, and the bundled model's decode speed
 * was unchanged (more, smaller scavenges of the few short-lived objects a step makes).
 */
export const ENGINE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

export function engineForkOptions(inherited: NodeJS.ProcessEnv, configured: NodeJS.ProcessEnv = {}): ForkOptions {
  return {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...ENGINE_ENVIRONMENT, ...inherited, ...configured, ELECTRON_RUN_AS_NODE: '1' },
    execArgv: [...ENGINE_V8_FLAGS],
  };
}
