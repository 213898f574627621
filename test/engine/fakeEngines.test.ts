/** The client's supervision against engines that crash, hang or talk garbage. */
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineState, EngineUnavailableError } from '../../src/engine/client';
import { fakeEngine, makeClient, waitForState } from '../support/engine';

describe('engine supervision (fake engines)', function () {
  this.timeout(60_000);
  let dir = '';
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'chimera-fake-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function fake(mode: string, extra: Record<string, string> = {}, budget = { max: 5, windowMs: 180_000 }) {
    return makeClient({ enginePath: fakeEngine, requestTimeoutMs: 1500, restartBudget: budget, env: { FAKE_MODE: mode, FAKE_COUNTER: join(dir, 'launches'), ...extra } });
  }
  const ask = (client: ReturnType<typeof fake>['client']) => client.complete({ prefix: 'x', suffix: '', languageId: 'python', maxTokens: 4 });

  it('a crash mid-stream rejects the request clearly, then the engine is restarted', async () => {
    const { client, lines } = fake('crash-mid-stream', { FAKE_HEAL_AFTER: '1' });
    await client.start();
    const stream = ask(client);
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const d of stream) seen.push(d);
      })(),
      (err: unknown) => err instanceof EngineUnavailableError && /exited unexpectedly \(exit code 3\)/.test(err.message),
    );
    assert.deepEqual(seen, ['one ', 'two '], 'what streamed before the crash is kept');
    await waitForState(client, EngineState.Ready);
    assert.equal((await ask(client).result).text, 'ok');
    assert.ok(lines.some((l) => /fake engine launch 2/.test(l)));
    await client.stop();
  });

  it('a hung engine times out, is killed and restarted', async () => {
    const { client } = fake('hang', { FAKE_HEAL_AFTER: '1' });
    await client.start();
    await assert.rejects(ask(client).result, /did not answer within 2 s \(hung\)/);
    await waitForState(client, EngineState.Ready);
    assert.equal((await ask(client).result).text, 'ok');
    await client.stop();
  });

  it('an engine that writes garbage is restarted', async () => {
    const { client } = fake('garbage', { FAKE_HEAL_AFTER: '1' });
    await client.start();
    await assert.rejects(ask(client).result, /sent an invalid message/);
    await waitForState(client, EngineState.Ready);
    assert.equal((await ask(client).result).text, 'ok');
    await client.stop();
  });

  it('gives up after the restart budget and says why', async () => {
    const { client } = fake('crash-mid-stream', {}, { max: 2, windowMs: 60_000 });
    await client.start();
    for (let i = 0; i < 3; i++) {
      await assert.rejects(ask(client).result, EngineUnavailableError);
      if (i < 2) await waitForState(client, EngineState.Ready);
    }
    assert.equal(client.state, EngineState.Failed);
    assert.match(client.lastError ?? '', /failed 3 times within 1 min and will not be restarted automatically/);
    await assert.rejects(ask(client).result, /the engine is failed/);
    await client.restart(); // the user's explicit restart clears the budget
    assert.equal(client.state, EngineState.Ready);
    await client.stop();
  });

  it('an engine that dies while starting fails the start with its exit code', async () => {
    const { client } = fake('crash-on-start');
    await assert.rejects(client.start(), /exited while starting \(exit code 4\)/);
    assert.equal(client.state, EngineState.Failed);
  });
});
