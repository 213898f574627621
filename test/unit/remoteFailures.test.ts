/**
 * The shared-server client when things go wrong, each failure sorted into the kind the extension shows
 * its own message and action for, and 429/503 retried with backoff that honours Retry-After. The
 * servers are scripted (a real one cannot be made to answer 429 or fall silent on demand); the waits
 * between retries are recorded instead of slept.
 */
import * as assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { GenerationStream } from '../../src/backend/backend';
import { RemoteBackend } from '../../src/backend/remote/client';
import { endpoints, isPlainHttpToAnotherHost, type RemoteConfig } from '../../src/backend/remote/config';
import { RemoteError, type RemoteErrorKind } from '../../src/backend/remote/errors';
import { DEFAULT_RETRY, retryDelay, type HttpDeps } from '../../src/backend/remote/http';
import { json, routes, scriptedServer, sse, type ScriptedServer } from '../support/scriptedServer';

const FIM = { prefix: 'def f():\n    ', suffix: '\n', languageId: 'python', maxTokens: 8, temperature: 0 };
const CHAT = { messages: [{ role: 'user' as const, content: 'hi' }], maxTokens: 8 };
const MODELS = { object: 'list', data: [{ id: 'Qwen/Qwen2.5-Coder-1.5B', object: 'model' }] };
const textChunk = (text: string) => ({ choices: [{ index: 0, text, finish_reason: null }] });

function config(url: string, overrides: Partial<RemoteConfig> = {}): RemoteConfig {
  return { url, model: '', fimFormat: 'auto', timeoutMs: 5000, ...overrides };
}

/** Real fetch; sleeps are recorded and skipped, so a test of four retries takes no time. */
function recordingHttp(): HttpDeps & { waits: number[] } {
  const waits: number[] = [];
  return { fetch: (input, init) => fetch(input, init), sleep: async (ms) => void waits.push(ms), waits };
}

async function rejectsWith(promise: Promise<unknown>, kind: RemoteErrorKind, pattern?: RegExp): Promise<RemoteError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RemoteError, `expected a RemoteError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a ${kind} failure`);
}

async function drain(stream: GenerationStream): Promise<string[]> {
  const pieces: string[] = [];
  for await (const piece of stream) pieces.push(piece);
  return pieces;
}

describe('shared servers: failures a person can act on', () => {
  let server: ScriptedServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('a port nobody listens on is unreachable, naming the address', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const backend = new RemoteBackend(config(`http://127.0.0.1:${port}/v1`));
    await rejectsWith(backend.connect(), 'unreachable', new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
  });

  it('401 and 403 are unauthorized, with the server\'s own words; the key goes as a bearer token', async () => {
    server = await scriptedServer((req, res) => (req.headers.authorization === 'Bearer right' ? json(res, 200, MODELS) : json(res, req.headers.authorization ? 403 : 401, { error: { message: 'invalid api key', type: 'authentication_error' } })));
    await rejectsWith(new RemoteBackend(config(server.base)).connect(), 'unauthorized', /HTTP 401: invalid api key/);
    await rejectsWith(new RemoteBackend(config(server.base, { apiKey: 'wrong' })).connect(), 'unauthorized', /HTTP 403/);
    assert.equal((await new RemoteBackend(config(server.base, { apiKey: 'right' })).connect()).name, 'Qwen/Qwen2.5-Coder-1.5B');
    assert.equal(server.requests.at(-1)!.headers.authorization, 'Bearer right');
  });

  it('a model the server does not list is modelNotFound, naming what it does serve; so is a 404 about the model', async () => {
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { object: 'list', data: [{ id: 'a' }, { id: 'b' }] }),
        'POST /v1/chat/completions': (_, res) => json(res, 404, { object: 'error', message: 'The model `a` does not exist.', type: 'NotFoundError', code: 404 }),
      }),
    );
    await rejectsWith(new RemoteBackend(config(server.base, { model: 'c' })).connect(), 'modelNotFound', /no model "c"; it serves a, b/);
    await rejectsWith(new RemoteBackend(config(server.base)).connect(), 'modelNotFound', /serves 2 models \(a, b\)/);
    const backend = new RemoteBackend(config(server.base, { model: 'a' }));
    await backend.connect();
    await rejectsWith(backend.chat(CHAT).result, 'modelNotFound', /does not exist/);
  });

  it('a model of no known family has no FIM format: completion says so, chat still works', async () => {
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { object: 'list', data: [{ id: 'mystery-7b' }] }),
        'POST /v1/chat/completions': (_, res) => sse(res, [{ choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: 'stop' }] }, '[DONE]']),
      }),
    );
    const backend = new RemoteBackend(config(server.base));
    assert.equal((await backend.connect()).hasFim, false);
    await rejectsWith(backend.complete(FIM).result, 'noFimFormat', /mystery-7b.*chimera\.server\.fimFormat/);
    assert.equal(server.requests.filter((r) => r.method === 'POST').length, 0, 'nothing was sent for the completion');
    assert.deepEqual(await drain(backend.chat(CHAT)), ['ok']);
  });

  it('a FIM format whose route the server lacks (llama.cpp /infill on vLLM) says the format does not fit', async () => {
    server = await scriptedServer(routes({ 'GET /v1/models': (_, res) => json(res, 200, MODELS) }));
    const backend = new RemoteBackend(config(server.base, { fimFormat: 'llama.cpp' }));
    await backend.connect();
    await rejectsWith(backend.complete(FIM).result, 'noRoute', /\/infill .*HTTP 404.*FIM format chosen does not match/);
  });

  it('a server silent past the timeout is a timeout, both before the answer and within a stream', async () => {
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, MODELS),
        'POST /v1/chat/completions': () => undefined, // never answers
        'POST /v1/completions': (_, res) => sse(res, [textChunk('return')], false), // one piece, then silence
      }),
    );
    const backend = new RemoteBackend(config(server.base, { timeoutMs: 200 }));
    await backend.connect();
    await rejectsWith(backend.chat(CHAT).result, 'timeout', /did not answer POST .*\/v1\/chat\/completions within 0.2 s \(chimera\.server\.timeoutMs\)/);
    const stream = backend.complete(FIM);
    const pieces: string[] = [];
    await rejectsWith(
      (async () => {
        for await (const piece of stream) pieces.push(piece);
      })(),
      'timeout',
    );
    assert.deepEqual(pieces, ['return'], 'what arrived before the silence was shown');
  });

  it('429 with Retry-After is retried after exactly that wait, and then succeeds', async () => {
    let calls = 0;
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, MODELS),
        'POST /v1/chat/completions': (_, res) => (++calls <= 2 ? json(res, 429, { error: 'rate limited' }, { 'retry-after': '2' }) : sse(res, [{ choices: [{ index: 0, delta: { content: 'done' }, finish_reason: 'stop' }] }, '[DONE]'])),
      }),
    );
    const http = recordingHttp();
    const backend = new RemoteBackend(config(server.base), {}, http);
    await backend.connect();
    assert.deepEqual(await drain(backend.chat(CHAT)), ['done']);
    assert.deepEqual(http.waits, [2000, 2000]);
    assert.equal(calls, 3);
  });

  it('503 without Retry-After backs off exponentially, and gives up as busy after the last retry', async () => {
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, MODELS),
        'POST /v1/chat/completions': (_, res) => json(res, 503, { error: 'Model is overloaded' }),
      }),
    );
    const http = recordingHttp();
    const backend = new RemoteBackend(config(server.base), {}, http);
    await backend.connect();
    await rejectsWith(backend.chat(CHAT).result, 'busy', /HTTP 503: Model is overloaded\), and still was after 4 tries/);
    assert.deepEqual(http.waits, [500, 1000, 2000]);
    assert.equal(server.requests.filter((r) => r.method === 'POST').length, DEFAULT_RETRY.retries + 1);
  });

  it('a Retry-After longer than the longest wait is not waited for: the error says when to come back', async () => {
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, MODELS),
        'POST /v1/chat/completions': (_, res) => json(res, 429, { error: 'quota' }, { 'retry-after': '120' }),
      }),
    );
    const http = recordingHttp();
    const backend = new RemoteBackend(config(server.base), {}, http);
    await backend.connect();
    await rejectsWith(backend.chat(CHAT).result, 'busy', /come back in 120 s/);
    assert.deepEqual(http.waits, []);
  });

  it('Retry-After as an HTTP date, and backoff when it is missing or unreadable', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryDelay('Thu, 01 Jan 2026 00:00:03 GMT', 0, DEFAULT_RETRY, now), 3000);
    assert.equal(retryDelay('Wed, 31 Dec 2025 00:00:00 GMT', 0, DEFAULT_RETRY, now), 0, 'a date in the past: retry now');
    assert.equal(retryDelay(null, 2, DEFAULT_RETRY, now), 2000);
    assert.equal(retryDelay('soon', 0, DEFAULT_RETRY, now), 500);
    assert.equal(retryDelay('1.5', 0, DEFAULT_RETRY, now), 1500);
  });

  it('bad URLs are config errors; plain http warns only for another machine', () => {
    assert.throws(() => endpoints(''), (e: RemoteError) => e.kind === 'config' && /no server URL/.test(e.message));
    assert.throws(() => endpoints('gpu-box:8000'), (e: RemoteError) => e.kind === 'config');
    assert.throws(() => endpoints('http://user:pw@gpu-box:8000'), (e: RemoteError) => e.kind === 'config' && /Set Server API Key/.test(e.message));
    assert.deepEqual(endpoints('http://gpu-box:8000/v1/'), { root: 'http://gpu-box:8000', openai: 'http://gpu-box:8000/v1' });
    assert.equal(isPlainHttpToAnotherHost('http://gpu-box:8000/v1'), true);
    assert.equal(isPlainHttpToAnotherHost('http://10.0.0.5:11434'), true);
    assert.equal(isPlainHttpToAnotherHost('https://gpu-box:8000/v1'), false);
    for (const local of ['http://127.0.0.1:8000', 'http://localhost:11434', 'http://[::1]:8080', 'http://api.localhost']) assert.equal(isPlainHttpToAnotherHost(local), false, local);
  });
});

describe('shared servers: cancellation closes the connection', () => {
  let server: ScriptedServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  /** A completion route that sends one piece and then holds the stream open, as a slow generation does. */
  async function slowServer(): Promise<ScriptedServer> {
    return scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, MODELS),
        'POST /v1/completions': (_, res) => sse(res, [textChunk('x')], false),
      }),
    );
  }

  it('aborting a completion aborts its HTTP request, and the server sees the client leave', async () => {
    server = await slowServer();
    const backend = new RemoteBackend(config(server.base));
    await backend.connect();
    const controller = new AbortController();
    const stream = backend.complete(FIM, controller.signal);
    const iterator = stream[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value, 'x');
    const left = server.nextDisconnect();
    controller.abort();
    assert.equal((await left).path, '/v1/completions');
    await assert.rejects(stream.result, (err: Error) => err.name === 'AbortError' || err.name === 'GenerationStoppedError');
  });

  it('a newer completion aborts the older one (latest wins): the server sees the first connection close', async () => {
    server = await slowServer();
    const backend = new RemoteBackend(config(server.base));
    await backend.connect();
    const first = backend.complete(FIM);
    assert.equal((await first[Symbol.asyncIterator]().next()).value, 'x');
    const left = server.nextDisconnect();
    const second = backend.complete({ ...FIM, prefix: 'def g():\n    ' });
    await left;
    await assert.rejects(first.result);
    assert.equal((await second[Symbol.asyncIterator]().next()).value, 'x', 'the newer one streams');
    assert.equal(server.disconnects.length, 1);
  });
});
