/**
 * The one place the editor features get their Backend from: the local engine (the default) or a shared
 * OpenAI-compatible server, as `chimera.backend` says. The features call `ready()` and use what it gives
 * them; everything that differs between the two (connecting, what the status bar and chat header say,
 * which message and buttons a failure gets) is decided here, so no feature branches on the backend.
 *
 * Privacy: the server is reached only while `chimera.backend` is `openai-compatible`, at the URL the
 * user set (machine-scoped, so a workspace cannot redirect code elsewhere). The API key lives in
 * SecretStorage and goes only to that URL.
 */
import * as vscode from 'vscode';
import type { Backend, BackendModel } from '../backend/backend';
import { RemoteBackend } from '../backend/remote/client';
import { isPlainHttpToAnotherHost, type RemoteConfig } from '../backend/remote/config';
import { RemoteError } from '../backend/remote/errors';
import type { BackendKind } from '../core/settings';
import { EngineState } from '../engine/lifecycle';
import type { GenerationStats } from '../protocol';
import type { DescribedError } from './chatSession';
import { describeChatError } from './chatView';
import { chatStatus, statusBarView, type ChatStatus, type StatusBarView } from './engineView';
import type { EngineService } from './engineService';
import { readSettings } from './settings';
import { STATUS_ACTION_TITLES } from '../webview/messages';
import { ACTION_COMMANDS, asRemoteError, describeServerError, serverChatStatus, serverStatusBarView, type ServerSnapshot, type ServerState } from './serverView';

/** The SecretStorage key of the shared server's API key. */
export const API_KEY_SECRET = 'chimera.server.apiKey';

/** A failed connection is tried again on the next request, but not more often than this (typing asks often). */
const RETRY_CONNECT_AFTER_MS = 3000;

/** Failures that say the connection itself is wrong, so the next request reconnects (and the status bar shows it). */
const CONNECTION_FAILURES = new Set(['unreachable', 'unauthorized', 'modelNotFound', 'config']);

interface Remote {
  /** The server settings it was opened with; a request under other settings opens a new connection. */
  settings: string;
  url: string;
  state: ServerState;
  failedAt: number;
  backend: RemoteBackend | null;
  connected: Promise<RemoteBackend>;
}

export class BackendService implements vscode.Disposable {
  private remote: Remote | null = null;
  private serverLast: GenerationStats | null = null;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the backend, its state or its model changes (views re-read their snapshot). */
  readonly onDidChange = this.changed.event;
  private readonly finished = new vscode.EventEmitter<GenerationStats>();
  /** Fires with the statistics of every finished generation, whichever backend produced it. */
  readonly onDidFinishGeneration = this.finished.event;
  private readonly notified = new vscode.EventEmitter<string>();
  /** Fires with every notification shown about the backend (tests wait on it; VS Code offers no way to read them). */
  readonly onDidNotify = this.notified.event;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly warnedPlainHttp = new Set<string>();
  private readonly toldNoFim = new Set<string>();

  constructor(
    readonly engine: EngineService,
    private readonly secrets: vscode.SecretStorage,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      this.changed,
      this.finished,
      this.notified,
      engine.onDidChangeState(() => this.kind === 'local' && this.changed.fire()),
      engine.onDidFinishGeneration((stats) => this.finished.fire(stats)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        // Server settings matter only while the server answers; the local engine must not reload for them.
        if (e.affectsConfiguration('chimera.backend') || (e.affectsConfiguration('chimera.server') && this.kind !== 'local')) this.reconnect('the backend settings changed');
      }),
      secrets.onDidChange((e) => e.key === API_KEY_SECRET && this.kind !== 'local' && this.reconnect('the API key changed')),
    );
  }

  get kind(): BackendKind {
    return readSettings(this.log).backend;
  }

  /** Starts the configured backend without blocking; a failure is reported with its actions. */
  startInBackground(): void {
    if (this.kind === 'local') return this.engine.startInBackground();
    this.connect().catch((err: unknown) => this.report(err, 'Chimera: the shared server is not available.'));
  }

  /** The backend to use now, started or connected; rejects with why it cannot be used. */
  async ready(): Promise<Backend> {
    if (this.kind === 'local') return this.engine.ready();
    return this.connect();
  }

  /** The model answering now (null while nothing is started or connected). */
  get model(): BackendModel | null {
    if (this.kind === 'local') return this.engine.client.model;
    return this.remote?.state.kind === 'ready' ? (this.remote.backend?.model ?? null) : null;
  }

  /** Features report each finished (or stopped) generation here, for the status bar. */
  noteResult(stats: GenerationStats): void {
    if (this.kind === 'local') return this.engine.noteResult(stats);
    this.serverLast = stats;
    this.finished.fire(stats);
  }

  /** The shared server as the views show it (also for tests). */
  serverSnapshot(): ServerSnapshot {
    const url = readSettings(this.log).server.url;
    return { url, state: this.remote?.state ?? { kind: 'connecting' }, last: this.remote?.state.kind === 'ready' ? this.serverLast : null };
  }

  statusBarView(inlineEnabled: boolean): StatusBarView {
    if (this.kind === 'local') return statusBarView(this.engine.snapshot(), this.engine.lastStats, inlineEnabled);
    return serverStatusBarView(this.serverSnapshot(), inlineEnabled);
  }

  chatStatus(): ChatStatus {
    if (this.kind === 'local') return chatStatus(this.engine.snapshot());
    return serverChatStatus(this.serverSnapshot());
  }

  /** A failure as the chat panel shows it: the message and the buttons that can fix it. */
  describeError(err: unknown): DescribedError {
    if (err instanceof RemoteError) return describeServerError(err);
    return describeChatError(err, this.engine.isLoading);
  }

  /** Shows a failure as a notification whose buttons run the actions that can fix it. */
  report(err: unknown, headline: string): void {
    const { message, actions } = this.describeError(err);
    this.log.error(`${headline} ${message}`);
    this.notified.fire(`${headline} ${message}`);
    void vscode.window.showErrorMessage(`${headline} ${message}`, ...actions.map((a) => STATUS_ACTION_TITLES[a])).then((choice) => {
      const action = actions.find((a) => STATUS_ACTION_TITLES[a] === choice);
      if (action) void vscode.commands.executeCommand(ACTION_COMMANDS[action]);
    });
  }

  /** The models the configured server lists, for the model picker (no model need be chosen yet). */
  async listServerModels(): Promise<{ id: string; maxContext?: number }[]> {
    const backend = new RemoteBackend(await this.remoteConfig());
    return backend.listModels();
  }

  /** Drops the connection and connects again (the Retry action). */
  retry(): Promise<Backend> {
    this.remote = null;
    this.changed.fire();
    return this.connect();
  }

  /** Forgets the connection and starts the configured backend again (new settings, a new key). */
  reconnect(why: string): void {
    this.log.info(`Backend: ${why}; using ${this.kind === 'local' ? 'the local engine' : `the shared server at ${readSettings(this.log).server.url || '(no URL)'}`}.`);
    this.remote = null;
    this.serverLast = null;
    // The local model holds hundreds of megabytes to gigabytes; while a server answers, nothing uses it.
    if (this.kind !== 'local' && this.engine.client.state !== EngineState.Stopped) {
      this.log.info('Stopping the local engine while the shared server answers (it starts again when the backend is local).');
      void this.engine.client.stop();
    }
    this.changed.fire();
    this.startInBackground();
  }

  private async remoteConfig(): Promise<RemoteConfig> {
    const s = readSettings(this.log).server;
    const apiKey = (await this.secrets.get(API_KEY_SECRET)) || undefined;
    return { url: s.url, model: s.model, fimFormat: s.fimFormat, timeoutMs: s.timeoutMs, apiKey };
  }

  /** The connection in use, or a new one when there is none or the last failed a while ago. */
  private connect(): Promise<RemoteBackend> {
    const remote = this.remote;
    // Settings are compared here, not only on their change event, which may arrive after the next request.
    const current = remote !== null && remote.settings === JSON.stringify(readSettings(this.log).server);
    if (remote && current && !(remote.state.kind === 'failed' && Date.now() - remote.failedAt > RETRY_CONNECT_AFTER_MS)) return remote.connected;
    return this.open();
  }

  private open(): Promise<RemoteBackend> {
    const server = readSettings(this.log).server;
    const url = server.url;
    const remote: Remote = { settings: JSON.stringify(server), url, state: { kind: 'connecting' }, failedAt: 0, backend: null, connected: Promise.resolve(null!) };
    this.remote = remote;
    this.changed.fire();
    this.warnPlainHttp(url);
    remote.connected = (async () => {
      const backend = new RemoteBackend(await this.remoteConfig(), { onFailure: (error) => this.onRequestFailure(remote, error) });
      await backend.connect();
      return backend;
    })();
    remote.connected.then(
      (backend) => {
        if (this.remote !== remote) return;
        remote.backend = backend;
        const fim = backend.fimFormat;
        remote.state = { kind: 'ready', model: backend.model!.name, fim: fim instanceof RemoteError || fim === null ? null : fim.label };
        this.log.info(`Shared server ${backend.origin}: model ${backend.model!.name}, ${remote.state.fim ? `FIM by ${remote.state.fim}` : 'no FIM format'}.`);
        if (fim instanceof RemoteError) this.tellNoFim(backend.model!.name, fim);
        this.changed.fire();
      },
      (err: unknown) => {
        if (this.remote !== remote) return;
        this.fail(remote, asRemoteError(err));
      },
    );
    return remote.connected;
  }

  private fail(remote: Remote, error: RemoteError): void {
    remote.state = { kind: 'failed', error };
    remote.failedAt = Date.now();
    this.log.warn(`Shared server: ${error.kind}: ${error.message}`);
    this.changed.fire();
  }

  /** A request failed: a broken connection shows in the status bar and reconnects next time; the rest is logged. */
  private onRequestFailure(remote: Remote, error: RemoteError): void {
    this.log.warn(`Shared server request failed (${error.kind}): ${error.message}`);
    if (this.remote === remote && CONNECTION_FAILURES.has(error.kind)) this.fail(remote, error);
  }

  private warnPlainHttp(url: string): void {
    if (!isPlainHttpToAnotherHost(url) || this.warnedPlainHttp.has(url)) return;
    this.warnedPlainHttp.add(url);
    const message = `Chimera: ${url} is plain http:// to another machine, so your code and the API key cross the network unencrypted. Use https:// (or an SSH tunnel to localhost) unless the network is trusted.`;
    this.log.warn(message);
    this.notified.fire(message);
    void vscode.window.showWarningMessage(message, STATUS_ACTION_TITLES.openServerSettings).then((choice) => choice && vscode.commands.executeCommand(ACTION_COMMANDS.openServerSettings));
  }

  private tellNoFim(model: string, error: RemoteError): void {
    if (this.toldNoFim.has(model)) return;
    this.toldNoFim.add(model);
    const { message, actions } = describeServerError(error);
    this.notified.fire(`Chimera: ${message}`);
    void vscode.window.showInformationMessage(`Chimera: ${message}`, ...actions.map((a) => STATUS_ACTION_TITLES[a])).then((choice) => {
      const action = actions.find((a) => STATUS_ACTION_TITLES[a] === choice);
      if (action) void vscode.commands.executeCommand(ACTION_COMMANDS[action]);
    });
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
