/**
 * `chimera.explain`: the selection (or the current line) goes to the chat panel as an Explain
 * request, which the engine renders with the model's own Explain prompt; the reply streams there.
 * Also home to `editorAttachment`, the one place that turns editor state into code for a prompt.
 */
import * as vscode from 'vscode';
import type { CodeAttachment, TranscriptMessage } from '../webview/messages';
import { truncateCode } from './chatHistory';
import type { ChatSession } from './chatSession';

export const EXPLAIN_COMMAND = 'chimera.explain';
export const EXPLAIN_TEXT = 'Explain this code';

/**
 * The code to send from an editor: the selection, or when nothing is selected the current line
 * (Explain) or the whole file (chat context). Undefined when that is only whitespace.
 */
export function editorAttachment(editor: vscode.TextEditor, whenEmpty: 'line' | 'file', maxChars: number): CodeAttachment | undefined {
  const document = editor.document;
  let range: vscode.Range = editor.selection;
  if (editor.selection.isEmpty) {
    range = whenEmpty === 'line' ? document.lineAt(editor.selection.active.line).range : new vscode.Range(0, 0, document.lineCount, 0);
  }
  const text = document.getText(range);
  if (text.trim().length === 0) return undefined;
  const { code, truncated } = truncateCode(text, maxChars);
  const name = vscode.workspace.asRelativePath(document.uri);
  // A selection of whole lines ends at column 0 of the next line, which is not part of it.
  const last = range.end.character === 0 && range.end.line > range.start.line ? range.end.line - 1 : range.end.line;
  const lines = range.start.line === last ? `${range.start.line + 1}` : `${range.start.line + 1}-${last + 1}`;
  const label = editor.selection.isEmpty && whenEmpty === 'file' ? name : `${name}:${lines}`;
  return { label, languageId: document.languageId, code, ...(truncated ? { truncated } : {}) };
}

export interface ExplainDeps {
  session: ChatSession;
  /** Shows the chat panel (and so creates its webview if it was never opened). */
  reveal: () => Thenable<unknown>;
  maxChars: () => number;
}

/** Registers the command; it returns the finished reply (tests await it), or undefined if nothing was asked. */
export function registerExplain(deps: ExplainDeps): vscode.Disposable {
  return vscode.commands.registerCommand(EXPLAIN_COMMAND, () => explain(deps));
}

async function explain(deps: ExplainDeps): Promise<TranscriptMessage | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Chimera: open a file and select the code to explain.');
    return undefined;
  }
  const attachment = editorAttachment(editor, 'line', deps.maxChars());
  if (!attachment) {
    void vscode.window.showInformationMessage('Chimera: select some code, or put the cursor on a line of code, to explain it.');
    return undefined;
  }
  // Not awaited: the question should reach the engine while the panel is still opening.
  void deps.reveal();
  return deps.session.ask({ text: EXPLAIN_TEXT, kind: 'explain', attachment });
}
