import * as assert from 'node:assert/strict';
import { ChatHistoryStore, contextCharBudget, fence, HISTORY_KEY, parseStoredHistory, toEngineMessages, trimHistory, truncateCode, type StateStore } from '../../src/extension/chatHistory';
import type { TranscriptMessage } from '../../src/webview/messages';

function exchange(n: number, size = 10): TranscriptMessage[] {
  return [
    { id: `u${n}`, role: 'user', text: `question ${n} ${'q'.repeat(size)}` },
    { id: `a${n}`, role: 'assistant', text: `answer ${n} ${'a'.repeat(size)}`, status: 'done' },
  ];
}

function conversation(exchanges: number, size = 10): TranscriptMessage[] {
  return Array.from({ length: exchanges }, (_, i) => exchange(i, size)).flat();
}

/** A Memento stand-in that stores JSON, as VS Code does on disk. */
class MemoryState implements StateStore {
  readonly data = new Map<string, string>();
  get<T>(key: string): T | undefined {
    const raw = this.data.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }
  update(key: string, value: unknown): Promise<void> {
    this.data.set(key, JSON.stringify(value));
    return Promise.resolve();
  }
}

describe('chat history', () => {
  it('keeps the newest messages within the message cap, starting with a question', () => {
    const kept = trimHistory(conversation(30), { maxMessages: 7, maxChars: 1e9 });
    // 7 would start with an answer whose question was dropped, so that answer goes too.
    assert.deepEqual(
      kept.map((m) => m.id),
      ['u27', 'a27', 'u28', 'a28', 'u29', 'a29'],
    );
  });

  it('keeps the stored JSON within the size cap', () => {
    const messages = conversation(20, 1000);
    const maxChars = 10_000;
    const kept = trimHistory(messages, { maxMessages: 1000, maxChars });
    assert.ok(kept.length > 0 && kept.length < messages.length, `kept ${kept.length}`);
    assert.ok(JSON.stringify(kept).length <= maxChars, `${JSON.stringify(kept).length} chars`);
    assert.deepEqual(kept.at(-1), messages.at(-1));
    assert.equal(kept[0]!.role, 'user');
  });

  it('never drops the newest message, even when it alone is over the size cap', () => {
    const huge: TranscriptMessage = { id: 'big', role: 'user', text: 'x'.repeat(5000) };
    assert.deepEqual(trimHistory([...conversation(2), huge], { maxMessages: 50, maxChars: 100 }), [huge]);
  });

  it('restores only well-formed messages and ends replies that were streaming', () => {
    const stored = [...exchange(0), { id: 'a9', role: 'assistant', text: 'par', status: 'streaming' }, { id: 3 }, 'junk', null];
    const restored = parseStoredHistory(stored);
    assert.deepEqual(
      restored.map((m) => [m.id, m.status]),
      [
        ['u0', undefined],
        ['a0', 'done'],
        ['a9', 'cancelled'],
      ],
    );
    assert.deepEqual(parseStoredHistory({ not: 'an array' }), []);
    assert.deepEqual(parseStoredHistory(undefined), []);
  });

  it('keeps the model that wrote each reply, and still loads histories stored before it was kept', () => {
    const old = [{ id: 'u1', role: 'user', text: 'Hi' }, { id: 'a1', role: 'assistant', text: 'Hello', status: 'done' }];
    const named = [{ id: 'u2', role: 'user', text: 'Again' }, { id: 'a2', role: 'assistant', text: 'Sure', status: 'done', model: 'chimera-code-default' }];
    const restored = parseStoredHistory([...old, ...named]);
    assert.deepEqual(
      restored.map((m) => [m.id, m.model]),
      [
        ['u1', undefined],
        ['a1', undefined],
        ['u2', undefined],
        ['a2', 'chimera-code-default'],
      ],
    );
    // A malformed name drops that message alone, like any other malformed field.
    assert.deepEqual(parseStoredHistory([{ id: 'a3', role: 'assistant', text: 'x', status: 'done', model: 42 }]), []);
  });

  it('round-trips through workspace state, trimmed and copied', async () => {
    const state = new MemoryState();
    const store = new ChatHistoryStore(state, { maxMessages: 4, maxChars: 1e9 });
    const messages = conversation(3);
    await store.save(messages);
    messages[5]!.text = 'changed after saving';
    assert.deepEqual(store.load(), conversation(3).slice(2));
    assert.ok(state.data.has(HISTORY_KEY));
  });

  it('converts the conversation into engine messages', () => {
    const messages: TranscriptMessage[] = [
      { id: 'u1', role: 'user', text: 'Explain this code', kind: 'explain', attachment: { label: 'a.py:1', languageId: 'python', code: 'x = 1' } },
      { id: 'a1', role: 'assistant', text: 'It sets x.', status: 'done' },
      { id: 'u2', role: 'user', text: 'Why?', kind: 'ask', attachment: { label: 'a.py', languageId: 'python', code: 'x = 1\n', truncated: true } },
      { id: 'a2', role: 'assistant', text: '', status: 'error', error: 'engine failed' },
      { id: 'u3', role: 'user', text: 'Hello' },
    ];
    assert.deepEqual(toEngineMessages(messages), [
      { role: 'user', explain: { code: 'x = 1', languageId: 'python' } },
      { role: 'assistant', content: 'It sets x.' },
      { role: 'user', content: 'Why?\n\na.py (truncated):\n```python\nx = 1\n\n```' },
      { role: 'user', content: 'Hello' },
    ]);
  });

  it('fences code with more backticks than it contains', () => {
    assert.equal(fence('a ``` b', 'md'), '````md\na ``` b\n````');
    assert.equal(fence('plain', ''), '```\nplain\n```');
    // 400 KB of code with 200,000 backtick runs used to overflow the stack (Math.max(...runs)).
    const huge = 'a`'.repeat(200_000) + '\n````';
    assert.ok(fence(huge, 'md').startsWith('`````md\n'));
  });

  it('cuts attached code at a line end and says so', () => {
    assert.deepEqual(truncateCode('short', 10), { code: 'short', truncated: false });
    assert.deepEqual(truncateCode('line one\nline two\nline three', 20), { code: 'line one\nline two', truncated: true });
    assert.deepEqual(truncateCode('x'.repeat(30), 10), { code: 'x'.repeat(10), truncated: true });
  });

  it('sizes the context from the model context, with a default before the engine is up', () => {
    assert.ok(contextCharBudget(1024) < contextCharBudget(4096));
    // Half the context is the prompt budget; at 3 characters a token the code must fit in it.
    assert.ok(contextCharBudget(1024) <= (1024 / 2) * 3);
    assert.equal(contextCharBudget(undefined), contextCharBudget(2048));
  });
});
