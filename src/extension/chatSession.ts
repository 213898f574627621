/**
 * The chat conversation and the one reply that may be streaming. It owns the history, asks the
 * engine, and announces every change as the message the webview will receive, so a view that is
 * created later (or re-created) can be brought up to date from `transcript` alone.
 *
 * No vscode import: the engine and the store come in as small interfaces, so unit tests drive it
 * with a scripted engine.
 */
import type { ChatMessage, DecodingMode, GenerationResult } from '../protocol';
import type { CodeAttachment, ExtensionToWebview, ReplyStats, StatusAction, TranscriptMessage } from '../webview/messages';
import { toEngineMessages, trimHistory, type ChatHistoryStore } from './chatHistory';

export interface ChatStream extends AsyncIterable<string> {
  result: Promise<GenerationResult>;
}

/** The slice of a Backend (local engine or shared server, via BackendService) the chat needs. */
export interface ChatEngine {
  ready(): Promise<{
    /** The model answering: its name goes on each reply. */
    model: { name: string } | null;
    chat(params: { messages: ChatMessage[]; maxTokens: number; temperature?: number; mode?: DecodingMode }, signal?: AbortSignal): ChatStream;
  }>;
}

export interface ChatOptions {
  maxTokens: number;
  temperature: number;
  mode: DecodingMode;
}

export interface DescribedError {
  message: string;
  actions: StatusAction[];
  /** The engine went away on purpose (a model switch, a restart): the reply is stopped, not failed. */
  interrupted?: boolean;
}

/** What the user asked: a question (optionally with code as context) or an Explain request. */
export interface UserRequest {
  text: string;
  kind: 'ask' | 'explain';
  attachment?: CodeAttachment;
}

export type ChatEvent = Extract<ExtensionToWebview, { type: 'transcript' | 'append' | 'delta' | 'done' }>;

export interface ChatSessionDeps {
  engine: ChatEngine;
  store: ChatHistoryStore;
  options: () => ChatOptions;
  describeError: (err: unknown) => DescribedError;
  newId: () => string;
  /** Problems that should not interrupt the user (the history could not be stored). */
  warn: (message: string) => void;
}

interface Running {
  id: string;
  abort: AbortController;
  done: Promise<TranscriptMessage>;
}

export class ChatSession {
  private messages: TranscriptMessage[];
  private running: Running | null = null;
  private readonly listeners = new Set<(event: ChatEvent) => void>();

  constructor(private readonly deps: ChatSessionDeps) {
    this.messages = deps.store.load();
  }

  get transcript(): readonly TranscriptMessage[] {
    return this.messages;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  onEvent(listener: (event: ChatEvent) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /**
   * Adds the question and streams the reply; resolves with the reply's final form (never rejects:
   * a failure becomes an assistant message with the reason). A reply still running is stopped first,
   * since the engine would queue the new one behind it anyway.
   */
  async ask(request: UserRequest): Promise<TranscriptMessage> {
    // Only awaited when needed, so that `running` is set before ask() first yields and an
    // immediate stop() reaches this reply.
    if (this.running) await this.stop();
    const question: TranscriptMessage = { id: this.deps.newId(), role: 'user', ...request };
    const reply: TranscriptMessage = { id: this.deps.newId(), role: 'assistant', text: '', status: 'streaming' };
    const conversation = toEngineMessages([...this.messages, question]);
    this.messages.push(question, reply);
    this.emit({ type: 'append', message: question });
    this.emit({ type: 'append', message: { ...reply } });
    void this.persist();
    const abort = new AbortController();
    const running: Running = { id: reply.id, abort, done: this.generate(reply, conversation, abort.signal) };
    this.running = running;
    const final = await running.done;
    if (this.running === running) this.running = null;
    return final;
  }

  /** Stops the streaming reply, if any, and waits until it has settled as cancelled. */
  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.abort.abort();
    await running.done;
  }

  /** New chat: stops the reply and forgets the conversation. */
  async clear(): Promise<void> {
    await this.stop();
    this.messages = [];
    this.emit({ type: 'transcript', messages: [] });
    await this.persist();
  }

  private async generate(reply: TranscriptMessage, conversation: ChatMessage[], signal: AbortSignal): Promise<TranscriptMessage> {
    let final: TranscriptMessage;
    try {
      const client = await untilAborted(this.deps.engine.ready(), signal);
      // Named now, from the engine that will write it: a later switch must not rename an old reply.
      if (client.model?.name) reply.model = client.model.name;
      const options = this.deps.options();
      const stream = client.chat({ messages: conversation, maxTokens: options.maxTokens, temperature: options.temperature, mode: options.mode }, signal);
      for await (const piece of stream) {
        reply.text += piece;
        this.emit({ type: 'delta', id: reply.id, text: piece });
      }
      const result = await stream.result;
      final = { ...reply, text: result.text, status: result.finishReason === 'length' ? 'length' : 'done', stats: replyStats(result), ...notice(result) };
    } catch (err) {
      final = signal.aborted || isAbort(err) ? { ...reply, status: 'cancelled' } : this.failed(reply, err);
    }
    return this.finish(final);
  }

  private failed(reply: TranscriptMessage, err: unknown): TranscriptMessage {
    const { message, actions, interrupted } = this.deps.describeError(err);
    // No error colours for a normal model switch: the reply just stopped, and the notice says why.
    if (interrupted) return { ...reply, status: 'cancelled', notice: message };
    return { ...reply, status: 'error', error: message, errorActions: actions };
  }

  /** Puts the final reply in place of the streaming one, unless New chat removed it meanwhile. */
  private async finish(final: TranscriptMessage): Promise<TranscriptMessage> {
    const at = this.messages.findIndex((m) => m.id === final.id);
    if (at === -1) return final;
    this.messages[at] = final;
    this.emit({ type: 'done', message: final });
    await this.persist();
    return final;
  }

  /** Trims in memory and in storage alike, so what is shown after a reload matches what was kept. */
  private async persist(): Promise<void> {
    this.messages = trimHistory(this.messages, this.deps.store.limits);
    try {
      await this.deps.store.save(this.messages);
    } catch (err) {
      this.deps.warn(`Chat history could not be saved: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private emit(event: ChatEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}

/** Says what the engine left out to fit the context, so a reply that ignores it is explained. */
function notice(result: GenerationResult): { notice?: string } {
  const t = result.trimmed;
  if (!t) return {};
  const chars = `${t.droppedChars.toLocaleString('en-US')} characters`;
  const what = t.droppedTurns > 0 ? `${t.droppedTurns} older message${t.droppedTurns === 1 ? '' : 's'} (${chars} in all)` : `${chars} of your message`;
  return { notice: `Left out to fit the model's context: ${what}.` };
}

function replyStats(result: GenerationResult): ReplyStats {
  const s = result.stats;
  return { generatedTokens: s.generatedTokens, decodeTokensPerSecond: s.decodeTokensPerSecond, meanAcceptedLength: s.meanAcceptedLength };
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/** Waits for `promise` unless the signal fires first (Stop while the engine is still starting). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortError(): Error {
  const err = new Error('the reply was stopped');
  err.name = 'AbortError';
  return err;
}
