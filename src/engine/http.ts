/**
 * An OpenAI-compatible HTTP API over the engine, for other tools on this machine. It listens on
 * 127.0.0.1 only: nothing leaves the machine, and nothing from outside reaches the model.
 *   GET  /v1/models
 *   POST /v1/completions        (prompt; with `suffix`, fill-in-the-middle)   stream: SSE
 *   POST /v1/chat/completions   (messages)                                    stream: SSE
 * A client that disconnects cancels its generation.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbortError } from '../core/errors';
import type * as P from '../protocol';
import type { Engine } from './engine';

const MAX_BODY = 4 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
  ) {
    super(message);
  }
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(engine: Engine, port: number): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    handle(engine, req, res).catch((err: unknown) => sendError(res, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function handle(engine: Engine, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/v1/models') return sendJson(res, 200, models(engine));
  if (req.method === 'POST' && url.pathname === '/v1/completions') return completions(engine, res, await readJson(req));
  if (req.method === 'POST' && url.pathname === '/v1/chat/completions') return chatCompletions(engine, res, await readJson(req));
  throw new HttpError(404, `no route for ${req.method} ${url.pathname}`, 'not_found');
}

function models(engine: Engine) {
  const info = engine.info;
  return { object: 'list', data: info ? [{ id: info.model.name, object: 'model', created: 0, owned_by: 'chimera-code' }] : [] };
}

async function completions(engine: Engine, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
  const prompt = body.prompt;
  if (typeof prompt !== 'string') throw new HttpError(400, '"prompt" must be a string');
  const suffix = typeof body.suffix === 'string' ? body.suffix : null;
  const options = decodingOptions(body);
  const id = `cmpl-${randomUUID()}`;
  const model = engine.info?.model.name ?? 'none';
  const chunk = (text: string, finish: string | null) => ({ id, object: 'text_completion', created: now(), model, choices: [{ index: 0, text, finish_reason: finish, logprobs: null }] });
  await generate(res, Boolean(body.stream), (signal, onDelta) =>
    suffix === null
      ? engine.completeText({ prompt, stop: stopList(body.stop), ...options }, signal, onDelta)
      : engine.complete({ prefix: prompt, suffix, languageId: 'plaintext', stop: stopList(body.stop), ...options }, signal, onDelta, 'api'),
    (text) => chunk(text, null),
    (result) => ({ ...chunk(result.text, result.finishReason), usage: usage(result) }),
    (result) => chunk('', result.finishReason),
  );
}

async function chatCompletions(engine: Engine, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new HttpError(400, '"messages" must be a non-empty array');
  const parsed: P.ChatMessage[] = messages.map((m: { role?: unknown; content?: unknown }, i) => {
    if ((m.role !== 'system' && m.role !== 'user' && m.role !== 'assistant') || typeof m.content !== 'string') {
      throw new HttpError(400, `messages[${i}] needs a role of system, user or assistant and string content`);
    }
    return { role: m.role, content: m.content };
  });
  const id = `chatcmpl-${randomUUID()}`;
  const model = engine.info?.model.name ?? 'none';
  const base = { id, created: now(), model };
  let first = true;
  await generate(res, Boolean(body.stream), (signal, onDelta) => engine.chat({ messages: parsed, ...decodingOptions(body) }, signal, onDelta, 'api'),
    (text) => {
      const delta = first ? { role: 'assistant', content: text } : { content: text };
      first = false;
      return { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }] };
    },
    (result) => ({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: result.text }, finish_reason: result.finishReason }], usage: usage(result) }),
    (result) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: result.finishReason }] }),
  );
}

type Run = (signal: AbortSignal, onDelta: (text: string) => void) => Promise<P.GenerationResult>;

/** Runs a generation as one JSON answer or as server-sent events, cancelling it if the client leaves. */
async function generate(res: ServerResponse, stream: boolean, run: Run, chunk: (t: string) => object, whole: (r: P.GenerationResult) => object, last: (r: P.GenerationResult) => object): Promise<void> {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  if (!stream) {
    const result = await run(controller.signal, () => undefined);
    return sendJson(res, 200, whole(result));
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  try {
    const result = await run(controller.signal, (text) => res.write(`data: ${JSON.stringify(chunk(text))}\n\n`));
    res.write(`data: ${JSON.stringify(last(result))}\n\n`);
  } catch (err) {
    if (!isAbortError(err)) res.write(`data: ${JSON.stringify({ error: { message: (err as Error).message, type: 'server_error' } })}\n\n`);
  }
  res.end('data: [DONE]\n\n');
}

function decodingOptions(body: Record<string, unknown>): P.DecodingOptions {
  const maxTokens = body.max_tokens ?? body.max_completion_tokens ?? 256;
  if (!Number.isInteger(maxTokens) || (maxTokens as number) < 1) throw new HttpError(400, '"max_tokens" must be a positive integer');
  const temperature = body.temperature ?? 0;
  if (typeof temperature !== 'number' || temperature < 0 || temperature > 2) throw new HttpError(400, '"temperature" must be a number from 0 to 2');
  return { maxTokens: maxTokens as number, temperature, seed: typeof body.seed === 'number' ? body.seed : undefined };
}

function stopList(stop: unknown): string[] {
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop)) return stop.filter((s): s is string => typeof s === 'string');
  return [];
}

function usage(result: P.GenerationResult) {
  const prompt = result.stats.promptTokens;
  return { prompt_tokens: prompt, completion_tokens: result.stats.generatedTokens, total_tokens: prompt + result.stats.generatedTokens };
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'the request body must be a JSON object');
  }
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const status = err instanceof HttpError ? err.status : isAbortError(err) ? 499 : 500;
  const type = err instanceof HttpError ? err.type : 'server_error';
  sendJson(res, status, { error: { message: err instanceof Error ? err.message : String(err), type, code: null } });
}
