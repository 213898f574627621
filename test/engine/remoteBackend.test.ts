/**
 * The shared-server client against a real server, `chimera serve` as a process: fill-in-the-middle with
 * `suffix`, and cancellation. Cancelling a completion must abort its HTTP request, and the server must see
 * the disconnect and stop generating; the server's own log ("stopped after N tokens", CHIMERA_LOG=debug)
 * is the proof, since a server that missed the disconnect would run to its token limit and log that instead.
 */
import * as assert from 'node:assert/strict';
import { RemoteBackend } from '../../src/backend/remote/client';
import type { RemoteConfig } from '../../src/backend/remote/config';
import { startServe, type Served } from '../support/serve';

const LONG = 900;
const FIM = { prefix: 'def parse(line):\n    ', suffix: '\n\n\ndef main():\n    pass\n', languageId: 'python', maxTokens: LONG, temperature: 0 };

function stoppedLines(served: Served): string[] {
  return served.log().split('\n').filter((line) => /debug: api: stopped after \d+ tokens/.test(line));
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('shared-server client against chimera serve', function () {
  this.timeout(120_000);
  let served: Served;
  let config: RemoteConfig;

  before(async () => {
    served = await startServe([], { CHIMERA_LOG: 'debug' });
    config = { url: `${served.base}/v1`, model: '', fimFormat: 'openai-suffix', timeoutMs: 30_000 };
  });
  after(() => served?.stop());

  it('connects through /v1/models and completes with `suffix`, streamed', async () => {
    const backend = new RemoteBackend(config);
    const model = await backend.connect();
    assert.equal(model.name, 'chimera-test-fixture');
    assert.equal(model.hasFim, true);
    const stream = backend.complete({ ...FIM, maxTokens: 12 });
    let text = '';
    for await (const piece of stream) text += piece;
    const result = await stream.result;
    assert.equal(result.text, text);
    assert.ok(result.stats.generatedTokens > 0 && result.stats.generatedTokens <= 12, `${result.stats.generatedTokens} tokens`);
  });

  it('cancelling a completion aborts its HTTP request: the server sees the disconnect and stops generating', async () => {
    const backend = new RemoteBackend(config);
    await backend.connect();
    const before = stoppedLines(served).length;
    const controller = new AbortController();
    const stream = backend.complete(FIM, controller.signal);
    const first = await stream[Symbol.asyncIterator]().next();
    assert.equal(first.done, false, 'the server is generating');
    const abortedAt = performance.now();
    controller.abort();
    await assert.rejects(stream.result, (err: Error) => err.name === 'GenerationStoppedError' || err.name === 'AbortError');
    await waitFor(() => stoppedLines(served).length > before, 10_000, 'the server to log the stop');
    const line = stoppedLines(served)[before]!;
    const tokens = Number(/stopped after (\d+) tokens/.exec(line)![1]);
    assert.ok(tokens < LONG, `the server stopped after ${tokens} of ${LONG} tokens`);
    console.log(`      server stopped ${(performance.now() - abortedAt).toFixed(0)} ms after the abort, after ${tokens} of ${LONG} tokens`);
  });

  it('a newer completion aborts the older one (latest wins): the server stops the first, then answers the second', async () => {
    const backend = new RemoteBackend(config);
    await backend.connect();
    const before = stoppedLines(served).length;
    const older = backend.complete(FIM);
    assert.equal((await older[Symbol.asyncIterator]().next()).done, false);
    const newer = backend.complete({ ...FIM, prefix: 'def other(x):\n    ', maxTokens: 8 });
    await assert.rejects(older.result);
    const result = await newer.result;
    assert.ok(result.stats.generatedTokens > 0, 'the newer one was answered');
    await waitFor(() => stoppedLines(served).length > before, 10_000, 'the server to log the stop of the older one');
  });
});
