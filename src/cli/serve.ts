/**
 * `chimera serve`: the engine in this process, behind an OpenAI-compatible HTTP API on 127.0.0.1, closed
 * to web pages (see engine/httpGuard.ts) and, with --token or CHIMERA_API_TOKEN, to tokenless clients.
 */
import { Engine } from '../engine/engine';
import { startHttpServer } from '../engine/http';
import type { ServeArgs } from './args';
import { stderrLogger } from './common';

export async function runServe(args: ServeArgs): Promise<void> {
  const log = stderrLogger();
  const engine = new Engine(log);
  const info = await engine.load(args.model ?? '', args.device, args.maxContext);
  const token = args.token ?? (process.env.CHIMERA_API_TOKEN?.trim() || undefined);
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
