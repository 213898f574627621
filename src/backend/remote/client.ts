/**
 * The shared-server backend: the same completions, chat and rewrites as the local engine, over HTTP to
 * vLLM, TGI, llama.cpp's server, Ollama or chimera serve. `connect()` reads `/v1/models` (which also
 * proves the URL and the key), then each request streams over SSE (or Ollama's NDJSON).
 *
 * Cancellation is the request's AbortSignal handed to fetch: aborting closes the connection, and the
 * server stops generating. A new completion aborts the one before it (latest wins), as the engine does.
 * A stopped generation rejects with GenerationStoppedError and the statistics of what it produced.
 */
import { AbortError, isAbortError } from '../../core/errors';
import { GenerationStoppedError } from '../../engine/lifecycle';
import { TextStream } from '../../engine/textStream';
import type { FinishReason, GenerationResult, GenerationStats } from '../../protocol';
import type { Backend, BackendModel, ChatRequest, CompleteRequest, EditRequest, GenerationStream } from '../backend';
import { endpoints, type Endpoints, type RemoteConfig } from './config';
import { RemoteError } from './errors';
import { resolveFimFormat, type FimFormat } from './fim';
import { FencedCode, StopCutter, type TextFilter } from './filters';
import { NODE_HTTP, send, type HttpAnswer, type HttpDeps } from './http';
import { chooseModel, parseModels, type ServedModel } from './models';
import { chatCall, editCall, fimCall, type Piece, type StreamedCall } from './shapes';
import { ndjsonEvents, sseEvents } from './streams';

/** The context assumed for a server that does not say (only sizes what the chat keeps of a file). */
const DEFAULT_CONTEXT = 8192;

export interface RemoteHooks {
  /** Every finished or stopped generation, with what the client measured. */
  onResult?(stats: GenerationStats): void;
  /** Every failure that is not a cancellation. */
  onFailure?(error: RemoteError): void;
}

export class RemoteBackend implements Backend {
  private readonly api: Endpoints;
  private served: ServedModel | null = null;
  private fim: FimFormat | RemoteError | null = null;
  private latestCompletion: AbortController | null = null;

  constructor(
    private readonly config: RemoteConfig,
    private readonly hooks: RemoteHooks = {},
    private readonly http: HttpDeps = NODE_HTTP,
  ) {
    this.api = endpoints(config.url);
  }

  get origin(): string {
    return new URL(this.api.root).origin;
  }

  get model(): BackendModel | null {
    if (!this.served) return null;
    return { name: this.served.id, maxContext: this.served.maxContext ?? DEFAULT_CONTEXT, hasFim: !(this.fim instanceof RemoteError) };
  }

  /** The FIM format in use, or why there is none (known once connected). */
  get fimFormat(): FimFormat | RemoteError | null {
    return this.fim;
  }

  /** The models the server lists (for the model picker). */
  async listModels(signal?: AbortSignal): Promise<ServedModel[]> {
    const answer = await send({ method: 'GET', url: `${this.api.openai}/models`, apiKey: this.config.apiKey, timeoutMs: this.config.timeoutMs, model: this.config.model, signal }, this.http);
    try {
      return parseModels(await answer.response.json());
    } catch (err) {
      throw answer.failure(err);
    } finally {
      answer.done();
    }
  }

  /** Reaches the server and settles the model and its FIM format; rejects with what is wrong. */
  async connect(signal?: AbortSignal): Promise<BackendModel> {
    try {
      this.served = chooseModel(await this.listModels(signal), this.config.model, this.origin);
    } catch (err) {
      throw this.failed(err);
    }
    try {
      this.fim = resolveFimFormat(this.config.fimFormat, this.served.id);
    } catch (err) {
      this.fim = err as RemoteError;
    }
    return this.model!;
  }

  complete(params: CompleteRequest, signal?: AbortSignal): GenerationStream {
    this.latestCompletion?.abort();
    const latest = new AbortController();
    this.latestCompletion = latest;
    const mine = signal ? AbortSignal.any([signal, latest.signal]) : latest.signal;
    return this.stream(() => {
      if (this.fim instanceof RemoteError) throw this.fim;
      return fimCall(this.fim!, params, this.modelId(), this.api);
    }, mine);
  }

  chat(params: ChatRequest, signal?: AbortSignal): GenerationStream {
    return this.stream(() => chatCall(params, this.modelId(), this.api), signal);
  }

  edit(params: EditRequest, signal?: AbortSignal): GenerationStream {
    return this.stream(() => editCall(params, this.modelId(), this.api), signal, new FencedCode());
  }

  private modelId(): string {
    if (!this.served) throw new RemoteError('config', 'the shared server was not connected before a request (internal error)');
    return this.served.id;
  }

  private stream(build: () => StreamedCall, signal: AbortSignal | undefined, shape?: TextFilter): TextStream {
    const stream = new TextStream();
    let seq = 0;
    const emit = (text: string) => text !== '' && stream.push({ seq: seq++, text });
    stream.attach(
      Promise.resolve()
        .then(() => this.generate(build(), signal, emit, shape))
        .catch((err: unknown) => Promise.reject(this.failed(err))),
    );
    return stream;
  }

  private async generate(call: StreamedCall, signal: AbortSignal | undefined, emit: (text: string) => void, shape: TextFilter | undefined): Promise<GenerationResult> {
    const meter = new Meter();
    const answer = await send({ method: 'POST', url: call.url, body: call.body, apiKey: this.config.apiKey, timeoutMs: this.config.timeoutMs, model: this.served?.id ?? '', fimRoute: call.fimRoute, signal }, this.http);
    const stops = new StopCutter(call.stop);
    let text = '';
    const show = (raw: string) => {
      const shown = shape ? shape.push(raw) : raw;
      text += shown;
      emit(shown);
    };
    let finish: FinishReason = 'stop';
    try {
      for await (const event of readEvents(call, answer)) {
        const piece = call.read(event);
        meter.note(piece);
        show(stops.push(piece.text));
        if (piece.finish) finish = piece.finish;
        if (stops.stopped) break; // leaving the loop cancels the body: the server sees the connection close
      }
    } catch (err) {
      const failure = answer.failure(err);
      if (isAbortError(failure)) throw new GenerationStoppedError(failure.message, meter.stats());
      throw failure;
    } finally {
      answer.done();
    }
    show(stops.end());
    if (shape) {
      const rest = shape.end();
      text += rest;
      emit(rest);
    }
    const stats = meter.stats();
    this.hooks.onResult?.(stats);
    return { text, finishReason: stops.stopped ? 'stop' : finish, stats };
  }

  /** Reports a failure once, as the error to throw; cancellations pass through unreported. */
  private failed(err: unknown): Error {
    if (err instanceof GenerationStoppedError) {
      if (err.stats) this.hooks.onResult?.(err.stats);
      return err;
    }
    if (isAbortError(err)) return err instanceof AbortError ? err : new AbortError((err as Error).message);
    const error = err instanceof RemoteError ? err : new RemoteError('server', err instanceof Error ? err.message : String(err));
    this.hooks.onFailure?.(error);
    return error;
  }
}

function readEvents(call: StreamedCall, answer: HttpAnswer): AsyncGenerator<unknown> {
  const body = answer.response.body;
  if (!body) throw new RemoteError('server', `${call.url} answered with no body`);
  return call.framing === 'ndjson' ? ndjsonEvents(body, answer.touch) : sseEvents(body, answer.touch);
}

/**
 * What the client can measure of a generation: time to the first text, total time, and the token
 * counts the server reports (else the number of pieces, one token each on every server here). The
 * server's decoding is its own business, so the speculative-decoding fields stay zero.
 */
class Meter {
  private readonly started = performance.now();
  private firstAt: number | null = null;
  private pieces = 0;
  private promptTokens = 0;
  private completionTokens: number | null = null;

  note(piece: Piece): void {
    if (piece.text !== '') {
      this.pieces++;
      this.firstAt ??= performance.now();
    }
    if (piece.promptTokens !== undefined) this.promptTokens = piece.promptTokens;
    if (piece.completionTokens !== undefined) this.completionTokens = piece.completionTokens;
  }

  stats(): GenerationStats {
    const now = performance.now();
    const totalMs = now - this.started;
    const firstTokenMs = (this.firstAt ?? now) - this.started;
    const generated = this.completionTokens ?? this.pieces;
    const decodeMs = totalMs - firstTokenMs;
    return {
      mode: 'autoregressive',
      promptTokens: this.promptTokens,
      reusedTokens: 0,
      generatedTokens: generated,
      steps: 0,
      drafted: 0,
      accepted: 0,
      meanAcceptedLength: 0,
      firstTokenMs,
      totalMs,
      decodeTokensPerSecond: decodeMs > 0 && generated > 1 ? ((generated - 1) / decodeMs) * 1000 : 0,
      tokensPerSecond: totalMs > 0 ? (generated / totalMs) * 1000 : 0,
    };
  }
}
