/**
 * An OpenAI-compatible HTTP API over the engine, for other tools on this machine. It listens on
 * 127.0.0.1 only and refuses web pages (httpGuard.ts): nothing leaves the machine, and neither other
 * machines nor the sites in the user's browser reach the model.
 *   GET  /v1/models
 *   POST /v1/completions        (prompt; with `suffix`, fill-in-the-middle)   stream: SSE
 *   POST /v1/chat/completions   (messages)                                    stream: SSE
 * Costs are bounded: a body is at most 4 MB, its text is cut to what the context can hold before it is
 * tokenized (core/bounds.ts), and at most `maxQueue` generations are admitted at once (503 beyond).
 * A client that disconnects cancels its generation; a generation the server cancels ends its stream
 * with an error event, never with a [DONE] that would pass for a finished answer.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CapabilityError, isAbortError } from '../core/errors';
import type { Logger } from '../core/session';
import type * as P from '../protocol';
import type { Engine } from './engine';
import { refuse, type GuardOptions } from './httpGuard';
import { ApiError, chatCall, completionCall, type ApiCall } from './openai';

const MAX_BODY = 4 * 1024 * 1024;
/** Generations admitted at once (one runs, the rest wait in the engine's FIFO lane). */
export const DEFAULT_MAX_QUEUE = 8;

export interface HttpOptions {
  port: number;
  /** Bearer token every request must carry (chimera serve --token or CHIMERA_API_TOKEN). */
  token?: string;
  maxQueue?: number;
  log?: Logger;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

interface Context {
  engine: Engine;
  guard: GuardOptions;
  maxQueue: number;
  active: number;
  log: Logger;
}

export async function startHttpServer(engine: Engine, options: HttpOptions): Promise<HttpServer> {
  const ctx: Context = { engine, guard: { port: options.port, token: options.token || undefined }, maxQueue: options.maxQueue ?? DEFAULT_MAX_QUEUE, active: 0, log: options.log ?? (() => undefined) };
  const server: Server = createServer((req, res) => {
    handle(ctx, req, res).catch((err: unknown) => {
      // Answered before its body was read (413, a refusal): the connection cannot carry another request.
      if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
      sendError(res, err);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  ctx.guard.port = (server.address() as AddressInfo).port;
  return {
    port: ctx.guard.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function handle(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const refusal = refuse(req.method, req.headers, ctx.guard);
  if (refusal) {
    ctx.log('warn', `refused ${req.method} ${url.pathname} (${refusal.status} ${refusal.code}): ${refusal.message}`);
    req.resume(); // drain whatever body came, unread
    throw new ApiError(refusal.status, refusal.message, refusal.status === 401 ? 'authentication_error' : 'invalid_request_error', refusal.code);
  }
  if (req.method === 'GET' && url.pathname === '/v1/models') return sendJson(res, 200, models(ctx.engine));
  const route = req.method === 'POST' ? ROUTES[url.pathname] : undefined;
  if (!route) throw new ApiError(404, `no route for ${req.method} ${url.pathname}`, 'invalid_request_error', 'not_found');
  if (ctx.active >= ctx.maxQueue) {
    req.resume();
    res.setHeader('retry-after', '1');
    throw new ApiError(503, `the server is busy (${ctx.active} generations admitted, at most ${ctx.maxQueue}); retry later`, 'server_error', 'server_busy');
  }
  ctx.active++;
  try {
    // The body goes straight into the route, which keeps only the bounded prompt it builds.
    await route(ctx.engine, res, await readJson(req));
  } finally {
    ctx.active--;
  }
}

type Route = (engine: Engine, res: ServerResponse, body: Record<string, unknown>) => Promise<void>;

const ROUTES: Record<string, Route> = {
  '/v1/completions': completions,
  '/v1/chat/completions': chatCompletions,
};

function models(engine: Engine) {
  const info = engine.info;
  return { object: 'list', data: info ? [{ id: info.model.name, object: 'model', created: 0, owned_by: 'chimera-code' }] : [] };
}

function modelName(engine: Engine): string {
  return engine.info?.model.name ?? 'none';
}

// The routes call the engine before they return, and keep no reference to the body or the params:
// the engine has built the (bounded) prompt by then, so a queued request holds token ids, not megabytes.

function completions(engine: Engine, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
  const model = modelName(engine);
  const call = completionCall(body, model);
  const id = `cmpl-${randomUUID()}`;
  const chunk = (text: string, finish: string | null) => ({ id, object: 'text_completion', created: now(), model, choices: [{ index: 0, text, finish_reason: finish, logprobs: null }] });
  const answer = new Answer(res, call, {
    delta: (text) => chunk(text, null),
    whole: (result) => ({ ...chunk(result.text, result.finishReason), usage: usage(result) }),
    last: (result) => chunk('', result.finishReason),
    usage: (result) => ({ id, object: 'text_completion', created: now(), model, choices: [], usage: usage(result) }),
  });
  const job = call.params;
  return answer.deliver(job.kind === 'text' ? engine.completeText(job.params, answer.signal, answer.onDelta) : engine.complete(job.params, answer.signal, answer.onDelta, 'api'));
}

function chatCompletions(engine: Engine, res: ServerResponse, body: Record<string, unknown>): Promise<void> {
  const model = modelName(engine);
  const call = chatCall(body, model);
  const base = { id: `chatcmpl-${randomUUID()}`, created: now(), model };
  let first = true;
  const answer = new Answer(res, call, {
    delta: (text) => {
      const delta = first ? { role: 'assistant', content: text } : { content: text };
      first = false;
      return { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }] };
    },
    whole: (result) => ({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: result.text }, finish_reason: result.finishReason }], usage: usage(result) }),
    last: (result) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: result.finishReason }] }),
    usage: (result) => ({ ...base, object: 'chat.completion.chunk', choices: [], usage: usage(result) }),
  });
  return answer.deliver(engine.chat(call.params, answer.signal, answer.onDelta, 'api'));
}

/** The answer's shapes: a streamed piece, the whole answer, the stream's closing chunk and its usage chunk. */
interface Shapes {
  delta(text: string): object;
  whole(result: P.GenerationResult): object;
  last(result: P.GenerationResult): object;
  usage(result: P.GenerationResult): object;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' };

/**
 * One generation's answer: one JSON body, or server-sent events. A client that leaves cancels the
 * generation (`signal`). Stream headers go out with the first piece, so a request refused before it
 * generates anything still gets its HTTP status.
 */
class Answer {
  private readonly controller = new AbortController();
  private readonly stream: boolean;
  private readonly includeUsage: boolean;

  constructor(
    private readonly res: ServerResponse,
    call: ApiCall<unknown>,
    private readonly shapes: Shapes,
  ) {
    this.stream = call.stream;
    this.includeUsage = call.includeUsage;
    res.on('close', () => {
      if (!res.writableFinished) this.controller.abort();
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  readonly onDelta = (text: string): void => {
    if (!this.stream) return;
    this.open();
    this.event(this.shapes.delta(text));
  };

  async deliver(pending: Promise<P.GenerationResult>): Promise<void> {
    let result: P.GenerationResult;
    try {
      result = await pending;
    } catch (err) {
      const failure = serverSide(err, this.signal);
      if (this.signal.aborted || !this.res.headersSent) throw failure; // nobody reads it, or a plain error answer
      // The stream ends with the error, and without [DONE]: a cut-off answer must not pass for a whole one.
      this.event({ error: { message: failure.message, type: failure.type, code: failure.code } });
      this.res.end();
      return;
    }
    if (!this.stream) return sendJson(this.res, 200, withTrim(this.shapes.whole(result), result));
    this.open();
    this.event(withTrim(this.shapes.last(result), result));
    if (this.includeUsage) this.event(this.shapes.usage(result));
    this.res.end('data: [DONE]\n\n');
  }

  private open(): void {
    if (!this.res.headersSent) this.res.writeHead(200, SSE_HEADERS);
  }

  private event(body: object): void {
    this.res.write(`data: ${JSON.stringify(body)}\n\n`);
  }
}

/** An engine failure as the API reports it: a cancellation by the server is a 503, not a finished answer. */
function serverSide(err: unknown, clientSignal: AbortSignal): ApiError {
  if (err instanceof ApiError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof CapabilityError) return new ApiError(400, message, 'invalid_request_error', 'unsupported_request');
  if (isAbortError(err)) return new ApiError(clientSignal.aborted ? 499 : 503, `the generation was cancelled: ${message}`, 'server_error', 'cancelled');
  return new ApiError(500, message, 'server_error', null);
}

/** Says what was left out to fit the context (a field OpenAI clients ignore and people can read). */
function withTrim(body: object, result: P.GenerationResult): object {
  return result.trimmed ? { ...body, chimera: { input_trimmed: result.trimmed } } : body;
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
    if (size > MAX_BODY) throw new ApiError(413, 'request body too large (at most 4 MB)', 'invalid_request_error', 'body_too_large');
    chunks.push(chunk as Buffer);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new ApiError(400, 'the request body must be a JSON object', 'invalid_request_error', 'invalid_json');
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
  const failure = err instanceof ApiError ? err : serverSide(err, new AbortController().signal);
  sendJson(res, failure.status, { error: { message: failure.message, type: failure.type, code: failure.code } });
}
