/**
 * Owns the engine client for the extension: starts it in the background at activation, restarts it
 * when the model or device setting changes, forwards its log to the output channel, and turns its
 * failures into actionable notifications. Features get the client from here and never spawn engines.
 */
import * as vscode from 'vscode';
import { EngineClient, EngineRequestError, EngineState } from '../engine/client';
import { ErrorCodes, PROTOCOL_VERSION, type GenerationStats } from '../protocol';
import { modelLabel, type EngineSnapshot } from './engineView';
import { LastStats } from './modelStats';
import type { ModelFacts } from './modelPicker';
import { readSettings } from './settings';

export const SELECT_MODEL = 'Select Model…';
export const SHOW_LOG = 'Show Log';
export const RESTART = 'Restart Engine';

export class EngineService implements vscode.Disposable {
  readonly client: EngineClient;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly stateEmitter = new vscode.EventEmitter<EngineState>();
  /** Fires when the engine's state changes, and when a start or switch begins or settles (views re-read snapshot()). */
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly resultEmitter = new vscode.EventEmitter<GenerationStats>();
  /** Fires with the statistics of every finished generation (for the status bar). */
  readonly onDidFinishGeneration = this.resultEmitter.event;
  private readonly stats = new LastStats();
  /** The model a start or switch under way is loading, and how many such operations are under way. */
  private loading: string | null = null;
  private pendingLoads = 0;
  /** The model setting each launch was given, and what became of it (for the model picker). */
  private attempted = '';
  private loadedSetting: string | null = null;
  private failed: { path: string; reason: string } | null = null;

  constructor(
    extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.client = new EngineClient({
      enginePath: vscode.Uri.joinPath(extensionUri, 'dist', 'engine.js').fsPath,
      initParams: () => {
        const s = readSettings(log);
        this.attempted = s.modelPath;
        return { protocolVersion: PROTOCOL_VERSION, modelPath: s.modelPath, device: s.device, maxContext: s.maxContext, allowSoftwareGpu: s.gpu.allowSoftware, clientName: `${vscode.env.appName} ${vscode.version}` };
      },
      log: (level, message) => log[level === 'debug' ? 'debug' : level](message),
    });
    const sub = this.client.onStateChange((state) => {
      this.noteOutcome(state);
      this.stateEmitter.fire(state);
      if (state === EngineState.Failed) this.reportFailure();
    });
    this.disposables.push(
      { dispose: () => sub.dispose() },
      this.stateEmitter,
      this.resultEmitter,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (['modelPath', 'device', 'maxContext', 'gpu.allowSoftware'].some((k) => e.affectsConfiguration(`chimera.${k}`))) void this.restart('the model, device or context setting changed');
      }),
    );
  }

  get state(): EngineState {
    return this.client.state;
  }

  /** Starts the engine without blocking the caller; failures are reported, not thrown. */
  startInBackground(): void {
    void this.whileLoading(() => this.client.start());
  }

  /** Restarts the engine (a model switch, new settings, the user's Restart); the old model's stats go. */
  async restart(why: string): Promise<void> {
    this.log.info(`Restarting the engine: ${why}.`);
    this.stats.clear();
    await this.whileLoading(() => this.client.restart());
  }

  /**
   * Runs a start or restart with the views saying "Loading <model>…" from the first moment (the old
   * engine still reads as ready while it shuts down) until it settles. Failures are not thrown: they
   * are reported through the Failed state.
   */
  private async whileLoading(operation: () => Promise<void>): Promise<void> {
    this.pendingLoads++;
    this.loading = modelLabel(readSettings(this.log).modelPath);
    this.stateEmitter.fire(this.state);
    try {
      await operation();
    } catch {
      // reportFailure runs from the state change
    } finally {
      this.pendingLoads--;
      if (this.pendingLoads === 0 && this.loading !== null) {
        this.loading = null;
        this.stateEmitter.fire(this.state);
      }
    }
  }

  /** Features report each finished (or early-stopped) generation here; the stats belong to the loaded model. */
  noteResult(stats: GenerationStats): void {
    this.stats.note(this.client.info?.model.path, stats);
    this.resultEmitter.fire(stats);
  }

  /** The last generation's stats if the model loaded now produced them. */
  get lastStats(): GenerationStats | null {
    return this.state === EngineState.Ready ? this.stats.of(this.client.info?.model.path) : null;
  }

  /** Whether a start or a model switch is under way and has not failed (an interrupted request then is no failure). */
  get isLoading(): boolean {
    return this.loading !== null && this.state !== EngineState.Failed;
  }

  /** The engine as the views show it. */
  snapshot(): EngineSnapshot {
    return { state: this.state, info: this.client.info, lastError: this.client.lastError, loading: this.isLoading ? this.loading : null };
  }

  /** What is loaded, and which model setting failed to load, as the model picker marks them. */
  modelFacts(): ModelFacts {
    const info = this.client.info;
    const loaded = this.state === EngineState.Ready && info && this.loadedSetting !== null ? { name: info.model.name, path: info.model.path, setting: this.loadedSetting } : null;
    return { loaded, failed: this.failed, loading: this.isLoading ? this.loading : null };
  }

  /** Remembers which setting loaded and which failed, so a recovered failure is still named as failed. */
  private noteOutcome(state: EngineState): void {
    if (state === EngineState.Ready) {
      // Ready ends the load at once unless another start or switch is queued behind it.
      if (this.pendingLoads <= 1) this.loading = null;
      this.loadedSetting = this.attempted;
      if (this.failed?.path === this.attempted) this.failed = null;
    } else if (state === EngineState.Failed) {
      this.loadedSetting = null;
      this.failed = { path: this.attempted, reason: this.client.lastError ?? 'unknown error' };
    }
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
