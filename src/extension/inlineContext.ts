/**
 * Gathers cross-file context for inline completion from VS Code: other open documents (most recently
 * active first), where other files were last edited, and the files the current one imports (read from
 * an open document or the workspace). The choice itself is pure (core/inline/crossFile.ts).
 *
 * The result is kept while the user types on one line (the same text above the cursor, nothing changed
 * elsewhere), so consecutive requests send identical context and the engine reuses the prompt's start.
 */
import * as vscode from 'vscode';
import { candidatePaths, definitionOf, gatherContext, importsOf, type ContextSnippet, type ContextSources } from '../core/inline/crossFile';

const MAX_OPEN_FILES = 6;
const MAX_RECENT_EDITS = 3;
const MAX_IMPORTS = 8;
const MAX_NAMES_PER_IMPORT = 4;
/** Files larger than this are not searched (a bundle or generated file). */
const MAX_FILE_CHARS = 300_000;

export class CrossFileContext implements vscode.Disposable {
  private readonly lastEdit = new Map<string, { line: number; order: number }>();
  private readonly lastActive = new Map<string, number>();
  private readonly read = new Map<string, string | null>();
  private readonly subscriptions: vscode.Disposable[];
  private counter = 0;
  /** Bumped by anything outside the current file that can change the context. */
  private generation = 0;
  private cached: { uri: string; above: string; generation: number; snippets: ContextSnippet[] } | null = null;

  constructor() {
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => this.noteEdit(e)),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (editor) this.lastActive.set(editor.document.uri.toString(), ++this.counter);
        this.generation++;
      }),
      vscode.workspace.onDidSaveTextDocument((doc) => this.forget(doc.uri)),
      vscode.workspace.onDidCloseTextDocument(() => this.generation++),
    ];
  }

  /** The snippets for a completion at `position` (the same ones while only the cursor's line changes). */
  async snippets(document: vscode.TextDocument, position: vscode.Position): Promise<ContextSnippet[]> {
    const uri = document.uri.toString();
    const above = document.getText(new vscode.Range(0, 0, position.line, 0));
    const c = this.cached;
    if (c && c.uri === uri && c.above === above && c.generation === this.generation) return c.snippets;
    const generation = this.generation;
    const sources: ContextSources = {
      above,
      definitions: await this.definitions(document, above),
      recentEdits: this.recentEdits(uri),
      openFiles: this.openFiles(uri),
    };
    const snippets = gatherContext(sources);
    this.cached = { uri, above, generation, snippets };
    return snippets;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }

  private noteEdit(e: vscode.TextDocumentChangeEvent): void {
    const change = e.contentChanges[e.contentChanges.length - 1];
    if (!change || !isSource(e.document)) return;
    const uri = e.document.uri.toString();
    this.lastEdit.set(uri, { line: change.range.start.line, order: ++this.counter });
    this.read.delete(relativePath(e.document.uri));
    // Typing in the file being completed leaves its own context alone (it is never its own context).
    if (uri !== this.cached?.uri) this.generation++;
  }

  private forget(uri: vscode.Uri): void {
    this.read.delete(relativePath(uri));
    this.generation++;
  }

  private recentEdits(current: string): ContextSources['recentEdits'] {
    const docs = new Map(vscode.workspace.textDocuments.filter(isSource).map((d) => [d.uri.toString(), d]));
    return [...this.lastEdit.entries()]
      .filter(([uri]) => uri !== current && docs.has(uri))
      .sort((a, b) => b[1].order - a[1].order)
      .slice(0, MAX_RECENT_EDITS)
      .map(([uri, edit]) => ({ path: relativePath(docs.get(uri)!.uri), text: docs.get(uri)!.getText(), line: edit.line }));
  }

  private openFiles(current: string): ContextSources['openFiles'] {
    return vscode.workspace.textDocuments
      .filter((d) => isSource(d) && d.uri.toString() !== current && d.getText().length <= MAX_FILE_CHARS)
      .sort((a, b) => (this.lastActive.get(b.uri.toString()) ?? 0) - (this.lastActive.get(a.uri.toString()) ?? 0))
      .slice(0, MAX_OPEN_FILES)
      .map((d) => ({ path: relativePath(d.uri), text: d.getText() }));
  }

  private async definitions(document: vscode.TextDocument, above: string): Promise<ContextSnippet[]> {
    const folder = vscode.workspace.getWorkspaceFolder(document.uri);
    if (!folder) return [];
    const from = relativePath(document.uri);
    const found: ContextSnippet[] = [];
    for (const ref of importsOf(above, document.languageId).slice(0, MAX_IMPORTS)) {
      for (const path of candidatePaths(ref.module, from, document.languageId)) {
        const text = await this.fileText(folder.uri, path, document.languageId);
        if (text === null) continue;
        for (const name of ref.names.slice(0, MAX_NAMES_PER_IMPORT)) {
          const definition = definitionOf(text, name, document.languageId);
          if (definition) found.push({ path, text: definition });
        }
        break;
      }
    }
    return found;
  }

  /** A workspace file's text: from its open document, else read once (null when there is none). */
  private async fileText(root: vscode.Uri, path: string, languageId: string): Promise<string | null> {
    const open = vscode.workspace.textDocuments.find((d) => relativePath(d.uri) === path);
    if (open) return open.getText();
    if (this.read.has(path)) return this.read.get(path)!;
    let text: string | null = null;
    try {
      const uri = vscode.Uri.joinPath(root, path);
      if (languageId === 'go') text = await goPackageText(uri);
      else {
        const bytes = await vscode.workspace.fs.readFile(uri);
        text = bytes.length <= MAX_FILE_CHARS ? new TextDecoder().decode(bytes) : null;
      }
    } catch {
      text = null; // no such file: try the next candidate path
    }
    this.read.set(path, text);
    return text;
  }
}

/** A Go package's .go files (a relative import names a folder), joined, within the size limit. */
async function goPackageText(dir: vscode.Uri): Promise<string | null> {
  const entries = await vscode.workspace.fs.readDirectory(dir);
  let text = '';
  for (const [name, type] of entries.sort()) {
    if (type !== vscode.FileType.File || !name.endsWith('.go') || name.endsWith('_test.go')) continue;
    text += new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(dir, name))) + '\n';
    if (text.length > MAX_FILE_CHARS) break;
  }
  return text || null;
}

function isSource(document: vscode.TextDocument): boolean {
  return document.uri.scheme === 'file' || document.uri.scheme === 'untitled' || document.uri.scheme === 'vscode-remote';
}

function relativePath(uri: vscode.Uri): string {
  return vscode.workspace.asRelativePath(uri, false);
}
