/** `chimera serve` as a real process for the HTTP tiers: its address, its log, and a way to wait on a log line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fixtureDir } from './models';
import { repoRoot } from './paths';

export interface Served {
  process: ChildProcess;
  base: string;
  port: number;
  /** Everything the server has written to stderr so far. */
  log(): string;
  /** Resolves with the first log line matching `pattern` (already written, or written later). */
  waitForLog(pattern: RegExp): Promise<string>;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
}

export async function startServe(args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const port = args.includes('--port') ? [] : ['--port', '0'];
  const model = args.includes('--model') ? [] : ['--model', fixtureDir];
  const child = spawn(process.execPath, [join(repoRoot, 'dist/cli.js'), 'serve', ...port, ...model, '--device', 'cpu', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CHIMERA_API_TOKEN: '', ...env },
  });
  let err = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    for (const w of [...waiters]) {
      const line = err.split('\n').find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waitForLog = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const line = err.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) return resolve(line);
      waiters.push({ pattern, resolve });
      void exited.then(() => reject(new Error(`serve exited before logging ${pattern}:\n${err}`)));
    });
  const ready = await waitForLog(/at http:\/\/127\.0\.0\.1:\d+\/v1/);
  const base = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(ready)![1]!;
  return {
    process: child,
    base,
    port: Number(new URL(base).port),
    log: () => err,
    waitForLog,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Reads a server-sent event stream into its data payloads, in order ([DONE] included when sent). */
export async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => b.slice(6));
}
