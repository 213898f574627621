/** onnxruntime-node must load and run a model in a plain Node process (what the engine will be). */
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addModel, runAddModelScript } from '../support/onnxModel';
import { repoRoot } from '../support/paths';
import { describeResult, run } from '../support/process';

describe('onnxruntime-node', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'chimera-ort-'));
    writeFileSync(join(dir, 'add.onnx'), addModel());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads in a separate process, reports its bundled CPU backend and runs a model on it', async () => {
    const ortPath = join(repoRoot, 'node_modules/onnxruntime-node');
    const result = await run(process.execPath, ['-e', runAddModelScript(ortPath, join(dir, 'add.onnx'))]);
    assert.equal(result.code, 0, describeResult(result));
    const report = JSON.parse(result.stdout) as {
      backends: { name: string; bundled: boolean }[];
      inputNames: string[];
      outputNames: string[];
      y: number[];
      dims: number[];
    };
    assert.deepEqual(report.backends.find((b) => b.name === 'cpu'), { name: 'cpu', bundled: true });
    assert.deepEqual(report.inputNames, ['A', 'B']);
    assert.deepEqual(report.outputNames, ['Y']);
    assert.deepEqual(report.y, [11, 22, 33]);
    assert.deepEqual(report.dims, [3]);
  });
});
