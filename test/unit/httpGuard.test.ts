/** Who may talk to `chimera serve` (engine/httpGuard.ts) and how OpenAI bodies map onto the protocol (engine/openai.ts). */
import * as assert from 'node:assert/strict';
import { hostnameOf, isLoopbackName, refuse } from '../../src/engine/httpGuard';
import { ApiError, chatCall, completionCall } from '../../src/engine/openai';

const port = 8012;
const json = { host: `127.0.0.1:${port}`, 'content-type': 'application/json' };

describe('HTTP API guard', () => {
  it('answers only to loopback host names (DNS rebinding carries the attacker\'s name)', () => {
    for (const host of ['127.0.0.1:8012', 'localhost:8012', 'LOCALHOST', 'app.localhost:8012', '[::1]:8012', 'localhost.']) {
      assert.equal(refuse('GET', { host }, { port }), null, host);
    }
    for (const host of ['evil.example', 'evil.example:8012', '127.0.0.1.evil.example', 'localhost.evil.example:8012', '10.0.0.1:8012', '0.0.0.0:8012', 'user@127.0.0.1', '']) {
      assert.equal(refuse('GET', { host }, { port })?.status, 403, host);
    }
    assert.equal(hostnameOf('[::1]:80'), '[::1]');
    assert.ok(isLoopbackName('x.localhost') && !isLoopbackName('localhostx'));
  });

  it('refuses requests from web pages: a foreign Origin, a null Origin, another port, or a cross-site label', () => {
    for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:3000', 'http://localhost', 'file://']) {
      assert.equal(refuse('POST', { ...json, origin }, { port })?.code, 'origin_not_allowed', origin);
    }
    assert.equal(refuse('POST', { ...json, origin: `http://localhost:${port}` }, { port }), null, 'its own origin');
    assert.equal(refuse('GET', { host: json.host, 'sec-fetch-site': 'cross-site' }, { port })?.status, 403);
    assert.equal(refuse('GET', { host: json.host, 'sec-fetch-site': 'same-site' }, { port })?.status, 403);
    assert.equal(refuse('GET', { host: json.host, 'sec-fetch-site': 'none' }, { port }), null);
  });

  it('requires application/json on POST (text/plain is how a page posts without a preflight)', () => {
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      assert.equal(refuse('POST', { host: json.host, 'content-type': type }, { port })?.status, 415, String(type));
    }
    assert.equal(refuse('POST', { host: json.host, 'content-type': 'Application/JSON; charset=utf-8' }, { port }), null);
    assert.equal(refuse('GET', { host: json.host }, { port }), null, 'GET has no body to type');
  });

  it('requires the bearer token when one is set', () => {
    const options = { port, token: 's3cret' };
    assert.equal(refuse('POST', json, options)?.status, 401);
    assert.equal(refuse('POST', { ...json, authorization: 'Bearer wrong!' }, options)?.status, 401);
    assert.equal(refuse('GET', { host: json.host, authorization: 'Basic czNjcmV0' }, options)?.status, 401);
    assert.equal(refuse('POST', { ...json, authorization: 'Bearer s3cret' }, options), null);
  });
});

describe('OpenAI bodies mapped onto the protocol', () => {
  const model = 'm';
  const status = (f: () => unknown, code: number, message: RegExp) =>
    assert.throws(f, (err: unknown) => err instanceof ApiError && err.status === code && message.test(err.message), `${code} ${message}`);

  it('refuses what it cannot honour instead of ignoring it: n, logprobs, echo, penalties, tools', () => {
    const ask = { prompt: 'x' };
    status(() => completionCall({ ...ask, n: 2 }, model), 400, /"n": only n = 1/);
    status(() => completionCall({ ...ask, logprobs: 1 }, model), 400, /"logprobs"/);
    status(() => completionCall({ ...ask, echo: true }, model), 400, /"echo"/);
    status(() => chatCall({ messages: [{ role: 'user', content: 'x' }], logprobs: true }, model), 400, /"logprobs"/);
    status(() => chatCall({ messages: [{ role: 'user', content: 'x' }], presence_penalty: 0.5 }, model), 400, /penalties/);
    status(() => chatCall({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] }, model), 400, /tools/);
    // Neutral values, and nulls, are what clients send by default.
    assert.equal(completionCall({ ...ask, n: 1, echo: false, logprobs: null, presence_penalty: 0, max_tokens: null }, model).params.kind, 'text');
  });

  it('checks types: stream must be a boolean, temperature a number, prompt one non-empty string', () => {
    status(() => completionCall({ prompt: 'x', stream: 'false' }, model), 400, /"stream" must be true or false/);
    status(() => completionCall({ prompt: 'x', temperature: 'hot' }, model), 400, /"temperature" must be a number from 0 to 2/);
    status(() => completionCall({ prompt: 'x', max_tokens: 0 }, model), 400, /"max_tokens" must be an integer/);
    status(() => completionCall({ prompt: '' }, model), 400, /"prompt" must not be empty/);
    status(() => completionCall({ prompt: ['a', 'b'] }, model), 400, /batches/);
    status(() => chatCall({ messages: [null] }, model), 400, /"messages\[0\]" must be an object/);
    status(() => chatCall({ messages: [{ role: 'tool', content: 'x' }] }, model), 400, /role/);
  });

  it('answers 404 for a model it does not serve', () => {
    status(() => chatCall({ model: 'gpt-4', messages: [{ role: 'user', content: 'x' }] }, model), 404, /"gpt-4" does not exist/);
    assert.equal(chatCall({ model, messages: [{ role: 'user', content: 'x' }] }, model).params.messages.length, 1);
  });

  it('maps OpenAI message forms: developer is system, text parts are joined, a suffix means fill-in-the-middle', () => {
    const call = chatCall({ messages: [{ role: 'developer', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }], stop: '\n' }, model);
    assert.deepEqual(call.params.messages, [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'ab' }]);
    assert.deepEqual(call.params.stop, ['\n']);
    status(() => chatCall({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, model), 400, /only text parts/);
    const fim = completionCall({ prompt: '', suffix: 'b', stream: true, stream_options: { include_usage: true } }, model);
    assert.equal(fim.params.kind, 'fim');
    assert.ok(fim.stream && fim.includeUsage);
  });
});
