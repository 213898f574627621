/**
 * The status bar item: which backend answers and its state. For the local engine: loading, ready on GPU
 * or CPU, error, and the loaded model's last tokens per second and mean accepted length (engineView.ts);
 * for a shared server: its host, the model and the last latency (serverView.ts). BackendService picks
 * the view. Clicking it opens quick actions.
 */
import * as vscode from 'vscode';
import type { BackendService } from './backendService';
import { readSettings } from './settings';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('chimera.status', vscode.StatusBarAlignment.Right, 100);
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly backends: BackendService,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.item.name = 'Chimera Code';
    this.item.command = 'chimera.statusActions';
    this.disposables.push(
      this.item,
      backends.onDidChange(() => this.render()),
      backends.onDidFinishGeneration(() => this.render()),
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

  /** The tooltip shown, for tests. */
  get tooltip(): string {
    return this.item.tooltip?.toString() ?? '';
  }

  render(): void {
    const view = this.backends.statusBarView(readSettings(this.log).inline.enabled);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  private async showActions(): Promise<void> {
    const inline = readSettings(this.log).inline.enabled;
    const actions: (vscode.QuickPickItem & { command: string })[] = [
      { label: `$(${inline ? 'circle-slash' : 'check'}) ${inline ? 'Disable' : 'Enable'} inline completions`, command: 'chimera.toggleInline' },
      { label: '$(comment-discussion) Open chat', command: 'chimera.openChat' },
      { label: '$(folder-opened) Select model…', command: 'chimera.selectModel' },
      { label: '$(debug-restart) Restart engine', command: 'chimera.restartEngine' },
      { label: '$(cloud) Shared server settings…', command: 'chimera.openServerSettings' },
      { label: '$(key) Set server API key…', command: 'chimera.setServerApiKey' },
      { label: '$(output) Show log', command: 'chimera.showLog' },
    ];
    const pick = await vscode.window.showQuickPick(actions, { title: 'Chimera Code', placeHolder: this.item.tooltip?.toString() });
    if (pick) await vscode.commands.executeCommand(pick.command);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
