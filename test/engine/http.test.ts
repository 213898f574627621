/** `chimera serve` as a real process, asked the way an OpenAI client asks, streamed and not. */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fixtureDir } from '../support/models';
import { repoRoot } from '../support/paths';

describe('OpenAI-compatible HTTP API (chimera serve)', function () {
  this.timeout(60_000);
  let server: ChildProcess;
  let base = '';

  before(async () => {
    server = spawn(process.execPath, [join(repoRoot, 'dist/cli.js'), 'serve', '--port', '0', '--model', fixtureDir, '--device', 'cpu'], { stdio: ['ignore', 'ignore', 'pipe'] });
    base = await new Promise<string>((resolve, reject) => {
      let err = '';
      server.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        err += chunk;
        const match = /at (http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(err);
        if (match) resolve(match[1]!);
      });
      server.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
  });
  after(() => server.kill('SIGTERM'));

  const post = (path: string, body: object) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  /** Reads a server-sent event stream into its JSON events, up to [DONE]. */
  async function events(res: Response): Promise<Record<string, unknown>[]> {
    const text = await res.text();
    const datas = text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6));
    assert.equal(datas.at(-1), '[DONE]');
    return datas.slice(0, -1).map((d) => JSON.parse(d) as Record<string, unknown>);
  }

  it('lists the model', async () => {
    const res = await fetch(`${base}/v1/models`);
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id), ['chimera-test-fixture']);
  });

  it('answers a chat completion', async () => {
    const res = await post('/v1/chat/completions', { model: 'chimera-test-fixture', messages: [{ role: 'user', content: 'Say hi' }], max_tokens: 12 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { object: string; choices: { message: { role: string; content: string }; finish_reason: string }[]; usage: { completion_tokens: number } };
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.choices[0]!.message.role, 'assistant');
    assert.ok(body.choices[0]!.message.content.length > 0);
    assert.equal(body.usage.completion_tokens, 12);
  });

  it('streams a chat completion as server-sent events that add up to the plain answer', async () => {
    const request = { messages: [{ role: 'user', content: 'Count' }], max_tokens: 16 };
    const plain = ((await (await post('/v1/chat/completions', request)).json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    const res = await post('/v1/chat/completions', { ...request, stream: true });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const chunks = (await events(res)) as { object: string; choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[] }[];
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    assert.equal(chunks.map((c) => c.choices[0]!.delta.content ?? '').join(''), plain);
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'length');
  });

  it('completes text, with and without a suffix, streamed and not', async () => {
    const plain = (await (await post('/v1/completions', { prompt: 'def f(x):', max_tokens: 8 })).json()) as { choices: { text: string }[] };
    const streamed = (await events(await post('/v1/completions', { prompt: 'def f(x):', max_tokens: 8, stream: true }))) as { choices: { text: string }[] }[];
    assert.equal(streamed.map((c) => c.choices[0]!.text).join(''), plain.choices[0]!.text);
    const fim = await post('/v1/completions', { prompt: 'def f(x):\n    return ', suffix: '\n', max_tokens: 6 });
    assert.equal(fim.status, 200);
  });

  it('rejects bad requests with OpenAI-style errors', async () => {
    const res = await post('/v1/chat/completions', { messages: [] });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /messages/);
    assert.equal((await fetch(`${base}/v1/nothing`)).status, 404);
    const bad = await fetch(`${base}/v1/completions`, { method: 'POST', body: 'not json' });
    assert.equal(bad.status, 400);
  });

  it('listens on the loopback interface only', () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:/);
  });
});
