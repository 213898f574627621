/**
 * Chimera: Download Model in a real VS Code, against a local server with the Hub's URL layout
 * (test/support/fakeHub.ts) serving a tiny Optimum-layout export: a sha256 mismatch is refused and changes
 * nothing, a dropped connection is resumed by running the command again, and the downloaded model is
 * selected and completes code. (Cancellation, disk space and progress are covered in the engine tier.)
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ChimeraApi } from '../../../src/extension/extension';
import { startFakeHub, type FakeHub } from '../../support/fakeHub';
import { repoRoot } from '../../support/paths';
import { activatedApi, within } from './util';

describe('Download Model from a Hub', function () {
  this.timeout(180_000);
  let api: ChimeraApi;
  let hub: FakeHub;
  const config = () => vscode.workspace.getConfiguration('chimera');
  const request = () => ({ repo: hub.repo, file: 'onnx/model.onnx', use: true });

  before(async () => {
    api = await activatedApi();
    await within(api.engine.ready(), 90_000, 'the engine to start');
    hub = await startFakeHub(join(repoRoot, 'test/fixtures/optimum-qwen2'));
    await config().update('hub.url', hub.url, vscode.ConfigurationTarget.Global);
  });

  after(async () => {
    await config().update('hub.url', undefined, vscode.ConfigurationTarget.Global);
    await config().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
    await hub.close();
    await within(api.engine.ready(), 90_000, 'the engine to come back on the default model');
  });

  it('refuses a file whose sha256 does not match, and keeps the current model', async () => {
    const before = config().get<string>('modelPath');
    hub.corrupt.add('onnx/model.onnx');
    try {
      await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chimera.downloadModel', request())), /sha256/);
    } finally {
      hub.corrupt.clear();
    }
    assert.equal(config().get<string>('modelPath'), before);
  });

  it('resumes after a dropped connection, then selects the model, which completes code', async () => {
    hub.cutAfter.set('onnx/model.onnx', 120_000);
    await assert.rejects(Promise.resolve(vscode.commands.executeCommand('chimera.downloadModel', request())), /connection broke/);
    hub.requests.length = 0;
    const dest = await vscode.commands.executeCommand<string>('chimera.downloadModel', request());
    assert.ok(hub.requests.some((r) => r.startsWith('GET /cdn/onnx%2Fmodel.onnx bytes=')), 'the second run resumed with a Range request');
    assert.equal(config().get<string>('modelPath'), dest);
    const client = await within(api.engine.ready(), 90_000, 'the engine to load the downloaded model');
    const stats = await client.stats();
    assert.equal(stats.model?.path, dest);
    const result = await client.complete({ prefix: 'def add(a, b):\n    ', suffix: '\n', languageId: 'python', filePath: 'add.py', maxTokens: 8 }).result;
    assert.ok(result.stats.generatedTokens > 0, 'the downloaded model generated a completion');
  });
});
