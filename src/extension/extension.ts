/** Extension entry point: wires the output channel, the engine, and one adapter per capability. */
import * as vscode from 'vscode';
import { VERSION } from '../core/version';
import { registerChat, type ChatApi } from './chat';
import { registerCommands } from './commands';
import { BackendService } from './backendService';
import { EngineService } from './engineService';
import { registerGpuDiagnostics } from './gpuDiagnostics';
import { SyntaxChecker } from '../core/inline/syntax';
import { CrossFileContext } from './inlineContext';
import { InlineCompletionProvider, registerInlineCompletions } from './inlineCompletion';
import { RefactorController } from './refactor';
import { registerServerCommands } from './serverCommands';
import { StatusBar } from './statusBar';
import { onDidChangeSettings, readSettings } from './settings';

/**
 * What `activate` returns. Tests in a real VS Code reach it through
 * `vscode.extensions.getExtension(...).exports`, so they can wait on events instead of sleeping.
 */
export interface ChimeraApi {
  chatView: ChatApi;
  /** Where every feature gets its backend: the local engine or a shared server. */
  backends: BackendService;
  engine: EngineService;
  inline: InlineCompletionProvider;
  refactor: RefactorController;
  statusBar: StatusBar;
}

export function activate(context: vscode.ExtensionContext): ChimeraApi {
  const log = vscode.window.createOutputChannel('Chimera', { log: true });
  context.subscriptions.push(log);
  log.info(`Chimera Code ${VERSION} activating (${vscode.env.appName}, ${process.platform}-${process.arch}).`);

  const settings = readSettings(log);
  log.info(`Settings: ${JSON.stringify(settings)}`);
  context.subscriptions.push(onDidChangeSettings(log, (next) => log.info(`Settings changed: ${JSON.stringify(next)}`)));

  const engine = new EngineService(context.extensionUri, log);
  const backends = new BackendService(engine, context.secrets, log);
  context.subscriptions.push(engine, backends);
  // Only the configured backend starts: the default is the local engine, and no server is contacted.
  backends.startInBackground();

  const chatView = registerChat(context, backends, log);
  context.subscriptions.push(...registerCommands(context, log, backends), ...registerServerCommands(context, backends, log), registerGpuDiagnostics(engine, log));

  const inline = new InlineCompletionProvider(backends, log, (stats) => backends.noteResult(stats), new CrossFileContext(), new SyntaxChecker(context.asAbsolutePath('dist/tree-sitter')));
  const refactor = new RefactorController(backends, log);
  const statusBar = new StatusBar(backends, log);
  // A suggestion cached from one backend's model must not be shown as another's.
  context.subscriptions.push(inline, registerInlineCompletions(inline), refactor, statusBar, backends.onDidChange(() => inline.clearCache()));

  return {
    chatView,
    backends,
    engine,
    inline,
    refactor,
    statusBar,
  };
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions, which VS Code disposes (the engine shuts down with it).
}
