/**
 * `chimera serve`: the engine in this process, behind an OpenAI-compatible HTTP API on 127.0.0.1, closed
 * to web pages (see engine/httpGuard.ts) and, with a token (--token-file, CHIMERA_API_TOKEN or --token),
 * to tokenless clients.
 */
import { readFileSync } from 'node:fs';
import { Engine } from '../engine/engine';
import { startHttpServer } from '../engine/http';
import type { ServeArgs } from './args';
import { stderrLogger } from './common';

export async function runServe(args: ServeArgs): Promise<void> {
  // The token first: a bad token file is reported before the model loads.
  const token = args.token ?? (args.tokenFile !== undefined ? readToken(args.tokenFile) : process.env.CHIMERA_API_TOKEN?.trim() || undefined);
  if (args.token !== undefined) process.stderr.write('chimera: note: --token can be read by other users of this machine in the process list; --token-file or CHIMERA_API_TOKEN keep it private\n');
  const log = stderrLogger();
  const engine = new Engine(log);
  const info = await engine.load(args.model ?? '', args.device, args.maxContext);
  const server = await startHttpServer(engine, { port: args.port, token, maxQueue: args.maxQueue, log });
  const access = token ? 'bearer token required' : 'no token';
  process.stderr.write(`chimera: serving ${info.model.name} on ${info.device.kind} at http://127.0.0.1:${server.port}/v1 (local only, ${access}; Ctrl-C stops)\n`);
  const stop = () => {
    engine.cancelAll('the server is stopping');
    void server.close().then(() => engine.unload()).finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** The token in a --token-file: its first line, which must not be empty. */
function readToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.split(/\r?\n/, 1)[0]!.trim();
  if (token === '') throw new Error(`the token file ${path} has no token on its first line`);
  return token;
}
