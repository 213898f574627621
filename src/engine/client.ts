/**
 * The extension host's side of the engine: spawns `dist/engine.js` with child_process.fork, initialises
 * it, supervises it, and offers typed calls with streaming as async iterators.
 *
 * Supervision: a crash, a protocol violation or a timed-out request kills the process, rejects every
 * request in flight with an error that says what happened, and restarts the engine, at most
 * `restartBudget.max` times within `restartBudget.windowMs`; after that the client stays `failed` and
 * says why. Everything here is vscode-free so it can be tested with real and fake engine processes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CancellationTokenSource, createMessageConnection, ResponseError, type CancellationToken, type Logger as RpcLogger, type MessageConnection, type RequestType } from 'vscode-jsonrpc/node';
import { IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import { AbortError } from '../core/errors';
import type { Logger } from '../core/session';
import * as P from '../protocol';
import { parseLogLine } from './log';
import { TextStream } from './textStream';

export enum EngineState {
  Starting = 'starting',
  Ready = 'ready',
  Restarting = 'restarting',
  Failed = 'failed',
  Stopped = 'stopped',
}

export interface EngineClientOptions {
  /** The engine entry (dist/engine.js), or a fake one in tests. */
  enginePath: string;
  /** Initialize params, read at every (re)start so changed settings apply. */
  initParams: () => P.InitializeParams;
  log: Logger;
  restartBudget?: { max: number; windowMs: number };
  initializeTimeoutMs?: number;
  requestTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The engine went away (crash, kill, protocol violation or timeout) while a request was in flight. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}

/** The engine answered with an error (bad model, no GPU, bad request). */
export class EngineRequestError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly data: P.EngineErrorData | undefined,
  ) {
    super(message);
    this.name = 'EngineRequestError';
  }
}

interface Pending {
  reject(err: Error): void;
}

export class EngineClient {
  private child: ChildProcess | null = null;
  private connection: MessageConnection | null = null;
  private currentState = EngineState.Stopped;
  private readonly listeners = new Set<(state: EngineState) => void>();
  private readonly pending = new Set<Pending>();
  private crashes: number[] = [];
  private starting: Promise<void> | null = null;
  private progressTokens = 0;
  /** Why the engine is failed or last restarted; shown to the user. */
  lastError: string | null = null;
  info: P.InitializeResult | null = null;

  constructor(private readonly options: EngineClientOptions) {}

  get state(): EngineState {
    return this.currentState;
  }

  /** Requests awaiting an answer (a leak check for tests and diagnostics). */
  get inFlight(): number {
    return this.pending.size;
  }

  onStateChange(listener: (state: EngineState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Starts the engine if it is not running; resolves when it is ready. */
  start(): Promise<void> {
    if (this.currentState === EngineState.Ready) return Promise.resolve();
    // A failed engine stays down until someone asks for a restart (new settings, a new model, the user).
    if (this.currentState === EngineState.Failed && !this.starting) {
      return Promise.reject(new EngineUnavailableError(`the engine is failed: ${this.lastError ?? 'unknown error'}`));
    }
    this.starting ??= this.launch().finally(() => (this.starting = null));
    return this.starting;
  }

  /** A user-requested restart: clears the crash budget and starts fresh. */
  async restart(): Promise<void> {
    this.crashes = [];
    await this.stop();
    this.lastError = null;
    await this.start();
  }

  async stop(): Promise<void> {
    const child = this.child;
    const connection = this.connection;
    this.setState(EngineState.Stopped);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Ask politely (the engine releases the model and exits), then insist.
      connection?.sendRequest(P.shutdown).catch(() => undefined);
      await Promise.race([exited, delay(2000)]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await Promise.race([exited, delay(1000)]);
      }
    }
    this.detach(new EngineUnavailableError('the engine was stopped'));
  }

  complete(params: Omit<P.CompleteParams, 'partialResultToken'>, signal?: AbortSignal): TextStream {
    return this.stream(P.complete, params, signal);
  }

  chat(params: Omit<P.ChatParams, 'partialResultToken'>, signal?: AbortSignal): TextStream {
    return this.stream(P.chat, params, signal);
  }

  edit(params: Omit<P.EditParams, 'partialResultToken'>, signal?: AbortSignal): TextStream {
    return this.stream(P.edit, params, signal);
  }

  async stats(): Promise<P.StatsResult> {
    await this.start();
    return this.call((c, token) => c.sendRequest(P.stats, token), undefined, this.options.requestTimeoutMs ?? 60_000);
  }

  async loadModel(params: P.LoadModelParams): Promise<P.LoadModelResult> {
    await this.start();
    const result = await this.call((c, token) => c.sendRequest(P.loadModel, params, token), undefined, this.options.initializeTimeoutMs ?? 120_000);
    if (this.info) this.info = { ...this.info, ...result };
    return result;
  }

  private stream<Params extends P.DecodingOptions>(type: RequestType<Params, P.GenerationResult, P.EngineErrorData>, params: Omit<Params, 'partialResultToken'>, signal?: AbortSignal): TextStream {
    const stream = new TextStream();
    const token = `p${++this.progressTokens}`;
    const run = async () => {
      await this.start();
      const connection = this.connection!;
      const sub = connection.onProgress(P.textDelta, token, (delta) => stream.push(delta));
      try {
        return await this.call((c, ct) => c.sendRequest(type, { ...params, partialResultToken: token } as Params, ct), signal, this.options.requestTimeoutMs ?? 120_000);
      } finally {
        sub.dispose();
      }
    };
    stream.attach(run());
    return stream;
  }

  /** Sends one request with cancellation, a timeout (which means the engine hangs) and crash tracking. */
  private call<R>(send: (c: MessageConnection, token: CancellationToken) => Promise<R>, signal: AbortSignal | undefined, timeoutMs: number): Promise<R> {
    const connection = this.connection;
    if (!connection || this.currentState !== EngineState.Ready) {
      return Promise.reject(new EngineUnavailableError(`the engine is ${this.currentState}${this.lastError ? `: ${this.lastError}` : ''}`));
    }
    if (signal?.aborted) return Promise.reject(new AbortError());
    const cts = new CancellationTokenSource();
    const onAbort = () => cts.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    let entry: Pending = { reject: () => undefined };
    const broken = new Promise<never>((_, reject) => (entry = { reject }));
    this.pending.add(entry);
    const timer = setTimeout(() => this.fail(`the engine did not answer within ${Math.round(timeoutMs / 1000)} s (hung); restarting it`), timeoutMs);
    const answered = send(connection, cts.token).catch((err: unknown) => {
      throw this.translate(err, signal);
    });
    return Promise.race([answered, broken]).finally(() => {
      clearTimeout(timer);
      this.pending.delete(entry);
      signal?.removeEventListener('abort', onAbort);
      cts.dispose();
    });
  }

  private translate(err: unknown, signal: AbortSignal | undefined): Error {
    if (err instanceof ResponseError) {
      if (err.code === P.ErrorCodes.RequestCancelled || signal?.aborted) return new AbortError(err.message);
      return new EngineRequestError(err.message, err.code, err.data as P.EngineErrorData | undefined);
    }
    if (signal?.aborted) return new AbortError();
    return err instanceof Error ? err : new Error(String(err));
  }

  private async launch(): Promise<void> {
    this.setState(this.crashes.length > 0 ? EngineState.Restarting : EngineState.Starting);
    const child = fork(this.options.enginePath, [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // Under VS Code, process.execPath is Electron; this makes it run the engine as plain Node.
      env: { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1' },
      execArgv: [],
    });
    this.child = child;
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const { level, message } = parseLogLine(line);
      this.options.log(level, `engine: ${message}`);
    });
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child), this.rpcLogger());
    this.connection = connection;
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));
    void exited.then((how) => {
      // While starting, launch() reports the exit itself.
      if (this.child === child && this.currentState === EngineState.Ready) this.fail(`the engine exited unexpectedly (${how})`);
    });
    child.on('error', (err) => {
      if (this.child === child) this.fail(`the engine could not run: ${err.message}`);
    });
    connection.listen();
    const timeout = this.options.initializeTimeoutMs ?? 120_000;
    let result: P.InitializeResult;
    try {
      result = await Promise.race([
        connection.sendRequest(P.initialize, this.options.initParams()),
        delay(timeout).then(() => Promise.reject(new EngineUnavailableError(`the engine did not finish starting within ${Math.round(timeout / 1000)} s`))),
        exited.then((how) => Promise.reject(new EngineUnavailableError(`the engine exited while starting (${how})`))),
      ]);
    } catch (err) {
      let failure = err instanceof ResponseError ? new EngineRequestError(err.message, err.code, err.data as P.EngineErrorData) : (err as Error);
      if (!(err instanceof ResponseError) && !(err instanceof EngineUnavailableError)) {
        // The connection closing usually beats the exit event; the exit code says more.
        const how = await Promise.race([exited, delay(1000).then(() => null)]);
        if (how) failure = new EngineUnavailableError(`the engine exited while starting (${how})`);
      }
      this.lastError = failure.message;
      this.detach(failure);
      child.kill('SIGKILL');
      this.setState(EngineState.Failed);
      throw failure;
    }
    this.info = result;
    this.lastError = null;
    this.options.log('info', `engine ready: ${result.model.name} on ${result.device.kind} (${result.device.reason})`);
    this.setState(EngineState.Ready);
  }

  /** The engine broke: reject everything in flight, kill it, and restart within the budget. */
  private fail(reason: string): void {
    if (this.currentState === EngineState.Stopped || this.currentState === EngineState.Failed) return;
    const child = this.child;
    this.options.log('error', reason);
    this.lastError = reason;
    this.detach(new EngineUnavailableError(reason));
    if (child && child.exitCode === null) child.kill('SIGKILL');
    const now = Date.now();
    const budget = this.options.restartBudget ?? { max: 5, windowMs: 180_000 };
    this.crashes = [...this.crashes.filter((t) => now - t < budget.windowMs), now];
    if (this.crashes.length > budget.max) {
      this.lastError = `the engine failed ${this.crashes.length} times within ${Math.round(budget.windowMs / 60_000)} min and will not be restarted automatically; last error: ${reason}`;
      this.options.log('error', this.lastError);
      this.setState(EngineState.Failed);
      return;
    }
    this.setState(EngineState.Restarting);
    this.start().catch((err: Error) => this.options.log('error', `restart failed: ${err.message}`));
  }

  private detach(error: Error): void {
    for (const p of [...this.pending]) p.reject(error);
    this.pending.clear();
    this.connection?.dispose();
    this.connection = null;
    this.child = null;
    this.info = this.currentState === EngineState.Stopped ? null : this.info;
  }

  private rpcLogger(): RpcLogger {
    return {
      error: (message) => {
        this.options.log('error', `engine protocol: ${message}`);
        if (/^Received (message which is neither|empty message)/.test(message)) this.fail('the engine sent an invalid message; restarting it');
      },
      warn: (message) => this.options.log('warn', `engine protocol: ${message}`),
      info: () => undefined,
      log: () => undefined,
    };
  }

  private setState(state: EngineState): void {
    const changed = state !== this.currentState;
    this.currentState = state;
    if (changed) for (const l of this.listeners) l(state);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
