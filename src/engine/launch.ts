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
import { spawn, type ForkOptions } from 'node:child_process';
import { constants } from 'node:os';

/**
 * The engine's own process settings. glibc's malloc gives a freed block above its mmap threshold back to
 * the system at once, but it raises that threshold (up to 32 MB) each time it frees such a block; from then
 * on a prompt's large buffers come from the heap and stay resident after they are freed. A fixed threshold
 * (setting it turns the raising off) lets them go: with onnxruntime's arena off as well (session.ts), a
 * 0.5B int8 model decoded in about 690 MB with it and 725-735 MB without, at the same speed; a tokenizer
 * parse left 5 MB behind instead of 16. Other C libraries ignore it.
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

/** Whether this process runs with the engine's settings: its V8 flags, and its environment (or the user's). */
export function hasEngineSettings(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): boolean {
  return missingEngineFlags(execArgv).length === 0 && Object.keys(ENGINE_ENVIRONMENT).every((name) => env[name] !== undefined);
}

/** The engine's V8 flags that `execArgv` does not set; one the user set to another value counts as set. */
export function missingEngineFlags(execArgv: readonly string[]): string[] {
  const named = (arg: string) => arg.split('=', 1)[0]!;
  return ENGINE_V8_FLAGS.filter((flag) => !execArgv.some((arg) => named(arg) === named(flag)));
}

/**
 * A command that decodes in its own process (`chimera serve`, `generate` and `bench`, the real-size
 * benchmark) runs itself again as a child with the engine's settings, when it was started without them,
 * and resolves with the child's exit code. It resolves null when this process already has them (then the
 * caller runs here).
 * Ctrl-C and termination reach the child too (the terminal signals the whole group; a `kill` of this
 * process is passed on), and this process waits for the child to stop.
 */
export function rerunWithEngineSettings(script: string, args: readonly string[]): Promise<number | null> {
  if (hasEngineSettings()) return Promise.resolve(null);
  const flags = [...process.execArgv, ...missingEngineFlags(process.execArgv)];
  const child = spawn(process.execPath, [...flags, script, ...args], { env: { ...ENGINE_ENVIRONMENT, ...process.env }, stdio: 'inherit' });
  const pass = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = pass('SIGINT');
  const onTerm = pass('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)); // the shell's code for a signal
    });
  });
}

/** Runs `command` in this process when it has the engine's settings; otherwise runs the script again with them. */
export async function runWithEngineSettings(script: string, args: readonly string[], command: () => Promise<void>): Promise<void> {
  const rerun = await rerunWithEngineSettings(script, args);
  if (rerun !== null) process.exitCode = rerun;
  else await command();
}
