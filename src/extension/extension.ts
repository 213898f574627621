/** Extension entry point: wires the output channel, the engine, and one adapter per capability. */
import * as vscode from 'vscode';
import { VERSION } from '../core/version';
import { registerChat, type ChatApi } from './chat';
import { registerCommands } from './commands';
import { EngineService } from './engineService';
import { SyntaxChecker } from '../core/inline/syntax';
import { CrossFileContext } from './inlineContext';
import { InlineCompletionProvider, registerInlineCompletions } from './inlineCompletion';
import { RefactorController } from './refactor';
import { StatusBar } from './statusBar';
import { onDidChangeSettings, readSettings } from './settings';

/**
 * What `activate` returns. Tests in a real VS Code reach it through
 * `vscode.extensions.getExtension(...).exports`, so they can wait on events instead of sleeping.
 */
export interface ChimeraApi {
  chatView: ChatApi;
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
  context.subscriptions.push(engine);
  engine.startInBackground();

  const chatView = registerChat(context, engine, log);
  context.subscriptions.push(...registerCommands(context, log, engine));

  const inline = new InlineCompletionProvider(engine, log, (stats) => engine.noteResult(stats), new CrossFileContext(), new SyntaxChecker(context.asAbsolutePath('dist/tree-sitter')));
  const refactor = new RefactorController(engine, log);
  const statusBar = new StatusBar(engine, log);
  context.subscriptions.push(inline, registerInlineCompletions(inline), refactor, statusBar);

  return {
    chatView,
    engine,
    inline,
    refactor,
    statusBar,
  };
}

export function deactivate(): void {
  // Everything is owned by context.subscriptions, which VS Code disposes (the engine shuts down with it).
}
