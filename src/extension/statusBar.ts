/**
 * The status bar item: engine state (starting, ready on GPU or CPU, error), the last generation's
 * tokens per second and mean accepted length. Clicking it opens quick actions.
 */
import * as vscode from 'vscode';
import { EngineState } from '../engine/client';
import type { GenerationStats } from '../protocol';
import type { EngineService } from './engineService';
import { readSettings } from './settings';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('chimera.status', vscode.StatusBarAlignment.Right, 100);
  private readonly disposables: vscode.Disposable[] = [];
  private last: GenerationStats | null = null;

  constructor(
    private readonly engine: EngineService,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.item.name = 'Chimera Code';
    this.item.command = 'chimera.statusActions';
    this.disposables.push(
      this.item,
      engine.onDidChangeState(() => this.render()),
      engine.onDidFinishGeneration((stats) => {
        this.last = stats;
        this.render();
      }),
      vscode.commands.registerCommand('chimera.statusActions', () => this.showActions()),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('chimera.inline.enabled') && this.render()),
    );
    this.render();
    this.item.show();
  }

  /** The text shown, for tests. */
  get text(): string {
    return this.item.text;
  }

  render(): void {
    const client = this.engine.client;
    const inline = readSettings(this.log).inline.enabled ? '' : ' $(circle-slash)';
    switch (client.state) {
      case EngineState.Starting:
      case EngineState.Restarting:
        this.item.text = `$(loading~spin) Chimera${inline}`;
        this.item.tooltip = client.state === EngineState.Restarting ? `Restarting the local engine: ${client.lastError ?? ''}` : 'Starting the local engine…';
        this.item.backgroundColor = undefined;
        break;
      case EngineState.Ready: {
        const device = client.info?.device.kind === 'cpu' ? 'CPU' : 'GPU';
        const speed = this.last ? ` · ${this.last.decodeTokensPerSecond.toFixed(0)} tok/s · ${this.last.meanAcceptedLength.toFixed(1)}/step` : '';
        this.item.text = `$(sparkle) Chimera ${device}${speed}${inline}`;
        const info = client.info;
        this.item.tooltip = info ? `${info.model.name} on ${info.device.kind} (${info.device.reason}). Click for actions.` : 'Ready';
        this.item.backgroundColor = undefined;
        break;
      }
      case EngineState.Failed:
        this.item.text = `$(error) Chimera${inline}`;
        this.item.tooltip = `The local engine is not running: ${client.lastError ?? 'unknown error'}. Click for actions.`;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        break;
      case EngineState.Stopped:
        this.item.text = `$(debug-stop) Chimera${inline}`;
        this.item.tooltip = 'The local engine is stopped. Click for actions.';
        this.item.backgroundColor = undefined;
        break;
    }
  }

  private async showActions(): Promise<void> {
    const inline = readSettings(this.log).inline.enabled;
    const actions: (vscode.QuickPickItem & { command: string })[] = [
      { label: `$(${inline ? 'circle-slash' : 'check'}) ${inline ? 'Disable' : 'Enable'} inline completions`, command: 'chimera.toggleInline' },
      { label: '$(comment-discussion) Open chat', command: 'chimera.openChat' },
      { label: '$(folder-opened) Select model…', command: 'chimera.selectModel' },
      { label: '$(debug-restart) Restart engine', command: 'chimera.restartEngine' },
      { label: '$(output) Show log', command: 'chimera.showLog' },
    ];
    const pick = await vscode.window.showQuickPick(actions, { title: 'Chimera Code', placeHolder: this.item.tooltip?.toString() });
    if (pick) await vscode.commands.executeCommand(pick.command);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
