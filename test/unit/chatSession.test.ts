import * as assert from 'node:assert/strict';
import { ChatHistoryStore, type StateStore } from '../../src/extension/chatHistory';
import { ChatSession, type ChatEngine, type ChatEvent, type ChatSessionDeps, type ChatStream } from '../../src/extension/chatSession';
import type { ChatMessage, GenerationResult } from '../../src/protocol';

class MemoryState implements StateStore {
  value: unknown;
  get<T>(): T | undefined {
    return this.value as T | undefined;
  }
  update(_key: string, value: unknown): Promise<void> {
    this.value = JSON.parse(JSON.stringify(value));
    return Promise.resolve();
  }
}

function result(text: string, finishReason: 'stop' | 'length' = 'stop'): GenerationResult {
  const stats = { mode: 'chimera' as const, promptTokens: 5, reusedTokens: 0, generatedTokens: 4, steps: 2, drafted: 6, accepted: 2, meanAcceptedLength: 2, firstTokenMs: 3, totalMs: 10, decodeTokensPerSecond: 40, tokensPerSecond: 30 };
  return { text, finishReason, stats };
}

/**
 * A stream that yields the given pieces and then finishes, or, when `hold` is set, waits after the
 * pieces until its signal aborts, as the real engine does for a long reply that the user stops.
 */
function scripted(pieces: string[], options: { hold?: boolean; signal?: AbortSignal; finishReason?: 'stop' | 'length' } = {}): ChatStream {
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(Object.assign(new Error('generation was cancelled'), { name: 'AbortError' }));
    if (options.signal?.aborted) fail();
    options.signal?.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => undefined);
  const resultPromise = options.hold ? aborted : Promise.resolve(result(pieces.join(''), options.finishReason));
  resultPromise.catch(() => undefined);
  return {
    result: resultPromise,
    async *[Symbol.asyncIterator]() {
      for (const piece of pieces) yield piece;
      if (options.hold) await aborted;
    },
  };
}

interface Harness {
  session: ChatSession;
  events: ChatEvent[];
  requests: ChatMessage[][];
  state: MemoryState;
}

interface HarnessOptions {
  /** The name of the model the engine reports as loaded. */
  model?: string;
  describeError?: ChatSessionDeps['describeError'];
}

function harness(engine: (messages: ChatMessage[], signal?: AbortSignal) => ChatStream, ready?: () => Promise<void>, extra: HarnessOptions = {}): Harness {
  const requests: ChatMessage[][] = [];
  const chatEngine: ChatEngine = {
    ready: async () => {
      await ready?.();
      return {
        model: extra.model ? { name: extra.model } : null,
        chat: (params, signal) => {
          requests.push(params.messages);
          return engine(params.messages, signal);
        },
      };
    },
  };
  const state = new MemoryState();
  let ids = 0;
  const session = new ChatSession({
    engine: chatEngine,
    store: new ChatHistoryStore(state),
    options: () => ({ maxTokens: 32, temperature: 0, mode: 'chimera' }),
    describeError: extra.describeError ?? ((err) => ({ message: err instanceof Error ? err.message : String(err), actions: ['showLog'] })),
    newId: () => `m${++ids}`,
    warn: () => undefined,
  });
  const events: ChatEvent[] = [];
  session.onEvent((e) => events.push(e));
  return { session, events, requests, state };
}

describe('chat session', () => {
  it('streams a reply as appends, deltas and a final done, and stores the exchange', async () => {
    const h = harness(() => scripted(['Hel', 'lo', '!']));
    const final = await h.session.ask({ text: 'Hi', kind: 'ask' });
    assert.equal(final.text, 'Hello!');
    assert.equal(final.status, 'done');
    assert.deepEqual(final.stats, { generatedTokens: 4, decodeTokensPerSecond: 40, meanAcceptedLength: 2 });
    assert.deepEqual(
      h.events.map((e) => (e.type === 'delta' ? `delta:${e.text}` : e.type)),
      ['append', 'append', 'delta:Hel', 'delta:lo', 'delta:!', 'done'],
    );
    assert.deepEqual(h.requests, [[{ role: 'user', content: 'Hi' }]]);
    assert.deepEqual(
      (h.state.value as { role: string; text: string }[]).map((m) => [m.role, m.text]),
      [
        ['user', 'Hi'],
        ['assistant', 'Hello!'],
      ],
    );
    assert.equal(h.session.busy, false);
  });

  it('sends earlier turns with the next question, and Explain as an explain message', async () => {
    const h = harness(() => scripted(['ok']));
    await h.session.ask({ text: 'Explain this code', kind: 'explain', attachment: { label: 'a.ts:1', languageId: 'typescript', code: 'let a = 1;' } });
    await h.session.ask({ text: 'And then?', kind: 'ask' });
    assert.deepEqual(h.requests[1], [
      { role: 'user', explain: { code: 'let a = 1;', languageId: 'typescript' } },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'And then?' },
    ]);
  });

  it('stops a streaming reply, keeping what arrived, and marks it cancelled', async () => {
    const h = harness((_, signal) => scripted(['partial'], { hold: true, signal }));
    const reply = h.session.ask({ text: 'Long one', kind: 'ask' });
    await new Promise<void>((resolve) => h.session.onEvent((e) => e.type === 'delta' && resolve()));
    assert.equal(h.session.busy, true);
    await h.session.stop();
    const final = await reply;
    assert.equal(final.status, 'cancelled');
    assert.equal(final.text, 'partial');
    assert.equal(h.session.busy, false);
  });

  it('a new question stops the running reply first', async () => {
    let call = 0;
    const h = harness((_, signal) => (++call === 1 ? scripted(['first'], { hold: true, signal }) : scripted(['second'])));
    const first = h.session.ask({ text: 'one', kind: 'ask' });
    await new Promise<void>((resolve) => h.session.onEvent((e) => e.type === 'delta' && resolve()));
    const second = await h.session.ask({ text: 'two', kind: 'ask' });
    assert.equal((await first).status, 'cancelled');
    assert.equal(second.text, 'second');
    assert.deepEqual(
      h.session.transcript.map((m) => m.status ?? m.text),
      ['one', 'cancelled', 'two', 'done'],
    );
  });

  it('turns an engine failure into an error reply with actions, and never rejects', async () => {
    const h = harness(
      () => scripted([]),
      () => Promise.reject(new Error('the model could not be loaded: chimera.json missing')),
    );
    const final = await h.session.ask({ text: 'Hi', kind: 'ask' });
    assert.equal(final.status, 'error');
    assert.equal(final.error, 'the model could not be loaded: chimera.json missing');
    assert.deepEqual(final.errorActions, ['showLog']);
  });

  it('Stop while the engine is still starting ends the reply at once', async () => {
    let startEngine!: () => void;
    const h = harness(
      () => scripted(['late']),
      () => new Promise<void>((resolve) => (startEngine = resolve)),
    );
    const reply = h.session.ask({ text: 'Hi', kind: 'ask' });
    await h.session.stop();
    assert.equal((await reply).status, 'cancelled');
    startEngine();
    assert.equal(h.requests.length, 0, 'no request may reach the engine after Stop');
  });

  it('records the name of the model that wrote each reply, and keeps it across a switch', async () => {
    let model = 'model-a';
    const h = harness(() => scripted(['x']), undefined, {
      get model() {
        return model;
      },
    });
    const first = await h.session.ask({ text: 'one', kind: 'ask' });
    model = 'model-b';
    const second = await h.session.ask({ text: 'two', kind: 'ask' });
    assert.equal(first.model, 'model-a');
    assert.equal(second.model, 'model-b');
    assert.deepEqual(
      (h.state.value as { role: string; model?: string }[]).map((m) => m.model),
      [undefined, 'model-a', undefined, 'model-b'],
      'stored with each reply, so restored history names them too',
    );
  });

  it('a reply cut off by a model switch is stopped with a notice, not an error', async () => {
    const h = harness(
      () => scripted([]),
      () => Promise.reject(new Error('the engine is restarting')),
      { describeError: (err) => ({ message: `interrupted: ${(err as Error).message}`, actions: [], interrupted: true }) },
    );
    const final = await h.session.ask({ text: 'Hi', kind: 'ask' });
    assert.equal(final.status, 'cancelled');
    assert.equal(final.notice, 'interrupted: the engine is restarting');
    assert.equal(final.error, undefined);
    assert.equal(final.errorActions, undefined);
  });

  it('marks a reply cut by the token limit', async () => {
    const h = harness(() => scripted(['abc'], { finishReason: 'length' }));
    assert.equal((await h.session.ask({ text: 'Hi', kind: 'ask' })).status, 'length');
  });

  it('New chat clears the conversation and its storage', async () => {
    const h = harness(() => scripted(['x']));
    await h.session.ask({ text: 'Hi', kind: 'ask' });
    await h.session.clear();
    assert.deepEqual(h.session.transcript, []);
    assert.deepEqual(h.state.value, []);
    assert.deepEqual(h.events.at(-1), { type: 'transcript', messages: [] });
  });
});
