/** What the views say about a shared server: one message and set of actions per failure kind, and the status bar's backend, model and latency. */
import * as assert from 'node:assert/strict';
import { RemoteError, type RemoteErrorKind } from '../../src/backend/remote/errors';
import type { GenerationStats } from '../../src/protocol';
import { ACTION_COMMANDS, describeServerError, formatLatency, serverChatStatus, serverHost, serverStatusBarView, shortModel } from '../../src/extension/serverView';

const STATS: GenerationStats = { mode: 'autoregressive', promptTokens: 30, reusedTokens: 0, generatedTokens: 12, steps: 0, drafted: 0, accepted: 0, meanAcceptedLength: 0, firstTokenMs: 85, totalMs: 412, decodeTokensPerSecond: 33, tokensPerSecond: 29 };
const URL = 'http://gpu-box:8000/v1';

describe('shared server views', () => {
  it('gives each failure kind its own message and the action most likely to fix it first', () => {
    const first: Record<RemoteErrorKind, string> = {
      config: 'openServerSettings',
      unreachable: 'retryServer',
      unauthorized: 'setServerApiKey',
      modelNotFound: 'selectModel',
      noFimFormat: 'openServerSettings',
      timeout: 'retryServer',
      busy: 'retryServer',
      noRoute: 'openServerSettings',
      server: 'showLog',
    };
    const messages = new Set<string>();
    for (const [kind, action] of Object.entries(first) as [RemoteErrorKind, string][]) {
      const problem = describeServerError(new RemoteError(kind, `details of ${kind}`));
      assert.equal(problem.actions[0], action, kind);
      assert.match(problem.message, new RegExp(`\\(details of ${kind}\\)\\.$`), 'the client\'s details follow the headline');
      messages.add(problem.message.split(' (')[0]!);
      for (const a of problem.actions) assert.ok(ACTION_COMMANDS[a].startsWith('chimera.'), a);
    }
    assert.equal(messages.size, Object.keys(first).length, 'no two kinds share a headline');
    assert.match(describeServerError(new RemoteError('unauthorized', 'x')).message, /Set Server API Key/);
    assert.match(describeServerError(new RemoteError('noFimFormat', 'x')).message, /chimera\.server\.fimFormat/);
  });

  it('status bar: the server host, the short model name and the last latency; the tooltip says code goes there', () => {
    const ready = serverStatusBarView({ url: URL, state: { kind: 'ready', model: 'Qwen/Qwen2.5-Coder-7B', fim: 'Qwen2.5-Coder' }, last: STATS }, true);
    assert.equal(ready.text, '$(cloud) Chimera gpu-box:8000 · Qwen2.5-Coder-7B · 412 ms');
    assert.match(ready.tooltip, /^Shared server http:\/\/gpu-box:8000\/v1, model Qwen\/Qwen2\.5-Coder-7B, inline completion by Qwen2\.5-Coder\. Last answer: 12 tokens in 412 ms, the first after 85 ms\. Your code is sent to this server\./);
    assert.equal(ready.error, false);
    const fresh = serverStatusBarView({ url: URL, state: { kind: 'ready', model: 'm', fim: null }, last: null }, false);
    assert.equal(fresh.text, '$(cloud) Chimera gpu-box:8000 · m $(circle-slash)');
    assert.match(fresh.tooltip, /no inline completion \(no FIM format/);
  });

  it('status bar and chat header: connecting is neutral, a failure is an error with its actions', () => {
    assert.deepEqual(serverStatusBarView({ url: URL, state: { kind: 'connecting' }, last: null }, true), { text: '$(loading~spin) Chimera gpu-box:8000', tooltip: `Connecting to the shared server at ${URL}…`, error: false });
    const failed = { url: URL, state: { kind: 'failed' as const, error: new RemoteError('unauthorized', 'GET http://gpu-box:8000/v1/models was refused (HTTP 401)') }, last: null };
    const bar = serverStatusBarView(failed, true);
    assert.equal(bar.text, '$(error) Chimera gpu-box:8000');
    assert.equal(bar.error, true);
    assert.match(bar.tooltip, /refused the API key/);
    const header = serverChatStatus(failed);
    assert.deepEqual([header.engine, header.actions], ['error', ['setServerApiKey']]);
    assert.equal(serverChatStatus({ url: URL, state: { kind: 'ready', model: 'm', fim: null }, last: null }).detail, 'Ready: m on the shared server gpu-box:8000');
  });

  it('names hosts, models and latencies briefly', () => {
    assert.equal(serverHost('https://llm.example.com/v1'), 'llm.example.com');
    assert.equal(serverHost(''), 'no URL');
    assert.equal(serverHost('not a url'), 'not a url');
    assert.equal(shortModel('qwen2.5-coder:7b'), 'qwen2.5-coder:7b');
    assert.equal(formatLatency(999.6), '1000 ms');
    assert.equal(formatLatency(1250), '1.3 s');
  });
});
