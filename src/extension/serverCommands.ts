/**
 * The shared server's commands: the API key (kept in SecretStorage, never in settings), its settings,
 * Retry, and the model picker filled from the server's `/v1/models` (Select Model… while the shared
 * server is the backend).
 */
import * as vscode from 'vscode';
import { API_KEY_SECRET, type BackendService } from './backendService';
import { readSettings } from './settings';
import { formatLatency } from './serverView';

export const SET_API_KEY_COMMAND = 'chimera.setServerApiKey';

export function registerServerCommands(context: vscode.ExtensionContext, backends: BackendService, log: vscode.LogOutputChannel): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(SET_API_KEY_COMMAND, async (key?: string) => {
      const stored = await setApiKey(context.secrets, log, key);
      // Reconnect now: SecretStorage's change event may come after the next request.
      if (stored !== undefined && backends.kind !== 'local') backends.reconnect('the API key was set');
      return stored;
    }),
    vscode.commands.registerCommand('chimera.openServerSettings', () => vscode.commands.executeCommand('workbench.action.openSettings', 'chimera.server')),
    vscode.commands.registerCommand('chimera.retryServer', async () => {
      try {
        await backends.retry();
      } catch (err) {
        backends.report(err, 'Chimera: the shared server is still not available.');
      }
    }),
  ];
}

/**
 * Stores the key (an argument is for tests; people type it into a password box). An empty answer
 * deletes the stored key; Escape leaves it as it was.
 */
async function setApiKey(secrets: vscode.SecretStorage, log: vscode.LogOutputChannel, given?: string): Promise<boolean | undefined> {
  const key = given ?? (await vscode.window.showInputBox({ title: 'Chimera: Set Server API Key', prompt: `The key the shared server at ${readSettings(log).server.url || '(no URL set yet)'} expects, sent as "Authorization: Bearer <key>". Kept in VS Code's secret storage. Leave empty to remove it.`, password: true, ignoreFocusOut: true }));
  if (key === undefined) return undefined;
  if (key.trim() === '') {
    await secrets.delete(API_KEY_SECRET);
    log.info('Shared server API key removed.');
    return false;
  }
  await secrets.store(API_KEY_SECRET, key.trim());
  log.info('Shared server API key stored in secret storage.');
  return true;
}

/** Lists the server's models and writes the chosen one to chimera.server.model; undefined when dismissed. */
export async function selectServerModel(backends: BackendService, log: vscode.LogOutputChannel, given?: string): Promise<string | undefined> {
  const current = readSettings(log).server.model;
  let chosen = given;
  if (chosen === undefined) {
    let models: { id: string; maxContext?: number }[];
    try {
      const started = performance.now();
      models = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Chimera: asking the shared server for its models…' }, () => backends.listServerModels());
      log.info(`The shared server listed ${models.length} model(s) in ${formatLatency(performance.now() - started)}.`);
    } catch (err) {
      backends.report(err, 'Chimera: could not list the shared server\'s models.');
      return undefined;
    }
    const items = models.map((m) => ({ label: m.id === current ? `$(check) ${m.id}` : m.id, description: [m.id === current ? 'in use' : '', m.maxContext ? `${m.maxContext.toLocaleString('en-US')} tokens of context` : ''].filter(Boolean).join(' · '), id: m.id }));
    const picked = await vscode.window.showQuickPick(items, { title: 'Chimera: Select Server Model', placeHolder: models.length === 0 ? 'The server lists no models' : `Models served at ${readSettings(log).server.url}` });
    chosen = picked?.id;
  }
  if (chosen === undefined) return undefined;
  await vscode.workspace.getConfiguration('chimera').update('server.model', chosen, vscode.ConfigurationTarget.Global);
  // Choosing the model in use again is a request to reconnect (the same setting would not fire a change).
  if (chosen === current) await backends.retry().catch(() => undefined);
  return chosen;
}
