/**
 * What the buttons on a chat code block do: copy it, insert it at the cursor, or apply it through a
 * diff the user accepts or rejects. The webview only names the action and the code; everything that
 * touches the clipboard or a document happens here, where VS Code's APIs and undo stack are.
 */
import * as vscode from 'vscode';
import type { CodeAction } from '../webview/messages';
import { codeActionRefusal } from './codeBlockRules';

export const PROPOSAL_SCHEME = 'chimera-chat-block';
export const ACCEPT = 'Accept';
export const REJECT = 'Reject';

export type ApplyOutcome = 'accepted' | 'rejected' | 'no-editor' | 'changed' | 'empty';

/** Asks whether to apply; tests pass their own answer instead of clicking a notification. */
export type Confirm = (question: string) => Thenable<string | undefined>;

const askUser: Confirm = (question) => vscode.window.showInformationMessage(question, ACCEPT, REJECT);

export class CodeBlockActions implements vscode.Disposable {
  /** Proposed documents shown on the right of a diff, by URI; read-only, gone once answered. */
  private readonly proposals = new Map<string, string>();
  private readonly registration: vscode.Disposable;
  private proposalCount = 0;

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, {
      provideTextDocumentContent: (uri) => this.proposals.get(uri.toString()) ?? '',
    });
  }

  run(action: CodeAction, code: string): Promise<unknown> {
    switch (action) {
      case 'copy':
        return this.copy(code);
      case 'insert':
        return this.insert(code);
      case 'applyDiff':
        return this.applyDiff(code);
    }
  }

  /** Through the host: the webview's own clipboard access may be blocked by the browser. */
  async copy(code: string): Promise<void> {
    if (refused('copy', code)) return;
    await vscode.env.clipboard.writeText(code);
    vscode.window.setStatusBarMessage('Chimera: code copied to the clipboard', 3000);
  }

  /** Replaces every selection (an empty one is the cursor) with the code, as one undo step. */
  async insert(code: string): Promise<boolean> {
    if (refused('insert', code)) return false;
    const editor = targetEditor();
    if (!editor) return noEditor('insert the code');
    return editor.edit((builder) => {
      for (const selection of editor.selections) builder.replace(selection, code);
    });
  }

  /**
   * Shows the document against the document with the block applied (in place of the selection, or
   * of the whole file when nothing is selected) and applies it, as one undoable WorkspaceEdit, only
   * if the user accepts and the document has not changed in the meantime.
   */
  async applyDiff(code: string, confirm: Confirm = askUser): Promise<ApplyOutcome> {
    if (refused('applyDiff', code)) return 'empty';
    const editor = targetEditor();
    if (!editor) return noEditor('apply the code to').then(() => 'no-editor' as const);
    const document = editor.document;
    const whole = editor.selection.isEmpty;
    const range = whole ? fullRange(document) : new vscode.Range(editor.selection.start, editor.selection.end);
    const version = document.version;
    const proposal = this.propose(document, range, code);
    const name = vscode.workspace.asRelativePath(document.uri);
    try {
      await vscode.commands.executeCommand('vscode.diff', document.uri, proposal, `${name} ↔ Chimera's code block`, { preview: true });
      const answer = await confirm(`Chimera: replace ${whole ? 'the whole file' : 'the selection'} of ${name} with the code block?`);
      if (answer !== ACCEPT) return 'rejected';
      return await applyIfUnchanged(document, version, range, code);
    } finally {
      await closeDiff(proposal);
      this.proposals.delete(proposal.toString());
    }
  }

  private propose(document: vscode.TextDocument, range: vscode.Range, code: string): vscode.Uri {
    const text = document.getText();
    const proposed = text.slice(0, document.offsetAt(range.start)) + code + text.slice(document.offsetAt(range.end));
    // The original file name last, so the diff editor picks the same language for both sides.
    const base = document.uri.path.split('/').pop() || 'untitled';
    const uri = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${++this.proposalCount}/${base}` });
    this.proposals.set(uri.toString(), proposed);
    this.log.debug(`Proposed ${code.length} characters for ${document.uri.toString()}.`);
    return uri;
  }

  dispose(): void {
    this.registration.dispose();
    this.proposals.clear();
  }
}

async function applyIfUnchanged(document: vscode.TextDocument, version: number, range: vscode.Range, code: string): Promise<ApplyOutcome> {
  if (document.isClosed || document.version !== version) {
    void vscode.window.showWarningMessage('Chimera: the file changed while the diff was open, so nothing was applied. Apply the block again.');
    return 'changed';
  }
  const edit = new vscode.WorkspaceEdit();
  edit.replace(document.uri, range, code);
  return (await vscode.workspace.applyEdit(edit)) ? 'accepted' : 'changed';
}

/**
 * The editor the user was working in. Clicking in the chat view (a sidebar view) keeps the text
 * editor active; if the chat sits somewhere that took it away, fall back to a visible one.
 */
function targetEditor(): vscode.TextEditor | undefined {
  const active = vscode.window.activeTextEditor;
  if (active && active.document.uri.scheme !== PROPOSAL_SCHEME) return active;
  return vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme !== PROPOSAL_SCHEME);
}

function fullRange(document: vscode.TextDocument): vscode.Range {
  return new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length));
}

/** Refuses an action on a block with no code, saying why, instead of proposing to delete the selection. */
function refused(action: CodeAction, code: string): boolean {
  const refusal = codeActionRefusal(action, code);
  if (refusal !== undefined) void vscode.window.showInformationMessage(refusal);
  return refusal !== undefined;
}

async function noEditor(what: string): Promise<false> {
  void vscode.window.showInformationMessage(`Chimera: open a file to ${what}.`);
  return false;
}

async function closeDiff(proposal: vscode.Uri): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.toString() === proposal.toString());
  if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
}
