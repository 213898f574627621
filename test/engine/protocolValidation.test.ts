/**
 * The real engine process spoken to over raw JSON-RPC, the way a buggy or hostile client could: every
 * malformed field is refused with -32602 InvalidParams naming it, the engine stays usable, and
 * concurrent loadModel requests end with the newest model loaded and nobody told otherwise.
 */
import * as assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, ResponseError, type MessageConnection } from 'vscode-jsonrpc/node';
import { ErrorCodes, type GenerationResult, type LoadModelResult, type StatsResult } from '../../src/protocol';
import { realEngine } from '../support/engine';
import { defaultModelDir, fixtureDir, hasDefaultModel } from '../support/models';

describe('engine protocol: request validation (real engine, raw JSON-RPC)', function () {
  this.timeout(120_000);
  let child: ChildProcess;
  let rpc: MessageConnection;

  before(async () => {
    child = fork(realEngine, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    rpc = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    rpc.listen();
    await rpc.sendRequest('initialize', { protocolVersion: 1, modelPath: fixtureDir, device: 'cpu', clientName: 'tests' });
  });
  after(() => {
    rpc.dispose();
    child.kill();
  });

  async function invalid(method: string, params: unknown, field: RegExp): Promise<void> {
    const err = await rpc.sendRequest(method, params).then(
      () => assert.fail(`${method} ${JSON.stringify(params)} was accepted`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ResponseError, String(err));
    assert.equal(err.code, ErrorCodes.InvalidParams, `${JSON.stringify(params)}: ${err.message}`);
    assert.match(err.message, field);
  }

  const chat = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 4 };

  it('refuses bad generation params with -32602 naming the field', async () => {
    await invalid('chat', { ...chat, temperature: 'hot' }, /temperature must be a number from 0 to 2 \(got "hot"\)/);
    await invalid('chat', { ...chat, temperature: 7 }, /temperature/);
    await invalid('chat', { ...chat, mode: 'fast' }, /mode must be one of chimera, ngram, autoregressive/);
    await invalid('chat', { ...chat, messages: [{ role: 'robot', content: 'x' }] }, /messages\[0\]\.role must be one of system, user, assistant/);
    await invalid('chat', { ...chat, messages: [null] }, /messages\[0\] must be an object/);
    await invalid('complete', { prefix: 5, suffix: '', languageId: 'python', maxTokens: 4 }, /prefix must be a string/);
    await invalid('edit', { code: 'x', instruction: '', languageId: 'python', maxTokens: 4 }, /instruction must not be empty/);
    await invalid('complete', { prefix: '', suffix: '', languageId: 'python', maxTokens: 0 }, /maxTokens must be an integer of at least 1/);
    await invalid('chat', undefined, /params must be an object/);
  });

  it('refuses bad loadModel params and keeps the loaded model', async () => {
    await invalid('loadModel', { modelPath: '', device: 'quantum' }, /device must be one of auto, gpu, cpu \(got "quantum"\)/);
    await invalid('loadModel', { modelPath: 5, device: 'cpu' }, /modelPath must be a string \(got 5\)/);
    const stats = await rpc.sendRequest<StatsResult>('stats');
    assert.equal(stats.model?.name, 'chimera-test-fixture');
    const result = await rpc.sendRequest<GenerationResult>('chat', chat);
    assert.equal(result.stats.generatedTokens, 4, 'the engine still answers');
  });

  it('serialises concurrent loadModel requests: the newest wins and the overtaken one says so', async function () {
    if (!hasDefaultModel) this.skip();
    // The default model takes longer to load than the fixture: unserialised, it would finish last and stay loaded.
    const first = rpc.sendRequest<LoadModelResult>('loadModel', { modelPath: defaultModelDir, device: 'cpu' });
    const second = rpc.sendRequest<LoadModelResult>('loadModel', { modelPath: fixtureDir, device: 'cpu' });
    const [a, b] = await Promise.allSettled([first, second]);
    assert.equal(a.status, 'rejected', 'the overtaken load does not report success');
    assert.equal(((a as PromiseRejectedResult).reason as ResponseError<unknown>).code, ErrorCodes.RequestCancelled);
    assert.match(((a as PromiseRejectedResult).reason as Error).message, /superseded by a newer loadModel request/);
    assert.equal(b.status === 'fulfilled' && b.value.model.name, 'chimera-test-fixture');
    assert.equal((await rpc.sendRequest<StatsResult>('stats')).model?.name, 'chimera-test-fixture', 'the model in use is the one reported');
  });
});
