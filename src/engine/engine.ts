/**
 * The engine: one loaded model, a decoding session per scheduler lane (so inline completions and chat
 * keep separate prompt-prefix caches), and the request handlers, independent of any transport. The
 * JSON-RPC server (server.ts) and the HTTP API (http.ts) both drive this class.
 */
import { join } from 'node:path';
import { DecodingSession, type GenerateRequest, type GenerationResult as CoreResult } from '../core/decoder';
import { answerRoom, splitContext } from '../core/bounds';
import { minorCollector } from '../core/reclaim';
import { DeviceError, isAbortError, PackageError, type AbortError } from '../core/errors';
import { loadModel, type LoadedModel } from '../core/model';
import { FileCostStore } from '../core/profile';
import { defaultCacheDir, FileVerifiedStore } from '../core/verified';
import { diagnose } from '../core/gpu/diagnose';
import { softwareGpuAllowedByEnv, type Logger } from '../core/session';
import { TemplateRegistry, type Prompt } from '../core/templates';
import * as P from '../protocol';
import { Scheduler } from './scheduler';

export function bundledModelDir(): string {
  return join(__dirname, '..', 'models', 'default');
}

/**
 * Scheduler lanes, each with its own decoding session (and so its own prompt-prefix cache):
 * inline completions (latest wins), chat and edit from the editor, and the HTTP API (first come,
 * first served, so concurrent API clients never cancel each other).
 */
export type Lane = 'complete' | 'chat' | 'api';

interface Loaded {
  model: LoadedModel;
  templates: TemplateRegistry;
  sessions: Map<Lane, DecodingSession>;
  info: { device: P.DeviceInfo; model: P.ModelInfo };
  gpu: GpuOptions;
}

export interface GpuOptions {
  /** Whether a software adapter may run the model (default: CHIMERA_ALLOW_SOFTWARE_GPU). */
  allowSoftwareGpu?: boolean;
}

export class EngineLoadError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: P.EngineErrorData,
  ) {
    super(message);
  }
}

export class Engine {
  private loaded: Loaded | null = null;
  private readonly scheduler = new Scheduler();
  private last: P.GenerationStats | null = null;
  private loadTicket = 0;
  private loadChain: Promise<unknown> = Promise.resolve();
  private readonly totals = { requests: 0, cancelled: 0, generatedTokens: 0 };
  private readonly startedAt = Date.now();

  constructor(private readonly log: Logger) {
    // Completions are short and latency-bound, so they get two turns for each chat/edit turn.
    this.scheduler.addLane('complete', 'latest-wins', 2);
    this.scheduler.addLane('chat', 'fifo', 1);
    this.scheduler.addLane('api', 'fifo', 1);
  }

  get info(): Loaded['info'] | null {
    return this.loaded?.info ?? null;
  }

  /**
   * Loads a model, replacing the current one. Loads run one at a time, and the newest request wins: a
   * load that a newer one overtook (while it waited or while it loaded) is undone and answers
   * RequestCancelled, so no caller is told "loaded" about a model that is not the one in use.
   */
  load(modelPath: string, device: P.DeviceSetting, maxContext?: number, gpu: GpuOptions = {}): Promise<Loaded['info']> {
    const ticket = ++this.loadTicket;
    const run = this.loadChain.then(() => this.loadNow(ticket, modelPath, device, maxContext, gpu));
    this.loadChain = run.catch(() => undefined);
    return run;
  }

  private async loadNow(ticket: number, modelPath: string, device: P.DeviceSetting, maxContext: number | undefined, gpu: GpuOptions): Promise<Loaded['info']> {
    const superseded = () => new EngineLoadError(P.ErrorCodes.RequestCancelled, `loading ${modelPath || 'the default model'} was superseded by a newer loadModel request`, {});
    if (ticket !== this.loadTicket) throw superseded();
    this.scheduler.cancelAll('the model is being replaced');
    await this.unload();
    const dir = modelPath.trim() === '' ? bundledModelDir() : modelPath;
    let model: LoadedModel;
    try {
      model = await loadModel(dir, { device, allowSoftwareGpu: gpu.allowSoftwareGpu, log: this.log, costStore: new FileCostStore(defaultCacheDir()), verifiedStore: new FileVerifiedStore(defaultCacheDir()), maxContext, collector: minorCollector() });
    } catch (err) {
      if (err instanceof PackageError) throw new EngineLoadError(P.ErrorCodes.ModelLoadFailed, err.message, { file: err.file });
      if (err instanceof DeviceError) throw new EngineLoadError(P.ErrorCodes.DeviceUnavailable, err.message, { device });
      throw err;
    }
    const sessions = new Map<Lane, DecodingSession>();
    for (const lane of ['complete', 'chat', 'api'] as const) sessions.set(lane, await DecodingSession.create(model));
    if (ticket !== this.loadTicket) {
      for (const session of sessions.values()) session.dispose();
      await model.dispose();
      throw superseded();
    }
    const m = model.manifest;
    const templates = new TemplateRegistry(m, model.tokenizer);
    const info = {
      device: { kind: model.device.kind, requested: device, reason: model.device.reason, software: model.device.software, attempts: model.device.attempts },
      model: { name: m.name, family: m.family, path: model.pkg.dir, maxContext: model.context, vocabSize: m.model.vocab_size, hasDraft: model.draft !== null, hasFim: templates.hasFim },
    };
    this.loaded = { model, templates, sessions, info, gpu };
    return info;
  }

  /** The GPU diagnosis, measured on the loaded model (see core/gpu/diagnose.ts). */
  diagnose(params: P.DiagnoseParams): Promise<P.GpuDiagnostics> {
    const l = this.loaded;
    const allowSoftware = l?.gpu.allowSoftwareGpu ?? softwareGpuAllowedByEnv();
    return diagnose({ model: l?.model ?? null, device: l?.info.device.requested ?? 'auto', allowSoftware, measure: params.measure ?? true, log: this.log });
  }

  async unload(): Promise<void> {
    const loaded = this.loaded;
    this.loaded = null;
    if (!loaded) return;
    for (const session of loaded.sessions.values()) session.dispose();
    await loaded.model.dispose();
  }

  complete(params: P.CompleteParams, signal: AbortSignal | undefined, onDelta: (text: string) => void, lane: Lane = 'complete'): Promise<P.GenerationResult> {
    return this.run(lane, params, signal, onDelta, (l, budget) => {
      const prompt = l.templates.fim({ prefix: params.prefix, suffix: params.suffix, path: params.filePath, context: params.context }, budget);
      return { prompt, stopIds: l.templates.stopTokenIds('fim'), stopStrings: params.stop ?? [] };
    });
  }

  /** A plain continuation of `prompt` (no template), for the HTTP API's /v1/completions. */
  completeText(params: P.DecodingOptions & { prompt: string; stop: string[] }, signal: AbortSignal | undefined, onDelta: (text: string) => void): Promise<P.GenerationResult> {
    return this.run('api', params, signal, onDelta, (l, budget) => {
      return { prompt: l.templates.plain(params.prompt, budget), stopIds: l.templates.stopTokenIds('fim'), stopStrings: params.stop };
    });
  }

  chat(params: P.ChatParams, signal: AbortSignal | undefined, onDelta: (text: string) => void, lane: Lane = 'chat'): Promise<P.GenerationResult> {
    return this.run(lane, params, signal, onDelta, (l, budget) => ({ prompt: l.templates.chat(params.messages, budget), stopIds: l.templates.stopTokenIds('chat'), stopStrings: params.stop ?? [] }));
  }

  edit(params: P.EditParams, signal: AbortSignal | undefined, onDelta: (text: string) => void): Promise<P.GenerationResult> {
    return this.run('chat', params, signal, onDelta, (l, budget) => {
      const prompt = l.templates.edit(params.code, params.languageId, params.instruction, budget);
      return { prompt, stopIds: l.templates.stopTokenIds('chat'), stopStrings: prompt.stopStrings };
    });
  }

  stats(): P.StatsResult {
    const memory = process.memoryUsage();
    return {
      device: this.loaded?.info.device ?? null,
      model: this.loaded?.info.model ?? null,
      last: this.last,
      totals: { ...this.totals },
      queue: this.scheduler.counts,
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
      uptimeMs: Date.now() - this.startedAt,
    };
  }

  cancelAll(reason: string): void {
    this.scheduler.cancelAll(reason);
  }

  /**
   * Builds the prompt at once (bounded by the context: see core/bounds.ts), so a queued job holds token
   * ids rather than the request's text, then queues the generation on `lane`.
   */
  private run(lane: Lane, options: P.DecodingOptions, signal: AbortSignal | undefined, onDelta: (text: string) => void, build: (l: Loaded, budget: number) => Built): Promise<P.GenerationResult> {
    const loaded = this.loaded;
    if (!loaded) return Promise.reject(new EngineLoadError(P.ErrorCodes.NotInitialized, 'the engine has no model loaded; send initialize first', {}));
    this.totals.requests++;
    const context = loaded.info.model.maxContext;
    let built: Built;
    try {
      built = build(loaded, splitContext(context, options.maxTokens).prompt);
    } catch (err) {
      return Promise.reject(err);
    }
    const { prompt, stopIds, stopStrings } = built;
    const maxTokens = answerRoom(context, prompt.tokens.length, options.maxTokens);
    // Only the decoding options go on: the request's text (maybe megabytes) is not kept while it waits.
    const decoding: P.DecodingOptions = { maxTokens, temperature: options.temperature, topP: options.topP, mode: options.mode, seed: options.seed };
    if (prompt.trim) this.log('debug', `${lane}: left out ${prompt.trim.droppedTurns} turn(s), ${prompt.trim.droppedChars} character(s) to fit the context`);
    return new Promise<P.GenerationResult>((resolve, reject) => {
      this.scheduler.submit<CoreResult>(lane, {
        signal,
        onDelta,
        start: (abort) => loaded.sessions.get(lane)!.generate({ ...this.request(loaded, decoding, prompt.tokens, stopIds, stopStrings, abort), healed: prompt.healed }),
        resolve: (result) => {
          this.totals.generatedTokens += result.tokens.length;
          this.last = publicStats(result.stats);
          this.log('debug', `${lane}: ${result.tokens.length} tokens, ${result.stats.meanAcceptedLength.toFixed(2)} per step, ${result.stats.decodeTokensPerSecond.toFixed(1)} tok/s`);
          resolve({ text: result.text, finishReason: result.finishReason, stats: this.last, ...(prompt.trim ? { trimmed: prompt.trim } : {}) });
        },
        reject: (err) => {
          if (isAbortError(err)) this.noteStopped(lane, err as AbortError);
          reject(err);
        },
      });
    });
  }

  /** A stopped generation still counts what it produced, and its speed becomes the last one reported. */
  private noteStopped(lane: Lane, err: AbortError): void {
    this.totals.cancelled++;
    const s = err.partial;
    if (!s || s.generatedTokens === 0) return;
    this.totals.generatedTokens += s.generatedTokens;
    this.last = publicStats(s);
    this.log('debug', `${lane}: stopped after ${s.generatedTokens} tokens, ${s.decodeTokensPerSecond.toFixed(1)} tok/s`);
  }

  private request(l: Loaded, o: P.DecodingOptions, prompt: number[], stopTokenIds: number[], stopStrings: string[], signal: AbortSignal): GenerateRequest {
    const wanted = o.mode ?? 'chimera';
    const mode = wanted === 'chimera' && !l.info.model.hasDraft ? 'ngram' : wanted;
    const temperature = o.temperature ?? 0;
    return {
      prompt, maxTokens: o.maxTokens, mode, stopTokenIds, stopStrings, signal, seed: o.seed,
      sampling: { temperature, topK: 0, topP: o.topP ?? (temperature > 0 ? 0.95 : 1) },
    };
  }
}

interface Built {
  prompt: Prompt;
  stopIds: number[];
  stopStrings: string[];
}

export function publicStats(s: CoreResult['stats']): P.GenerationStats {
  return {
    mode: s.mode, promptTokens: s.promptTokens, reusedTokens: s.reusedTokens, generatedTokens: s.generatedTokens, steps: s.steps,
    drafted: s.drafted, accepted: s.accepted, meanAcceptedLength: s.meanAcceptedLength, firstTokenMs: s.firstTokenMs,
    totalMs: s.totalMs, decodeTokensPerSecond: s.decodeTokensPerSecond, tokensPerSecond: s.tokensPerSecond,
  };
}
