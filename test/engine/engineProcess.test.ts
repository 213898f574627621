/** The real engine process with the fixture model, through the EngineClient the extension uses. */
import * as assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortError } from '../../src/core/errors';
import { EngineRequestError, EngineState, reportStoppedStats, type EngineClient } from '../../src/engine/client';
import { ErrorCodes, type GenerationStats } from '../../src/protocol';
import { makeClient, waitForState } from '../support/engine';
import { fixtureDir } from '../support/models';
import { isAlive } from '../support/process';

describe('engine process (real, fixture model)', function () {
  this.timeout(120_000);
  let client: EngineClient;
  let lines: string[];
  before(async () => {
    ({ client, lines } = makeClient({ modelPath: fixtureDir }));
    await client.start();
  });
  after(() => client.stop());

  it('initializes and reports model, device and capabilities', () => {
    assert.equal(client.state, EngineState.Ready);
    assert.equal(client.info?.model.name, 'chimera-test-fixture');
    assert.deepEqual(client.info?.capabilities.modes, ['chimera', 'ngram', 'autoregressive']);
    assert.equal(client.info?.device.kind, 'cpu');
    assert.equal(client.info?.capabilities.fim, true);
    assert.equal(client.info?.model.hasFim, true);
    assert.ok(lines.some((l) => l.includes('engine: model chimera-test-fixture loaded')), 'the engine log reaches the client');
  });

  it('streams output in order and complete', async () => {
    const stream = client.chat({ messages: [{ role: 'user', content: 'Write a loop' }], maxTokens: 40, mode: 'chimera' });
    const deltas: string[] = [];
    for await (const d of stream) deltas.push(d);
    const result = await stream.result;
    assert.ok(deltas.length > 1, 'more than one piece');
    assert.equal(deltas.join(''), result.text);
    assert.equal(result.stats.generatedTokens, 40);
  });

  it('streams FIM completions and edits', async () => {
    const completion = await client.complete({ prefix: 'def f(x):\n    return ', suffix: '\n', languageId: 'python', filePath: 'a.py', maxTokens: 12 }).result;
    assert.ok(completion.stats.promptTokens > 5);
    const edit = client.edit({ code: 'total = 0\nfor x in xs:\n    total += x\n', instruction: 'Rename `total` to `acc`', languageId: 'python', maxTokens: 30 });
    let streamed = '';
    for await (const d of edit) streamed += d;
    assert.equal(streamed, (await edit.result).text);
  });

  it('cancels promptly and is free for the next request', async () => {
    const controller = new AbortController();
    const stream = client.chat({ messages: [{ role: 'user', content: 'Tell me a long story' }], maxTokens: 800 }, controller.signal);
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const t0 = performance.now();
    controller.abort();
    await assert.rejects(stream.result, AbortError);
    const cancelMs = performance.now() - t0;
    console.log(`      cancellation took ${cancelMs.toFixed(1)} ms`);
    assert.ok(cancelMs < 1000, `cancellation took ${cancelMs} ms`);
    const next = await client.complete({ prefix: 'x = ', suffix: '', languageId: 'python', maxTokens: 4 }).result;
    assert.equal(next.stats.generatedTokens, 4);
    assert.equal((await client.stats()).queue.running, 0);
  });

  it('a generation stopped after it produced tokens still reports its stats (early-stopped completions keep their speed)', async () => {
    const controller = new AbortController();
    const stream = client.complete({ prefix: 'def long(x):\n    ', suffix: '\n', languageId: 'python', maxTokens: 400 }, controller.signal);
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();
    controller.abort();
    const stopped: unknown = await stream.result.then(() => assert.fail('the completion was not stopped'), (err: unknown) => err);
    assert.ok(stopped instanceof AbortError, 'still an AbortError to every caller');
    let reported: GenerationStats | undefined;
    reportStoppedStats(stopped, (stats) => (reported = stats));
    assert.ok(reported, 'the stopped completion carries its stats');
    assert.ok(reported.generatedTokens >= 2 && reported.generatedTokens < 400, `generated ${reported.generatedTokens}`);
    assert.ok(reported.decodeTokensPerSecond > 0 && reported.steps > 0);
    assert.deepEqual((await client.stats()).last, reported, 'and the engine counts it as the last generation');
    // Stopped before anything was produced: nothing to report, and no made-up numbers.
    const early = new AbortController();
    early.abort();
    const none: unknown = await client.complete({ prefix: 'x = ', suffix: '', languageId: 'python', maxTokens: 4 }, early.signal).result.catch((err: unknown) => err);
    reportStoppedStats(none, () => assert.fail('a request stopped before it started reported stats'));
  });

  it('survives 200 rapid completions that cancel one another, without leaks', async () => {
    for (let i = 0; i < 20; i++) await client.complete({ prefix: `warm_${i} = (`, suffix: ')\n', languageId: 'python', maxTokens: 16 }).result;
    const before = await client.stats();
    const results: Promise<unknown>[] = [];
    let previous: AbortController | null = null;
    for (let i = 0; i < 200; i++) {
      previous?.abort(); // the editor cancels the old request as the user types
      const controller = new AbortController();
      previous = controller;
      results.push(client.complete({ prefix: `value_${i} = compute(`, suffix: ')\n', languageId: 'python', maxTokens: 16 }, controller.signal).result);
      // a keystroke later: long enough for the request to reach the engine and start decoding
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const settled = await Promise.allSettled(results);
    const ok = settled.filter((s) => s.status === 'fulfilled').length;
    const cancelled = settled.filter((s) => s.status === 'rejected' && (s.reason as Error).name === 'AbortError').length;
    assert.equal(ok + cancelled, 200, 'every request either completed or was cancelled');
    assert.equal(settled.at(-1)!.status, 'fulfilled', 'the latest request wins');
    const after = await client.stats();
    const inEngine = after.totals.cancelled - before.totals.cancelled;
    console.log(`      200 requests: ${ok} completed, ${cancelled} cancelled (${inEngine} of them inside the engine); engine RSS ${(before.memory.rssBytes / 2 ** 20).toFixed(1)} MB -> ${(after.memory.rssBytes / 2 ** 20).toFixed(1)} MB`);
    assert.ok(inEngine > 100, 'most cancellations should reach the engine, or this test proves little');
    assert.deepEqual(after.queue, { running: 0, waiting: 0 });
    assert.equal(client.inFlight, 0);
    assert.ok(after.memory.rssBytes - before.memory.rssBytes < 64 * 2 ** 20, 'RSS grew by more than 64 MB');
  });
});

describe('engine start-up failures', function () {
  this.timeout(60_000);

  async function initError(options: Parameters<typeof makeClient>[0]): Promise<{ err: EngineRequestError; client: EngineClient }> {
    const { client } = makeClient(options);
    const err = await client.start().then(
      () => assert.fail('the engine started'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof EngineRequestError, String(err));
    assert.equal(client.state, EngineState.Failed);
    return { err, client };
  }

  it('names the missing file of a broken model package', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'chimera-broken-')), 'pkg');
    cpSync(fixtureDir, dir, { recursive: true });
    unlinkSync(join(dir, 'target.onnx'));
    const { err } = await initError({ modelPath: dir });
    rmSync(join(dir, '..'), { recursive: true, force: true });
    assert.equal(err.code, ErrorCodes.ModelLoadFailed);
    assert.equal(err.data?.file, join(dir, 'target.onnx'));
    assert.match(err.message, /target\.onnx: missing/);
  });

  it('refuses gpu without a GPU, and says so', async () => {
    const { err } = await initError({ modelPath: fixtureDir, device: 'gpu' });
    assert.equal(err.code, ErrorCodes.DeviceUnavailable);
    assert.match(err.message, /no usable GPU/);
  });

  it('falls back to the CPU for auto, and says why', async () => {
    const { client } = makeClient({ modelPath: fixtureDir, device: 'auto' });
    await client.start();
    assert.equal(client.info?.device.kind, 'cpu');
    assert.equal(client.info?.device.requested, 'auto');
    assert.match(client.info!.device.reason, /GPU unavailable/);
    await client.stop();
  });
});

describe('engine lifetime', function () {
  this.timeout(60_000);

  it('exits by itself when its parent process dies', async () => {
    const { spawn } = await import('node:child_process');
    const { join } = await import('node:path');
    const { repoRoot } = await import('../support/paths');
    // A stand-in for the extension host: forks the engine, reports its pid, then is killed outright.
    const parentScript = `const { fork } = require('child_process');
      const engine = fork(${JSON.stringify(join(repoRoot, 'dist/engine.js'))}, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
      process.stdout.write(String(engine.pid) + '\\n');
      setInterval(() => undefined, 1000);`;
    const parent = spawn(process.execPath, ['-e', parentScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    const enginePid = await new Promise<number>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    assert.ok(isAlive(enginePid), 'the engine started');
    parent.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (isAlive(enginePid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(isAlive(enginePid), false, 'the engine outlived its parent');
  });
});

describe('engine restarts (real engine)', function () {
  this.timeout(120_000);

  it('survives Restart Engine twice within a few hundred milliseconds, with one engine serving', async () => {
    const { client } = makeClient({ modelPath: fixtureDir });
    await client.start();
    const first = client.restart();
    await waitForState(client, EngineState.Starting); // the first restart is loading the model
    const second = client.restart();
    await Promise.all([first, second]);
    assert.equal(client.state, EngineState.Ready);
    const result = await client.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 }).result;
    assert.equal(result.stats.generatedTokens, 4);
    await client.stop();
  });
});
