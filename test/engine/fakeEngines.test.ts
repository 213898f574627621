/** The client's supervision against engines that crash, hang or talk garbage. */
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineState, EngineUnavailableError } from '../../src/engine/client';
import { fakeEngine, makeClient, waitForState } from '../support/engine';
import { isAlive } from '../support/process';

describe('engine supervision (fake engines)', function () {
  this.timeout(60_000);
  let dir = '';
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'chimera-fake-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function fake(mode: string, extra: Record<string, string> = {}, budget = { max: 5, windowMs: 180_000 }) {
    return makeClient({ enginePath: fakeEngine, requestTimeoutMs: 1500, restartBudget: budget, env: { FAKE_MODE: mode, FAKE_COUNTER: join(dir, 'launches'), ...extra } });
  }
  const ask = (client: ReturnType<typeof fake>['client']) => client.complete({ prefix: 'x', suffix: '', languageId: 'python', maxTokens: 4 });
  const launches = () => Number(readFileSync(join(dir, 'launches'), 'utf8'));
  /** Resolves with the first of Ready and Failed the client reaches. */
  const settled = (client: ReturnType<typeof fake>['client']) =>
    new Promise<EngineState>((resolve) => {
      const sub = client.onStateChange((s) => {
        if (s === EngineState.Ready || s === EngineState.Failed) {
          sub.dispose();
          resolve(s);
        }
      });
    });

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
    await assert.rejects(ask(client).result, /sent nothing for 2 s while a request waited for its answer \(hung\)/);
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

  it('two Restart Engine calls close together end with one running engine, not a failed client', async () => {
    const pids = join(dir, 'pids');
    const { client } = fake('slow-start', { FAKE_START_MS: '300', FAKE_PIDS: pids });
    await client.start();
    const first = client.restart();
    const launching = waitForState(client, EngineState.Starting);
    await launching; // the first restart is loading its engine, as a double click finds it
    const second = client.restart();
    await Promise.all([first, second]);
    assert.equal(client.state, EngineState.Ready);
    assert.equal((await ask(client).result).text, 'ok');
    const running = readFileSync(pids, 'utf8').trim().split('\n').map(Number).filter(isAlive);
    assert.equal(running.length, 1, `engines still running: ${running.join(', ')}`);
    await client.stop();
    assert.ok(!isAlive(running[0]!), 'stop ends it');
  });

  it('a double click that lands before the restart begins is one restart', async () => {
    const { client } = fake('healthy');
    await client.start();
    const [a, b] = [client.restart(), client.restart()];
    assert.equal(a, b, 'the second request joins the first');
    await a;
    assert.equal(launches(), 2);
    await client.stop();
  });

  it('a restart asked for after a stop runs after the stop, whatever was queued before', async () => {
    const { client } = fake('healthy');
    await client.start();
    const first = client.restart();
    const stopped = client.stop();
    const last = client.restart();
    assert.notEqual(last, first, 'it does not join the restart queued before the stop');
    await Promise.all([first, stopped, last]);
    assert.equal(client.state, EngineState.Ready);
    await client.stop();
  });

  it('a healthy engine streaming longer than the timeout is not killed, nor is a request waiting in its queue', async () => {
    // 10 pieces 250 ms apart: 2.5 s per reply against a 1.5 s timeout; the second waits 2.5 s before its first piece.
    const { client, lines } = fake('slow-stream', { FAKE_INTERVAL: '250', FAKE_PIECES: '10' });
    await client.start();
    const [a, b] = [ask(client), ask(client)];
    const results = await Promise.all([a.result, b.result]);
    assert.deepEqual(results.map((r) => r.text), ['..........', '..........']);
    assert.equal(client.state, EngineState.Ready);
    assert.equal(launches(), 1, 'never restarted');
    assert.ok(!lines.some((l) => /hung/.test(l)), lines.join('\n'));
    await client.stop();
  });

  it('a crash during an automatic restart counts against the budget and is retried, not failed at once', async () => {
    const { client } = fake('', { FAKE_MODES: 'crash-mid-stream,crash-on-start,crash-on-start,healthy' });
    await client.start();
    const outcome = settled(client);
    await assert.rejects(ask(client).result, EngineUnavailableError);
    assert.equal(await outcome, EngineState.Ready, `the client gave up: ${client.lastError}`);
    assert.equal(launches(), 4);
    assert.equal((await ask(client).result).text, 'ok');
    await client.stop();
  });

  it('crashes while restarting exhaust the budget like any others, and the client says so', async () => {
    const { client } = fake('', { FAKE_MODES: 'crash-mid-stream,crash-on-start' }, { max: 2, windowMs: 60_000 });
    await client.start();
    const outcome = settled(client);
    await assert.rejects(ask(client).result, EngineUnavailableError);
    assert.equal(await outcome, EngineState.Failed);
    assert.equal(launches(), 3, 'the first launch and two restarts');
    assert.match(client.lastError ?? '', /failed 3 times within 1 min and will not be restarted automatically; last error: the engine exited while starting \(exit code 4\)/);
  });

  it('stop during a start cuts it short and leaves the client stopped', async () => {
    const { client } = fake('slow-start', { FAKE_START_MS: '5000' });
    const starting = client.start();
    await waitForState(client, EngineState.Starting);
    await client.stop();
    await assert.rejects(starting, /stopped while starting/);
    assert.equal(client.state, EngineState.Stopped);
  });
});
