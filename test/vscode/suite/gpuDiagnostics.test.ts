/**
 * *Chimera: Show GPU Diagnostics* in a real VS Code, against the real engine: the report opens in an
 * editor and answers what runs the model and why not the GPU. This machine has no GPU, so the engine
 * fell back to the CPU, and the status bar links to the report.
 * CHIMERA_SCREENSHOT=… saves a picture of it as gpu-diagnostics.png.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EngineState } from '../../../src/engine/lifecycle';
import type { ChimeraApi } from '../../../src/extension/extension';
import { screenshot } from './screenshot';
import { activatedApi, within } from './util';

describe('GPU diagnostics', function () {
  this.timeout(180_000);
  let api: ChimeraApi;
  const config = () => vscode.workspace.getConfiguration('chimera');

  /** Resolves once the engine is ready with `device` as its requested device (after the restart a change causes). */
  async function readyWith(device: string): Promise<void> {
    const done = () => api.engine.snapshot().state === EngineState.Ready && api.engine.snapshot().info?.device.requested === device;
    if (done()) return;
    const restarted = new Promise<void>((resolve) => {
      const sub = api.engine.onDidChangeState(() => {
        if (!done()) return;
        sub.dispose();
        resolve();
      });
    });
    await within(restarted, 90_000, `the engine to restart with chimera.device = ${device}`);
  }

  before(async () => {
    api = await activatedApi();
    await within(api.engine.ready(), 90_000, 'the engine to start');
    // The suite runs on the CPU by setting; a user's default is auto (the GPU when one is usable).
    await config().update('device', 'auto', vscode.ConfigurationTarget.Global);
    await readyWith('auto');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await config().update('device', undefined, vscode.ConfigurationTarget.Global);
    await readyWith('cpu');
  });

  it('the status bar links to the report when a GPU was allowed but the CPU runs the model', () => {
    assert.equal(api.engine.snapshot().info?.device.kind, 'cpu', 'this machine has no GPU');
    assert.notEqual(api.engine.snapshot().info?.device.requested, 'cpu');
    assert.match(api.statusBar.tooltip, /command:chimera\.showGpuDiagnostics/);
  });

  it('opens a report of the platform, the providers, the adapters, the choice with each refusal, and c(1)', async () => {
    const text = await vscode.commands.executeCommand<string | undefined>('chimera.showGpuDiagnostics');
    assert.ok(text, 'the command produced a report');
    const shown = vscode.window.activeTextEditor?.document.getText();
    assert.equal(shown, text, 'the report is open in the editor');
    assert.equal(vscode.window.activeTextEditor?.document.isDirty, false, 'closing it will not ask to save');
    assert.match(text, /^Chimera Code: GPU diagnostics/);
    assert.match(text, new RegExp(`Platform +${process.platform} ${process.arch} · Node [\\d.]+ · Electron|Platform +${process.platform} ${process.arch} · Node`));
    assert.match(text, /Execution providers in this onnxruntime build\n {2}cpu +present/);
    assert.match(text, /webgpu +present +WebGPU over Vulkan/);
    assert.match(text, /Chosen +cpu: no GPU candidate was usable/);
    assert.match(text, /\d\. cuda +refused +not installed/);
    assert.match(text, /\d\. webgpu +refused +.*(device nodes|software)/);
    assert.match(text, /c\(1\).*\n {2}cpu +\d+\.\d\d ms/);
    await vscode.commands.executeCommand('notifications.clearAll');
    await new Promise((resolve) => setTimeout(resolve, 2000)); // the finished progress notification fades out
    await screenshot('gpu-diagnostics');
  });
});
