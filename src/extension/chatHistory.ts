/**
 * The chat conversation as stored in workspace state, and as the engine receives it.
 *
 * Pure (it takes a Memento-shaped object rather than importing vscode) so trimming, restoring and
 * the engine conversion are unit-tested. Stored data is read back as untrusted: it may come from an
 * older version of the extension, so every entry is checked and broken ones are dropped.
 */
import type { ChatMessage } from '../protocol';
import { isTranscriptMessage, type CodeAttachment, type TranscriptMessage } from '../webview/messages';

export const HISTORY_KEY = 'chimera.chat.history';

export interface HistoryLimits {
  maxMessages: number;
  /** Size of the stored JSON, in UTF-16 code units (close enough to bytes for a cap). */
  maxChars: number;
}

export const DEFAULT_LIMITS: HistoryLimits = { maxMessages: 50, maxChars: 200_000 };

/** The part of vscode.Memento we use. */
export interface StateStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

/**
 * Drops the oldest messages until both limits hold. It never splits a question from its answer:
 * a leading assistant message (whose question was dropped) goes too. The newest message is kept
 * even when it alone is over the size limit, so the user never loses what they just saw.
 */
export function trimHistory(messages: readonly TranscriptMessage[], limits: HistoryLimits = DEFAULT_LIMITS): TranscriptMessage[] {
  const sizes = messages.map((m) => JSON.stringify(m).length + 1);
  let total = sizes.reduce((a, b) => a + b, 0);
  let start = 0;
  const over = () => messages.length - start > limits.maxMessages || total > limits.maxChars;
  while (start < messages.length - 1 && (over() || messages[start]!.role === 'assistant')) {
    total -= sizes[start]!;
    start++;
  }
  return messages.slice(start);
}

/**
 * Reads stored history: keeps well-formed messages only, and marks a reply that was still
 * streaming when the window closed as cancelled, since nothing will ever finish it.
 */
export function parseStoredHistory(value: unknown): TranscriptMessage[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isTranscriptMessage).map((m) => (m.status === 'streaming' ? { ...m, status: 'cancelled' } : m));
}

export class ChatHistoryStore {
  constructor(
    private readonly state: StateStore,
    readonly limits: HistoryLimits = DEFAULT_LIMITS,
  ) {}

  load(): TranscriptMessage[] {
    return trimHistory(parseStoredHistory(this.state.get<unknown>(HISTORY_KEY)), this.limits);
  }

  /**
   * Stores the trimmed conversation. It stores a copy: a Memento may serialise later, and the
   * streaming reply keeps changing in memory.
   */
  async save(messages: readonly TranscriptMessage[]): Promise<void> {
    await this.state.update(HISTORY_KEY, structuredClone(trimHistory(messages, this.limits)));
  }
}

/** A markdown code fence longer than any backtick run inside the code, so the code cannot close it. */
export function fence(code: string, languageId: string): string {
  // A loop, not Math.max(...runs): 400 KB of code can hold more backtick runs than the stack has room for.
  let longest = 0;
  for (const run of code.matchAll(/`+/g)) longest = Math.max(longest, run[0].length);
  const ticks = '`'.repeat(Math.max(3, longest + 1));
  return `${ticks}${languageId}\n${code}\n${ticks}`;
}

/** A user question with its context, as the model reads it: the question, then the code it is about. */
export function withContext(text: string, attachment: CodeAttachment): string {
  const cut = attachment.truncated ? ' (truncated)' : '';
  return `${text}\n\n${attachment.label}${cut}:\n${fence(attachment.code, attachment.languageId)}`;
}

/**
 * The conversation in the engine's terms. Explain requests go as `explain` messages so the engine
 * applies the model's own Explain prompt; replies that produced no text (errors) are left out.
 */
export function toEngineMessages(messages: readonly TranscriptMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of messages) {
    if (m.role === 'assistant') {
      if (m.text.length > 0) out.push({ role: 'assistant', content: m.text });
    } else if (m.kind === 'explain' && m.attachment) {
      out.push({ role: 'user', explain: { code: m.attachment.code, languageId: m.attachment.languageId } });
    } else {
      out.push({ role: 'user', content: m.attachment ? withContext(m.text, m.attachment) : m.text });
    }
  }
  return out;
}

/** Characters per token on the low side for code; the engine counts tokens, we can only count characters. */
const CHARS_PER_TOKEN = 3;

/**
 * How much code to attach. The engine keeps the newest turn whole, and its prompt budget is at most
 * half the model's context (the other half is for the reply), so attached code gets most of that.
 */
export function contextCharBudget(maxContext: number | undefined): number {
  const tokens = maxContext ?? 2048;
  return Math.floor((tokens / 2) * CHARS_PER_TOKEN * 0.8);
}

/** Cuts code to `maxChars`, at a line end when there is one, and says whether it cut. */
export function truncateCode(code: string, maxChars: number): { code: string; truncated: boolean } {
  if (code.length <= maxChars) return { code, truncated: false };
  const lineEnd = code.lastIndexOf('\n', maxChars);
  return { code: code.slice(0, lineEnd > 0 ? lineEnd : maxChars), truncated: true };
}
