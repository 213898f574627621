/**
 * The extension host's side of the engine: spawns `dist/engine.js` with child_process.fork, initialises
 * it, supervises it, and offers typed calls with streaming as async iterators.
 *
 * Supervision: a crash, a protocol violation or a hang (silence: see watchdog.ts) kills the process,
 * rejects every request in flight with an error that says what happened, and restarts the engine, at
 * most `restartBudget.max` times within `restartBudget.windowMs`, counting every crash, those of the
 * restarts themselves included; after that the client stays `failed` and says why.
 *
 * The lifecycle is a state machine (TRANSITIONS) driven by one serial queue of operations: start, stop,
 * restart and crash recovery never overlap, so a double-clicked Restart, a crash during a restart or a
 * timeout during a stop cannot race. Each launched process has an epoch; events from a process that is
 * no longer the current one (its exit after a restart, say) are ignored.
 * Everything here is vscode-free so it can be tested with real and fake engine processes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CancellationTokenSource, createMessageConnection, ResponseError, type CancellationToken, type Logger as RpcLogger, type MessageConnection, type RequestType } from 'vscode-jsonrpc/node';
import { IPCMessageReader, IPCMessageWriter } from 'vscode-jsonrpc/node';
import type { Backend, BackendModel } from '../backend/backend';
import { AbortError } from '../core/errors';
import type { Logger } from '../core/session';
import * as P from '../protocol';
import { engineForkOptions } from './launch';
import { parseLogLine } from './log';
import { EngineRequestError, EngineState, EngineUnavailableError, GenerationStoppedError, LaunchFailure, TRANSITIONS } from './lifecycle';
import { TextStream } from './textStream';
import { Watchdog } from './watchdog';

export { EngineRequestError, EngineState, EngineUnavailableError, reportStoppedStats } from './lifecycle';

export interface EngineClientOptions {
  /** The engine entry (dist/engine.js), or a fake one in tests. */
  enginePath: string;
  /** Initialize params, read at every (re)start so changed settings apply. */
  initParams: () => P.InitializeParams;
  log: Logger;
  restartBudget?: { max: number; windowMs: number };
  /** Longest start-up (fork, load, initialize); also the silence allowed while a model loads. */
  initializeTimeoutMs?: number;
  /** Longest silence from the engine while a request waits for its answer before it counts as hung. */
  requestTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

interface Pending {
  reject(err: Error): void;
}

/** The local backend: the same Backend as the shared server's client, so features cannot tell them apart. */
export class EngineClient implements Backend {
  private child: ChildProcess | null = null;
  private connection: MessageConnection | null = null;
  /** Which process is current; bumped whenever one is launched or let go. */
  private epoch = 0;
  private currentState = EngineState.Stopped;
  private readonly listeners = new Set<(state: EngineState) => void>();
  private readonly pending = new Set<Pending>();
  private crashes: number[] = [];
  /** The serial queue of lifecycle operations, and how many are queued or running. */
  private ops: Promise<void> = Promise.resolve();
  private queued = 0;
  /** The last operation queued: a start or restart may be shared only while nothing was queued after it. */
  private tail: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  /** A restart queued but not begun: a second request (a double click) joins it. */
  private pendingRestart: Promise<void> | null = null;
  private stopRequested = false;
  private progressTokens = 0;
  private readonly watchdog = new Watchdog((ms) => this.fail(this.epoch, `the engine sent nothing for ${Math.round(ms / 1000)} s while a request waited for its answer (hung); restarting it`));
  /** Why the engine is failed or last restarted; shown to the user. */
  lastError: string | null = null;
  info: P.InitializeResult | null = null;

  constructor(private readonly options: EngineClientOptions) {}

  get state(): EngineState {
    return this.currentState;
  }

  /** The loaded model, as the features see any backend's (null before the first start). */
  get model(): BackendModel | null {
    const model = this.info?.model;
    return model ? { name: model.name, maxContext: model.maxContext, hasFim: model.hasFim } : null;
  }

  /** Requests awaiting an answer (a leak check for tests and diagnostics). */
  get inFlight(): number {
    return this.pending.size;
  }

  onStateChange(listener: (state: EngineState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Starts the engine if it is not running; resolves when it is ready (after any restart under way). */
  start(): Promise<void> {
    if (this.queued === 0) {
      if (this.currentState === EngineState.Ready) return Promise.resolve();
      // A failed engine stays down until someone asks for a restart (new settings, a new model, the user).
      if (this.currentState === EngineState.Failed) return Promise.reject(new EngineUnavailableError(`the engine is failed: ${this.lastError ?? 'unknown error'}`));
    }
    if (this.starting && this.starting === this.tail) return this.starting;
    const starting = this.enqueue(() => this.ensureRunning());
    this.starting = starting;
    void starting
      .catch(() => undefined)
      .finally(() => {
        if (this.starting === starting) this.starting = null;
      });
    return starting;
  }

  /**
   * A user-requested restart: clears the crash budget and starts a fresh engine that reads the settings
   * anew. Requests made before this one has begun share it; later ones queue their own.
   */
  restart(): Promise<void> {
    if (this.pendingRestart && this.pendingRestart === this.tail) return this.pendingRestart;
    const restart: Promise<void> = this.enqueue(async () => {
      if (this.pendingRestart === restart) this.pendingRestart = null;
      this.crashes = [];
      this.lastError = null;
      await this.halt('the engine is restarting');
      await this.launchOrFail(EngineState.Starting);
    });
    this.pendingRestart = restart;
    return restart;
  }

  /** Stops the engine; a start under way is cut short. */
  stop(): Promise<void> {
    this.stopRequested = true;
    if (this.currentState === EngineState.Starting || this.currentState === EngineState.Restarting) this.child?.kill('SIGKILL');
    return this.enqueue(async () => {
      await this.halt('the engine was stopped');
      this.info = null;
      this.setState(EngineState.Stopped);
      this.stopRequested = false;
    });
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
    return this.call((c, token) => c.sendRequest(P.stats, token), undefined, this.requestSilenceMs);
  }

  /** The engine's GPU diagnosis; measuring c(1) on each provider may take seconds, so it may be silent that long. */
  async diagnose(params: P.DiagnoseParams = {}): Promise<P.GpuDiagnostics> {
    await this.start();
    return this.call((c, token) => c.sendRequest(P.diagnose, params, token), undefined, this.options.initializeTimeoutMs ?? 120_000);
  }

  async loadModel(params: P.LoadModelParams): Promise<P.LoadModelResult> {
    await this.start();
    // Loading a model says nothing until it is done, so it may be silent as long as a start-up.
    const result = await this.call((c, token) => c.sendRequest(P.loadModel, params, token), undefined, this.options.initializeTimeoutMs ?? 120_000);
    if (this.info) this.info = { ...this.info, ...result };
    return result;
  }

  private get requestSilenceMs(): number {
    return this.options.requestTimeoutMs ?? 120_000;
  }

  private stream<Params extends P.DecodingOptions>(type: RequestType<Params, P.GenerationResult, P.EngineErrorData>, params: Omit<Params, 'partialResultToken'>, signal?: AbortSignal): TextStream {
    const stream = new TextStream();
    const token = `p${++this.progressTokens}`;
    const run = async () => {
      await this.start();
      const connection = this.connection;
      if (!connection) throw new EngineUnavailableError(`the engine is ${this.currentState}${this.lastError ? `: ${this.lastError}` : ''}`);
      const sub = connection.onProgress(P.textDelta, token, (delta) => stream.push(delta));
      try {
        return await this.call((c, ct) => c.sendRequest(type, { ...params, partialResultToken: token } as Params, ct), signal, this.requestSilenceMs);
      } finally {
        sub.dispose();
      }
    };
    stream.attach(run());
    return stream;
  }

  /** Sends one request with cancellation, hang detection (silence) and crash tracking. */
  private call<R>(send: (c: MessageConnection, token: CancellationToken) => Promise<R>, signal: AbortSignal | undefined, silenceMs: number): Promise<R> {
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
    const unwatch = this.watchdog.watch(silenceMs);
    const answered = send(connection, cts.token).catch((err: unknown) => {
      throw this.translate(err, signal);
    });
    return Promise.race([answered, broken]).finally(() => {
      unwatch();
      this.pending.delete(entry);
      signal?.removeEventListener('abort', onAbort);
      cts.dispose();
    });
  }

  private translate(err: unknown, signal: AbortSignal | undefined): Error {
    if (err instanceof ResponseError) {
      if (err.code === P.ErrorCodes.RequestCancelled || signal?.aborted) return new GenerationStoppedError(err.message, (err.data as P.EngineErrorData | undefined)?.stats);
      return new EngineRequestError(err.message, err.code, err.data as P.EngineErrorData | undefined);
    }
    if (signal?.aborted) return new AbortError();
    return err instanceof Error ? err : new Error(String(err));
  }

  // ---- lifecycle operations (run one at a time, in order) -----------------------------------------

  private enqueue(op: () => Promise<void>): Promise<void> {
    this.queued++;
    const run = this.ops.then(op).finally(() => this.queued--);
    this.ops = run.catch(() => undefined);
    this.tail = run;
    return run;
  }

  private async ensureRunning(): Promise<void> {
    if (this.currentState === EngineState.Ready) return;
    if (this.currentState === EngineState.Failed) throw new EngineUnavailableError(`the engine is failed: ${this.lastError ?? 'unknown error'}`);
    await this.launchOrFail(EngineState.Starting);
  }

  /** A start asked for by someone: any failure leaves the client failed (a crash loop is for recover). */
  private async launchOrFail(as: EngineState.Starting): Promise<void> {
    try {
      await this.launch(as);
    } catch (err) {
      const cause = err instanceof LaunchFailure ? err.reason : (err as Error);
      if (this.stopRequested) throw new EngineUnavailableError('the engine was stopped while starting');
      this.setState(EngineState.Failed);
      throw cause;
    }
  }

  /** Brings a crashed engine back; every crash while doing so counts against the budget too. */
  private async recover(): Promise<void> {
    if (this.currentState !== EngineState.Restarting) return; // a restart or a stop came first
    for (;;) {
      try {
        await this.launch(EngineState.Restarting);
        return;
      } catch (err) {
        if (this.stopRequested) return;
        const failure = err instanceof LaunchFailure ? err : new LaunchFailure(err as Error, false);
        this.options.log('error', `restart failed: ${failure.message}`);
        if (failure.crash && this.recordCrash(failure.message)) continue;
        this.setState(EngineState.Failed);
        return;
      }
    }
  }

  /** Lets the current process go: asks it to shut down, then insists. Its later events are ignored. */
  private async halt(reason: string): Promise<void> {
    const child = this.child;
    const connection = this.connection;
    this.epoch++;
    this.watchdog.reset();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      connection?.sendRequest(P.shutdown).catch(() => undefined);
      await Promise.race([exited, delay(2000)]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await Promise.race([exited, delay(1000)]);
      }
    }
    this.detach(new EngineUnavailableError(reason));
  }

  /** Forks, connects and initialises one engine process; Ready on success, LaunchFailure otherwise. */
  private async launch(as: EngineState.Starting | EngineState.Restarting): Promise<void> {
    this.setState(as);
    const epoch = ++this.epoch;
    const child = fork(this.options.enginePath, [], engineForkOptions(process.env, this.options.env));
    this.child = child;
    createInterface({ input: child.stderr! }).on('line', (line) => {
      const { level, message } = parseLogLine(line);
      this.options.log(level, `engine: ${message}`);
    });
    // Anything the engine says proves it alive (see watchdog.ts).
    child.on('message', () => {
      if (epoch === this.epoch) this.watchdog.heard();
    });
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child), this.rpcLogger(epoch));
    this.connection = connection;
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)));
    const errored = new Promise<Error>((resolve) => child.once('error', resolve));
    void exited.then((how) => this.fail(epoch, `the engine exited unexpectedly (${how})`));
    void errored.then((err) => this.fail(epoch, `the engine could not run: ${err.message}`));
    connection.listen();
    const result = await this.initialize(connection, exited, errored).catch(async (err: unknown) => {
      const failure = await this.describeStartFailure(err, exited);
      this.lastError = failure.message;
      this.epoch++;
      this.detach(failure);
      child.kill('SIGKILL');
      throw new LaunchFailure(failure, !(failure instanceof EngineRequestError));
    });
    this.info = result;
    this.lastError = null;
    this.options.log('info', `engine ready: ${result.model.name} on ${result.device.kind} (${result.device.reason})`);
    this.setState(EngineState.Ready);
  }

  private initialize(connection: MessageConnection, exited: Promise<string>, errored: Promise<Error>): Promise<P.InitializeResult> {
    const timeout = this.options.initializeTimeoutMs ?? 120_000;
    return Promise.race([
      connection.sendRequest(P.initialize, this.options.initParams()),
      delay(timeout).then(() => Promise.reject(new EngineUnavailableError(`the engine did not finish starting within ${Math.round(timeout / 1000)} s`))),
      exited.then((how) => Promise.reject(new EngineUnavailableError(`the engine exited while starting (${how})`))),
      errored.then((err) => Promise.reject(new EngineUnavailableError(`the engine could not run: ${err.message}`))),
    ]);
  }

  private async describeStartFailure(err: unknown, exited: Promise<string>): Promise<Error> {
    if (err instanceof ResponseError) return new EngineRequestError(err.message, err.code, err.data as P.EngineErrorData);
    if (err instanceof EngineUnavailableError) return err;
    // The connection closing usually beats the exit event; the exit code says more.
    const how = await Promise.race([exited, delay(1000).then(() => null)]);
    return how ? new EngineUnavailableError(`the engine exited while starting (${how})`) : (err as Error);
  }

  /** The engine broke while ready: reject everything in flight, kill it, and recover within the budget. */
  private fail(epoch: number, reason: string): void {
    if (epoch !== this.epoch || this.currentState !== EngineState.Ready) return; // an old process, or a launch that reports itself
    const child = this.child;
    this.options.log('error', reason);
    this.lastError = reason;
    this.epoch++;
    this.detach(new EngineUnavailableError(reason));
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (!this.recordCrash(reason)) {
      this.setState(EngineState.Failed);
      return;
    }
    this.setState(EngineState.Restarting);
    this.enqueue(() => this.recover()).catch((err: Error) => this.options.log('error', `restart failed: ${err.message}`));
  }

  /** Counts a crash; false (with the reason why it gives up in lastError) once the budget is spent. */
  private recordCrash(reason: string): boolean {
    const now = Date.now();
    const budget = this.options.restartBudget ?? { max: 5, windowMs: 180_000 };
    this.crashes = [...this.crashes.filter((t) => now - t < budget.windowMs), now];
    if (this.crashes.length <= budget.max) return true;
    this.lastError = `the engine failed ${this.crashes.length} times within ${Math.round(budget.windowMs / 60_000)} min and will not be restarted automatically; last error: ${reason}`;
    this.options.log('error', this.lastError);
    return false;
  }

  private detach(error: Error): void {
    this.watchdog.reset();
    for (const p of [...this.pending]) p.reject(error);
    this.pending.clear();
    this.connection?.dispose();
    this.connection = null;
    this.child = null;
  }

  private rpcLogger(epoch: number): RpcLogger {
    return {
      error: (message) => {
        this.options.log('error', `engine protocol: ${message}`);
        if (/^Received (message which is neither|empty message)/.test(message)) this.fail(epoch, 'the engine sent an invalid message; restarting it');
      },
      warn: (message) => this.options.log('warn', `engine protocol: ${message}`),
      info: () => undefined,
      log: () => undefined,
    };
  }

  private setState(state: EngineState): void {
    if (state === this.currentState) return;
    if (!TRANSITIONS[this.currentState].includes(state)) throw new Error(`engine client: no transition from ${this.currentState} to ${state}`);
    this.currentState = state;
    for (const l of this.listeners) l(state);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
