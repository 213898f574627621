/**
 * Handlers for the management commands (chat, log, inline toggle, engine restart, model selection).
 * Feature commands register themselves next to their feature (refactor.ts, explain.ts).
 */
import * as vscode from 'vscode';
import { readSettings, setInlineEnabled } from './settings';
import { CHAT_VIEW_ID } from './chatView';
import type { BackendService } from './backendService';
import { downloadModel, type DownloadRequest } from './downloadModel';
import { inlineToggleMessage, ReplacingMessage } from './replacingMessage';
import { selectModel } from './selectModel';
import { selectServerModel } from './serverCommands';

/** How long the inline toggle's status bar message stays (the status bar item keeps showing the state). */
const TOGGLE_MESSAGE_MS = 5000;

export function registerCommands(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, backends: BackendService): vscode.Disposable[] {
  const engine = backends.engine;
  // One message slot for the toggle: each toggle replaces the last message instead of stacking notifications.
  const toggleMessage = new ReplacingMessage((text) => vscode.window.setStatusBarMessage(text, TOGGLE_MESSAGE_MS));
  return [
    toggleMessage,
    vscode.commands.registerCommand('chimera.downloadModel', (request?: DownloadRequest) => downloadModel(context, log, request)),
    vscode.commands.registerCommand('chimera.openChat', () =>
      vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`),
    ),
    vscode.commands.registerCommand('chimera.showLog', () => log.show(true)),
    vscode.commands.registerCommand('chimera.toggleInline', () => toggleInline(log, toggleMessage)),
    vscode.commands.registerCommand('chimera.restartEngine', () => engine.restart('requested by the user')),
    vscode.commands.registerCommand('chimera.selectModel', async (folder?: string) => {
      // One command for both backends: a shared server's models come from its /v1/models.
      if (backends.kind === 'openai-compatible') return selectServerModel(backends, log, folder);
      const before = readSettings(log).modelPath;
      const chosen = await selectModel(log, folder, () => engine.modelFacts());
      // Choosing the same package again is a request to retry it; a changed setting restarts by itself.
      if (chosen !== undefined && chosen === before) await engine.restart('the model was selected again');
      return chosen;
    }),
  ];
}

/** Flips `chimera.inline.enabled` for the user and reports what is in effect afterwards. */
async function toggleInline(log: vscode.LogOutputChannel, message: ReplacingMessage): Promise<boolean> {
  const wanted = !readSettings(log).inline.enabled;
  await setInlineEnabled(wanted);
  // A workspace or folder value wins over the user value we just wrote; the message says so instead of lying.
  const effective = readSettings(log).inline.enabled;
  const text = inlineToggleMessage(wanted, effective);
  log.info(text);
  message.set(text);
  return effective;
}
