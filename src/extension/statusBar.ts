/**
 * The status bar item: which backend answers and its state. For the local engine: loading, ready on GPU
 * or CPU, error, and the loaded model's last tokens per second and mean accepted length (engineView.ts);
 * for a shared server: its host, the model and the last latency (serverView.ts). BackendService picks
 * the view. Clicking it opens quick actions.
 */
import * as vscode from 'vscode';
import type { BackendService } from './backendService';
import { SHOW_GPU_DIAGNOSTICS } from './gpuDiagnostics';
import { readSettings } from './settings';

/**
 * A tooltip with a link to the GPU diagnostics, for a model the CPU runs although a GPU was allowed: "why
 * is my GPU not used" is answered one click away. Only that command may run from the link.
 */
function withDiagnosticsLink(text: string): vscode.MarkdownString {
  const tip = new vscode.MarkdownString(undefined, true);
  tip.isTrusted = { enabledCommands: [SHOW_GPU_DIAGNOSTICS] };
  tip.appendText(text);
  tip.appendMarkdown(`\n\n[$(pulse) Why not the GPU? Show GPU Diagnostics](command:${SHOW_GPU_DIAGNOSTICS})`);
  return tip;
}

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
    const tip = this.item.tooltip;
    return typeof tip === 'string' ? tip : (tip?.value ?? '');
  }

  render(): void {
    const view = this.backends.statusBarView(readSettings(this.log).inline.enabled);
    this.item.text = view.text;
    this.item.tooltip = view.gpuFallback ? withDiagnosticsLink(view.tooltip) : view.tooltip;
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
      { label: '$(pulse) Show GPU diagnostics', command: SHOW_GPU_DIAGNOSTICS },
      { label: '$(output) Show log', command: 'chimera.showLog' },
    ];
    const pick = await vscode.window.showQuickPick(actions, { title: 'Chimera Code', placeHolder: this.tooltip });
    if (pick) await vscode.commands.executeCommand(pick.command);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
