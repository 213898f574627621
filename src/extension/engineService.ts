/**
 * Owns the engine client for the extension: starts it in the background at activation, restarts it
 * when the model or device setting changes, forwards its log to the output channel, and turns its
 * failures into actionable notifications. Features get the client from here and never spawn engines.
 */
import * as vscode from 'vscode';
import { EngineClient, EngineRequestError, EngineState } from '../engine/client';
import { ErrorCodes, PROTOCOL_VERSION, type GenerationStats } from '../protocol';
import { readSettings } from './settings';

export const SELECT_MODEL = 'Select Model…';
export const SHOW_LOG = 'Show Log';
export const RESTART = 'Restart Engine';

export class EngineService implements vscode.Disposable {
  readonly client: EngineClient;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly stateEmitter = new vscode.EventEmitter<EngineState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly resultEmitter = new vscode.EventEmitter<GenerationStats>();
  /** Fires with the statistics of every finished generation (for the status bar). */
  readonly onDidFinishGeneration = this.resultEmitter.event;

  constructor(
    extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.client = new EngineClient({
      enginePath: vscode.Uri.joinPath(extensionUri, 'dist', 'engine.js').fsPath,
      initParams: () => {
        const s = readSettings(log);
        return { protocolVersion: PROTOCOL_VERSION, modelPath: s.modelPath, device: s.device, maxContext: s.maxContext, clientName: `${vscode.env.appName} ${vscode.version}` };
      },
      log: (level, message) => log[level === 'debug' ? 'debug' : level](message),
    });
    const sub = this.client.onStateChange((state) => {
      this.stateEmitter.fire(state);
      if (state === EngineState.Failed) this.reportFailure();
    });
    this.disposables.push(
      { dispose: () => sub.dispose() },
      this.stateEmitter,
      this.resultEmitter,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (['modelPath', 'device', 'maxContext'].some((k) => e.affectsConfiguration(`chimera.${k}`))) void this.restart('the model, device or context setting changed');
      }),
    );
  }

  get state(): EngineState {
    return this.client.state;
  }

  /** Starts the engine without blocking the caller; failures are reported, not thrown. */
  startInBackground(): void {
    this.client.start().catch(() => undefined); // reportFailure runs from the state change
  }

  async restart(why: string): Promise<void> {
    this.log.info(`Restarting the engine: ${why}.`);
    try {
      await this.client.restart();
    } catch {
      // reported through the Failed state
    }
  }

  /** Features report each finished generation here. */
  noteResult(stats: GenerationStats): void {
    this.resultEmitter.fire(stats);
  }

  /** Waits for the engine (starting it if needed); rejects with the reason it cannot be used. */
  async ready(): Promise<EngineClient> {
    await this.client.start();
    return this.client;
  }

  private reportFailure(): void {
    const reason = this.client.lastError ?? 'unknown error';
    const modelProblem = /ModelLoadFailed|model package|chimera\.json|\.onnx|tokenizer/.test(reason);
    const actions = modelProblem ? [SELECT_MODEL, SHOW_LOG] : [RESTART, SHOW_LOG];
    void vscode.window.showErrorMessage(`Chimera: the local engine is not running. ${reason}`, ...actions).then((choice) => {
      if (choice === SELECT_MODEL) void vscode.commands.executeCommand('chimera.selectModel');
      if (choice === SHOW_LOG) this.log.show(true);
      if (choice === RESTART) void this.restart('requested by the user');
    });
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
    void this.client.stop();
  }
}

/** A short description of an error for a notification or a status line. */
export function describeEngineError(err: unknown): string {
  if (err instanceof EngineRequestError && err.code === ErrorCodes.ModelLoadFailed) return `the model could not be loaded: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
