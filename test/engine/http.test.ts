/** `chimera serve` as a real process, asked the way an OpenAI client asks, streamed and not. */
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { sseData, startServe, type Served } from '../support/serve';

/** A request with headers fetch() will not let us set (Host), answered with status, headers and body. */
function raw(port: number, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const post = (base: string, path: string, body: object, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

async function errorOf(res: Response): Promise<{ status: number; message: string; code: string | null }> {
  const body = (await res.json()) as { error: { message: string; code: string | null } };
  return { status: res.status, message: body.error.message, code: body.error.code };
}

/** Events of a stream, failing unless it ended with [DONE]. */
async function events(res: Response): Promise<Record<string, unknown>[]> {
  const datas = await sseData(res);
  assert.equal(datas.at(-1), '[DONE]');
  return datas.slice(0, -1).map((d) => JSON.parse(d) as Record<string, unknown>);
}

describe('OpenAI-compatible HTTP API (chimera serve)', function () {
  this.timeout(60_000);
  let served: Served;
  let base = '';

  before(async () => {
    served = await startServe([], { CHIMERA_LOG: 'debug' });
    base = served.base;
  });
  after(() => served.stop());

  it('lists the model', async () => {
    const res = await fetch(`${base}/v1/models`);
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id), ['chimera-test-fixture']);
  });

  it('answers a chat completion', async () => {
    const res = await post(base, '/v1/chat/completions', { model: 'chimera-test-fixture', messages: [{ role: 'user', content: 'Say hi' }], max_tokens: 12 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { object: string; choices: { message: { role: string; content: string }; finish_reason: string }[]; usage: { completion_tokens: number } };
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.choices[0]!.message.role, 'assistant');
    assert.ok(body.choices[0]!.message.content.length > 0);
    assert.equal(body.usage.completion_tokens, 12);
  });

  it('streams a chat completion as server-sent events that add up to the plain answer', async () => {
    const request = { messages: [{ role: 'user', content: 'Count' }], max_tokens: 16 };
    const plain = ((await (await post(base, '/v1/chat/completions', request)).json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    const res = await post(base, '/v1/chat/completions', { ...request, stream: true, stream_options: { include_usage: true } });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const chunks = (await events(res)) as { object: string; choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[]; usage?: { completion_tokens: number } }[];
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), plain);
    assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, 'length');
    assert.equal(chunks.at(-1)!.usage?.completion_tokens, 16, 'include_usage adds a usage chunk');
  });

  it('completes text, with and without a suffix, streamed and not', async () => {
    const plain = (await (await post(base, '/v1/completions', { prompt: 'def f(x):', max_tokens: 8 })).json()) as { choices: { text: string }[] };
    const streamed = (await events(await post(base, '/v1/completions', { prompt: 'def f(x):', max_tokens: 8, stream: true }))) as { choices: { text: string }[] }[];
    assert.equal(streamed.map((c) => c.choices[0]!.text).join(''), plain.choices[0]!.text);
    const fim = await post(base, '/v1/completions', { prompt: 'def f(x):\n    return ', suffix: '\n', max_tokens: 6 });
    assert.equal(fim.status, 200);
  });

  it('rejects malformed requests with 400 and OpenAI-style errors, never 500', async () => {
    const cases: [string, object, RegExp][] = [
      ['/v1/chat/completions', { messages: [] }, /"messages" must be a non-empty array/],
      ['/v1/chat/completions', { messages: [null] }, /"messages\[0\]" must be an object/],
      ['/v1/chat/completions', { messages: [{ role: 'robot', content: 'x' }] }, /"messages\[0\]\.role" must be one of system, user, assistant/],
      ['/v1/completions', { prompt: '' }, /"prompt" must not be empty/],
      ['/v1/completions', { prompt: 'x', temperature: 'hot' }, /"temperature" must be a number from 0 to 2/],
      ['/v1/completions', { prompt: 'x', stream: 'false' }, /"stream" must be true or false/],
      ['/v1/completions', { prompt: 'x', n: 2 }, /"n": only n = 1 is supported/],
      ['/v1/completions', { prompt: 'x', logprobs: 2 }, /"logprobs": log-probabilities are not supported/],
      ['/v1/completions', { prompt: 'x', echo: true }, /"echo": echo is not supported/],
    ];
    for (const [path, body, message] of cases) {
      const error = await errorOf(await post(base, path, body));
      assert.equal(error.status, 400, `${JSON.stringify(body)}: ${error.message}`);
      assert.match(error.message, message);
    }
    assert.equal((await fetch(`${base}/v1/nothing`)).status, 404);
    const bad = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'not json' });
    assert.equal(bad.status, 400);
  });

  it('closes the connection after refusing a body it did not read, so the next request on it is not reset', async () => {
    const statuses: (number | string)[] = [];
    const send = (body: string) =>
      fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
        async (r) => (await r.text(), r.status),
        (e: Error & { cause?: { code?: string } }) => e.cause?.code ?? e.message,
      );
    statuses.push(await send('x'.repeat(5 * 1024 * 1024)));
    const small = JSON.stringify({ messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    for (let i = 0; i < 3; i++) statuses.push(await send(small));
    assert.deepEqual(statuses, [413, 200, 200, 200]);
  });

  it('answers 404 for a model it does not serve', async () => {
    const error = await errorOf(await post(base, '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }));
    assert.deepEqual([error.status, error.code], [404, 'model_not_found']);
  });

  it('refuses a foreign Host with 403, as a DNS-rebinding page would send it', async () => {
    for (const host of ['evil.example', `evil.example:${served.port}`, `127.0.0.1.nip.io:${served.port}`]) {
      const res = await raw(served.port, 'GET', '/v1/models', { host });
      assert.equal(res.status, 403, host);
      assert.match(res.body, /host_not_allowed/);
    }
    assert.equal((await raw(served.port, 'GET', '/v1/models', { host: `localhost:${served.port}` })).status, 200);
  });

  it('refuses web pages (a foreign Origin) with 403 and bodies that are not JSON with 415, before generating anything', async () => {
    const body = JSON.stringify({ prompt: 'never generated', max_tokens: 4 });
    const foreign = await raw(served.port, 'POST', '/v1/completions', { host: `127.0.0.1:${served.port}`, origin: 'https://evil.example', 'content-type': 'application/json' }, body);
    assert.equal(foreign.status, 403);
    const plainText = await raw(served.port, 'POST', '/v1/completions', { host: `127.0.0.1:${served.port}`, 'content-type': 'text/plain' }, body);
    assert.equal(plainText.status, 415);
    assert.match(await served.waitForLog(/refused POST \/v1\/completions \(415/), /application\/json/);
    assert.doesNotMatch(served.log(), /never generated/);
  });

  it('cuts a 4 MB prompt to the context before tokenizing it, and says what it left out', async () => {
    const prompt = 'x = compute(y)\n'.repeat(240_000); // 3.6 MB of text, 4.1 MB of JSON: just under the body limit
    const res = await post(base, '/v1/completions', { prompt, max_tokens: 4 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { usage: { prompt_tokens: number }; chimera: { input_trimmed: { droppedChars: number } } };
    assert.ok(body.usage.prompt_tokens <= 1024, `${body.usage.prompt_tokens} prompt tokens`);
    assert.ok(body.chimera.input_trimmed.droppedChars > 3_500_000);
  });
});

describe('chimera serve: limits and access', function () {
  this.timeout(60_000);

  it('admits at most --max-queue generations and answers 503 beyond, with Retry-After', async () => {
    const served = await startServe(['--max-queue', '1']);
    try {
      const long = await post(served.base, '/v1/completions', { prompt: 'def f(x):', max_tokens: 400, stream: true });
      const reader = long.body!.getReader();
      await reader.read(); // the first piece: the long request is admitted and running
      const busy = await post(served.base, '/v1/completions', { prompt: 'x', max_tokens: 2 });
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get('retry-after'), '1');
      assert.equal((await errorOf(busy)).code, 'server_busy');
      while (!(await reader.read()).done);
      assert.equal((await post(served.base, '/v1/completions', { prompt: 'x', max_tokens: 2 })).status, 200, 'admitted again once the first finished');
    } finally {
      await served.stop();
    }
  });

  it("runs the engine in a process with the engine's settings, and stops it when told to stop", async function () {
    if (process.platform !== 'linux') this.skip(); // read from /proc
    const served = await startServe();
    let server: number;
    try {
      const children = readFileSync(`/proc/${served.process.pid}/task/${served.process.pid}/children`, 'utf8').trim().split(/\s+/);
      assert.equal(children.length, 1, 'the command ran itself again, once');
      server = Number(children[0]);
      const args = readFileSync(`/proc/${server}/cmdline`, 'utf8').split('\0');
      const env = readFileSync(`/proc/${server}/environ`, 'utf8').split('\0');
      assert.ok(args.includes('--max-semi-space-size=2'), args.join(' '));
      assert.ok(env.includes('MALLOC_MMAP_THRESHOLD_=1048576'));
      assert.equal((await post(served.base, '/v1/completions', { prompt: 'x', max_tokens: 2 })).status, 200);
    } finally {
      await served.stop();
    }
    assert.equal(served.process.exitCode, 0, 'the first process ends as the server did');
    assert.equal(existsSync(`/proc/${server}`), false, 'the server stopped with it');
  });

  it('requires the bearer token from CHIMERA_API_TOKEN, --token-file or --token', async () => {
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'chimera-token-')), 'token');
    writeFileSync(tokenFile, 'tok-env\nnot part of it\n', { mode: 0o600 });
    for (const [args, env] of [[[], { CHIMERA_API_TOKEN: 'tok-env' }], [['--token-file', tokenFile], { CHIMERA_API_TOKEN: 'other' }], [['--token', 'tok-env'], {}]] as const) {
      const served = await startServe(args, env);
      try {
        assert.equal((await fetch(`${served.base}/v1/models`)).status, 401);
        assert.equal((await fetch(`${served.base}/v1/models`, { headers: { authorization: 'Bearer nope' } })).status, 401);
        assert.equal((await fetch(`${served.base}/v1/models`, { headers: { authorization: 'Bearer tok-env' } })).status, 200);
        assert.equal((await post(served.base, '/v1/completions', { prompt: 'x', max_tokens: 2 }, { authorization: 'Bearer tok-env' })).status, 200);
      } finally {
        await served.stop();
      }
    }
  });

  it('ends a stream the server cancels with an error event, not with [DONE]', async () => {
    const served = await startServe();
    const ask = { prompt: 'def count(n):', max_tokens: 500 };
    // This greedy answer runs to the token limit (it holds no stop token), so it is still streaming when the server stops.
    const whole = (await (await post(served.base, '/v1/completions', ask)).json()) as { choices: { finish_reason: string }[]; usage: { completion_tokens: number } };
    assert.deepEqual([whole.choices[0]!.finish_reason, whole.usage.completion_tokens], ['length', 500]);
    const res = await post(served.base, '/v1/completions', { ...ask, stream: true });

    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    served.process.kill('SIGTERM'); // the server stops while the answer streams
    for (let next = await reader.read(); !next.done; next = await reader.read()) text += decoder.decode(next.value);
    await served.stop();
    const datas = text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6));
    assert.notEqual(datas.at(-1), '[DONE]', 'a cut-off answer must not end like a whole one');
    const last = JSON.parse(datas.at(-1)!) as { error?: { code: string; message: string } };
    assert.equal(last.error?.code, 'cancelled');
    assert.match(last.error?.message ?? '', /server is stopping/);
  });
});
