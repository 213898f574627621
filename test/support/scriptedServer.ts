/**
 * An HTTP server that answers as a script says and records what it was sent, for the shared-server
 * client's tests: the request shapes each real server documents, and the failures (401, 429, 503,
 * silence) that are hard to get from a real one on demand. It also records whether a client left
 * before its answer was finished, which is how a real server learns to stop generating.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | null;
}

export type Script = (req: Recorded, res: ServerResponse) => void | Promise<void>;

export interface ScriptedServer {
  /** `http://127.0.0.1:<port>` */
  base: string;
  requests: Recorded[];
  /** Resolves when a client closes its connection before the answer to it was finished. */
  nextDisconnect(): Promise<Recorded>;
  disconnects: Recorded[];
  stop(): Promise<void>;
}

export async function scriptedServer(script: Script): Promise<ScriptedServer> {
  const requests: Recorded[] = [];
  const disconnects: Recorded[] = [];
  const waiting: ((r: Recorded) => void)[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (c: string) => (text += c));
    req.on('end', () => {
      const recorded: Recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
      requests.push(recorded);
      res.on('close', () => {
        if (res.writableFinished) return;
        disconnects.push(recorded);
        waiting.splice(0).forEach((resolve) => resolve(recorded));
      });
      void Promise.resolve(script(recorded, res)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    disconnects,
    nextDisconnect: () => new Promise((resolve) => waiting.push(resolve)),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Writes server-sent events, one `data:` line per payload (strings go as they are, e.g. `[DONE]`). */
export function sse(res: ServerResponse, events: readonly unknown[], end = true): void {
  if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events) res.write(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`);
  if (end) res.end();
}

/** Writes newline-delimited JSON (Ollama's streaming format). */
export function ndjson(res: ServerResponse, lines: readonly unknown[]): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const line of lines) res.write(`${JSON.stringify(line)}\n`);
  res.end();
}

/** Routes by "METHOD /path"; anything else is a 404 in FastAPI's words (what vLLM answers). */
export function routes(table: Record<string, Script>): Script {
  return (req, res) => {
    const path = req.path.split('?')[0];
    const handler = table[`${req.method} ${path}`];
    if (handler) return handler(req, res);
    json(res, 404, { detail: 'Not Found' });
  };
}
