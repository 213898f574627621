/**
 * The engine: one loaded model, a decoding session per scheduler lane (so inline completions and chat
 * keep separate prompt-prefix caches), and the request handlers, independent of any transport. The
 * JSON-RPC server (server.ts) and the HTTP API (http.ts) both drive this class.
 */
import { join } from 'node:path';
import { DecodingSession, type GenerateRequest, type GenerationResult as CoreResult } from '../core/decoder';
import { DeviceError, PackageError } from '../core/errors';
import { loadModel, type LoadedModel } from '../core/model';
import type { Logger } from '../core/session';
import { TemplateRegistry, type ChatMessage as TemplateMessage, type Prompt } from '../core/templates';
import type * as P from '../protocol';
import { Scheduler } from './scheduler';

/** Tree nodes reserved after the prompt and answer; matches the decoding session's default budget. */
const TREE_RESERVE = 24;

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

  async load(modelPath: string, device: P.DeviceSetting): Promise<Loaded['info']> {
    this.scheduler.cancelAll('the model is being replaced');
    await this.unload();
    const dir = modelPath.trim() === '' ? bundledModelDir() : modelPath;
    let model: LoadedModel;
    try {
      model = await loadModel(dir, { device, log: this.log });
    } catch (err) {
      if (err instanceof PackageError) throw new EngineLoadError(-32001, err.message, { file: err.file });
      if (err instanceof DeviceError) throw new EngineLoadError(-32002, err.message, { device });
      throw err;
    }
    const sessions = new Map<Lane, DecodingSession>();
    for (const lane of ['complete', 'chat', 'api'] as const) sessions.set(lane, await DecodingSession.create(model));
    const m = model.manifest;
    const info = {
      device: { kind: model.device.kind, requested: device, reason: model.device.reason },
      model: { name: m.name, family: m.family, path: model.pkg.dir, maxContext: m.model.max_context, vocabSize: m.model.vocab_size, hasDraft: model.draft !== null, hasFim: false },
    };
    const templates = new TemplateRegistry(m, model.tokenizer);
    info.model.hasFim = templates.hasFim;
    this.loaded = { model, templates, sessions, info };
    return info;
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
      const prompt = l.templates.fim({ prefix: params.prefix, suffix: params.suffix, path: params.filePath }, budget);
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
    return this.run(lane, params, signal, onDelta, (l, budget) => {
      const messages: TemplateMessage[] = params.messages.map((msg) => {
        if ('explain' in msg) return { role: 'user', content: l.templates.explainText(msg.explain.code, msg.explain.languageId) };
        return { role: msg.role, content: msg.content };
      });
      return { prompt: l.templates.chat(messages, budget), stopIds: l.templates.stopTokenIds('chat'), stopStrings: [] };
    });
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

  private run(
    lane: Lane,
    options: P.DecodingOptions,
    signal: AbortSignal | undefined,
    onDelta: (text: string) => void,
    build: (l: Loaded, budget: number) => { prompt: Prompt; stopIds: number[]; stopStrings: string[] },
  ): Promise<P.GenerationResult> {
    const loaded = this.loaded;
    if (!loaded) return Promise.reject(new EngineLoadError(-32003, 'the engine has no model loaded; send initialize first', {}));
    this.totals.requests++;
    return new Promise<P.GenerationResult>((resolve, reject) => {
      this.scheduler.submit<CoreResult>(lane, {
        signal,
        onDelta,
        start: (abort) => {
          const maxTokens = Math.max(1, Math.min(options.maxTokens, loaded.info.model.maxContext / 2));
          const { prompt, stopIds, stopStrings } = build(loaded, loaded.info.model.maxContext - maxTokens - TREE_RESERVE);
          return loaded.sessions.get(lane)!.generate(this.request(loaded, options, prompt.tokens, maxTokens, stopIds, stopStrings, abort));
        },
        resolve: (result) => {
          this.totals.generatedTokens += result.tokens.length;
          this.last = publicStats(result.stats);
          this.log('debug', `${lane}: ${result.tokens.length} tokens, ${result.stats.meanAcceptedLength.toFixed(2)} per step, ${result.stats.decodeTokensPerSecond.toFixed(1)} tok/s`);
          resolve({ text: result.text, finishReason: result.finishReason, stats: this.last });
        },
        reject: (err) => {
          if (err instanceof Error && err.name === 'AbortError') this.totals.cancelled++;
          reject(err);
        },
      });
    });
  }

  private request(l: Loaded, o: P.DecodingOptions, prompt: number[], maxTokens: number, stopTokenIds: number[], stopStrings: string[], signal: AbortSignal): GenerateRequest {
    const wanted = o.mode ?? 'chimera';
    const mode = wanted === 'chimera' && !l.info.model.hasDraft ? 'ngram' : wanted;
    const temperature = o.temperature ?? 0;
    return {
      prompt, maxTokens, mode, stopTokenIds, stopStrings, signal, seed: o.seed,
      sampling: { temperature, topK: 0, topP: temperature > 0 ? 0.95 : 1 },
    };
  }
}

function publicStats(s: CoreResult['stats']): P.GenerationStats {
  return {
    mode: s.mode, promptTokens: s.promptTokens, reusedTokens: s.reusedTokens, generatedTokens: s.generatedTokens, steps: s.steps,
    drafted: s.drafted, accepted: s.accepted, meanAcceptedLength: s.meanAcceptedLength, firstTokenMs: s.firstTokenMs,
    totalMs: s.totalMs, decodeTokensPerSecond: s.decodeTokensPerSecond, tokensPerSecond: s.tokensPerSecond,
  };
}
