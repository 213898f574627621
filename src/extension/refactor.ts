/**
 * `chimera.refactor`: rewrite the selection by an instruction.
 * The rewrite streams from the backend in use (BackendService) into the right side of a diff editor
 * (the local engine drafts from the selection itself: speculative edits; a shared server answers over
 * chat), with progress and cancel in a notification. Nothing changes until the
 * user accepts; then the selection is replaced in one undoable edit. Rejecting leaves the file as it was.
 */
import * as vscode from 'vscode';
import type { BackendService } from './backendService';
import { readSettings } from './settings';

export const PROPOSAL_SCHEME = 'chimera-refactor';
const PENDING_CONTEXT = 'chimera.refactorPending';

const SUGGESTIONS = [
  'Simplify this code',
  'Add type annotations',
  'Add comments explaining the logic',
  'Use more descriptive names',
  'Convert to async/await',
  'Extract the repeated logic into a function',
  'Remove the comments',
];

export interface Proposal {
  readonly original: string;
  readonly proposed: string;
  /** How much of `original` (from its start) the model read and rewrote; the rest is kept as it was. */
  readonly covered: number;
  accept(): Promise<boolean>;
  reject(): Promise<void>;
}

interface Pending {
  documentUri: vscode.Uri;
  range: vscode.Range;
  version: number;
  original: string;
  proposed: string;
  proposalUri: vscode.Uri;
}

export class RefactorController implements vscode.Disposable, vscode.TextDocumentContentProvider {
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private pending: Pending | null = null;
  private readonly proposed = new vscode.EventEmitter<Proposal>();
  /** Fires when a rewrite has finished streaming and waits for the user's decision. */
  readonly onDidPropose = this.proposed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private counter = 0;

  constructor(
    private readonly backends: BackendService,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      this.changed,
      this.proposed,
      vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, this),
      vscode.commands.registerCommand('chimera.refactor', (args?: { instruction?: string }) => this.run(args?.instruction)),
      vscode.commands.registerCommand('chimera.acceptRefactor', () => this.accept()),
      vscode.commands.registerCommand('chimera.rejectRefactor', () => this.reject()),
    );
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '';
  }

  async run(instruction?: string): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.selection.isEmpty) {
      void vscode.window.showInformationMessage('Chimera: select the code to refactor first.');
      return;
    }
    if (this.pending) await this.reject();
    const wanted = instruction ?? (await askInstruction());
    if (!wanted) return;
    const doc = editor.document;
    const range = new vscode.Range(editor.selection.start, editor.selection.end);
    const original = doc.getText(range);
    const proposalUri = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${doc.uri.path.split('/').pop() ?? 'proposal'}`, query: `${++this.counter}` });
    const before = doc.getText(new vscode.Range(new vscode.Position(0, 0), range.start));
    const after = doc.getText(new vscode.Range(range.end, doc.lineAt(doc.lineCount - 1).range.end));
    const show = (middle: string) => {
      this.contents.set(proposalUri.toString(), before + middle + after);
      this.changed.fire(proposalUri);
    };
    show(original);
    await vscode.commands.executeCommand('vscode.diff', doc.uri, proposalUri, `Chimera: ${wanted}`, { preview: true, viewColumn: vscode.ViewColumn.Beside });
    const rewritten = await this.stream(original, wanted, doc.languageId, show);
    if (rewritten === undefined) {
      await this.closeDiff(proposalUri);
      return;
    }
    // A selection longer than the model's context is read from its start; the rewrite replaces only
    // what was read, and the rest of the selection stays as it was (never silently dropped).
    const covered = rewritten.read ?? original.length;
    const proposed = keepTrailingNewline(original.slice(0, covered), rewritten.text) + original.slice(covered);
    if (covered < original.length) this.warnPartial(original, covered);
    show(proposed);
    this.pending = { documentUri: doc.uri, range, version: doc.version, original, proposed, proposalUri };
    await vscode.commands.executeCommand('setContext', PENDING_CONTEXT, true);
    this.proposed.fire({ original, proposed, covered, accept: () => this.accept(), reject: () => this.reject() });
    void vscode.window.showInformationMessage(`Chimera: apply the refactoring "${wanted}"?`, 'Accept', 'Reject').then((choice) => {
      if (choice === 'Accept') void this.accept();
      else if (choice === 'Reject') void this.reject();
    });
  }

  private warnPartial(original: string, covered: number): void {
    const lines = (text: string) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    const message = `Chimera: the selection is longer than the model can read at once; the rewrite covers its first ${lines(original.slice(0, covered))} of ${lines(original)} lines, and the rest is left as it was.`;
    this.log.warn(message);
    void vscode.window.showWarningMessage(message);
  }

  /**
   * Streams the rewrite with progress and a Cancel button; undefined when cancelled or failed. `read`
   * is how many characters of the code the model read, when it could not read all of it.
   */
  private stream(code: string, instruction: string, languageId: string, show: (text: string) => void): Promise<{ text: string; read?: number } | undefined> {
    const title = `Chimera: ${instruction}`;
    return Promise.resolve(
      vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        const settings = readSettings(this.log);
        try {
          const client = await this.backends.ready();
          const stream = client.edit({ code, instruction, languageId, maxTokens: Math.max(settings.chat.maxTokens, Math.ceil(code.length / 2)), temperature: settings.temperature, mode: settings.decoding.mode }, controller.signal);
          let text = '';
          let shown = 0;
          for await (const delta of stream) {
            text += delta;
            if (text.length - shown > 40) {
              show(text);
              shown = text.length;
              progress.report({ message: `${text.split('\n').length} lines…` });
            }
          }
          const result = await stream.result;
          this.backends.noteResult(result.stats);
          this.log.info(`Refactor: ${result.stats.generatedTokens} tokens at ${result.stats.decodeTokensPerSecond.toFixed(0)} tok/s, ${result.stats.meanAcceptedLength.toFixed(2)} tokens per step.`);
          return { text: result.text, read: result.trimmed?.codeCharsRead };
        } catch (err) {
          // Each kind of failure gets its own message and the buttons that can fix it (backendService.ts).
          if ((err as Error).name !== 'AbortError') this.backends.report(err, 'Chimera: the refactoring failed.');
          return undefined;
        }
      }),
    );
  }

  /** Applies the pending proposal as one undoable edit, if the file has not changed since. */
  async accept(): Promise<boolean> {
    const p = this.pending;
    if (!p) return false;
    this.pending = null;
    await vscode.commands.executeCommand('setContext', PENDING_CONTEXT, false);
    const doc = await vscode.workspace.openTextDocument(p.documentUri);
    if (doc.version !== p.version && doc.getText(p.range) !== p.original) {
      void vscode.window.showWarningMessage('Chimera: the file changed while the refactoring was shown; nothing was applied.');
      await this.closeDiff(p.proposalUri);
      return false;
    }
    const edit = new vscode.WorkspaceEdit();
    edit.replace(p.documentUri, p.range, p.proposed);
    const applied = await vscode.workspace.applyEdit(edit);
    await this.closeDiff(p.proposalUri);
    return applied;
  }

  async reject(): Promise<void> {
    const p = this.pending;
    this.pending = null;
    await vscode.commands.executeCommand('setContext', PENDING_CONTEXT, false);
    if (p) await this.closeDiff(p.proposalUri);
  }

  private async closeDiff(proposalUri: vscode.Uri): Promise<void> {
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === proposalUri.toString());
    if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
    this.contents.delete(proposalUri.toString());
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

async function askInstruction(): Promise<string | undefined> {
  const pick = vscode.window.createQuickPick();
  pick.title = 'Chimera: Refactor Selection';
  pick.placeholder = 'Describe the change, or pick a suggestion';
  const suggestions = SUGGESTIONS.map((label) => ({ label }));
  pick.items = suggestions;
  // Whatever the user types is itself an instruction, offered first.
  pick.onDidChangeValue((value) => (pick.items = value.trim() ? [{ label: value, description: 'your instruction' }, ...suggestions] : suggestions));
  return new Promise<string | undefined>((resolve) => {
    pick.onDidAccept(() => {
      resolve(pick.selectedItems[0]?.label ?? (pick.value.trim() || undefined));
      pick.hide();
    });
    pick.onDidHide(() => {
      resolve(undefined);
      pick.dispose();
    });
    pick.show();
  });
}

/** Selections of whole lines end in a newline; the model's answer stops before the closing fence's. */
function keepTrailingNewline(original: string, rewritten: string): string {
  return original.endsWith('\n') && !rewritten.endsWith('\n') ? `${rewritten}\n` : rewritten;
}
