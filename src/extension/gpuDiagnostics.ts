/**
 * *Chimera: Show GPU Diagnostics*: asks the local engine why it runs where it runs (core/gpu/diagnose.ts)
 * and opens the report in an editor, where it can be read, searched and pasted into a bug report. It is a
 * read-only document of its own scheme, so closing it never asks to save. The measuring takes a few
 * seconds, so it runs under a progress notification that can be cancelled.
 */
import * as vscode from 'vscode';
import { formatDiagnostics } from '../core/gpu/format';
import type { EngineService } from './engineService';

export const SHOW_GPU_DIAGNOSTICS = 'chimera.showGpuDiagnostics';
const SCHEME = 'chimera-diagnostics';
const REPORT_URI = vscode.Uri.from({ scheme: SCHEME, path: '/GPU Diagnostics' });

/** Serves the latest report, and tells an open editor when a newer one replaces it. */
class ReportDocuments implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private text = '';

  set(text: string): void {
    this.text = text;
    this.changed.fire(REPORT_URI);
  }

  provideTextDocumentContent(): string {
    return this.text;
  }
}

/** Gathers the report; resolves to its text, or undefined when cancelled or failed (the user was told). */
async function showDiagnostics(engine: EngineService, log: vscode.LogOutputChannel, reports: ReportDocuments): Promise<string | undefined> {
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Chimera: checking the GPU and measuring each device…', cancellable: true },
    async (_progress, token) => {
      const cancelled = new Promise<undefined>((resolve) => token.onCancellationRequested(() => resolve(undefined)));
      try {
        return await Promise.race([engine.client.diagnose({ measure: true }), cancelled]);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log.error(`GPU diagnostics failed: ${message}`);
        void vscode.window.showErrorMessage(`Chimera: could not gather the GPU diagnostics: ${message}`, 'Show Log').then((pick) => pick && log.show());
        return undefined;
      }
    },
  );
  if (!report) return undefined;
  const text = formatDiagnostics(report);
  reports.set(text);
  const doc = await vscode.workspace.openTextDocument(REPORT_URI);
  await vscode.window.showTextDocument(doc, { preview: false });
  return text;
}

export function registerGpuDiagnostics(engine: EngineService, log: vscode.LogOutputChannel): vscode.Disposable {
  const reports = new ReportDocuments();
  return vscode.Disposable.from(
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, reports),
    vscode.commands.registerCommand(SHOW_GPU_DIAGNOSTICS, () => showDiagnostics(engine, log, reports)),
  );
}
