/**
 * The one input-bounding policy: how a request is fitted into the model's context. The engine, the
 * HTTP API (through the engine) and the CLI all use it, through the template registry.
 *
 * - The context is split once: the answer gets what was asked, up to half the context; the prompt gets
 *   the rest, less room for one verification tree. After the prompt is built, the answer may use
 *   whatever the prompt left (so a short prompt never shortens a long answer for nothing).
 * - Text is cut by characters *before* it is tokenized. No token is longer than the tokenizer's longest
 *   vocabulary entry, so `tokens × maxTokenChars` characters always hold at least `tokens` tokens:
 *   cutting to that keeps everything that could fit and bounds the tokenizer's work by the context,
 *   not by the request (a 4 MB prompt costs what a context's worth costs).
 * - Instructions and system prompts are kept; chat keeps the newest turns; what is left out is
 *   reported (InputTrim), never dropped silently.
 */

/** What was left out of a request to fit it (the protocol's InputTrim has the same shape). */
export interface InputTrim {
  /** Whole chat turns left out, oldest first. */
  droppedTurns: number;
  /** Characters left out in all: of dropped turns and of text cut short. */
  droppedChars: number;
  /** For an edit: how many leading characters of the code the model read (the rewrite covers only those). */
  codeCharsRead?: number;
}

/** Positions kept free after the answer for one verification tree (the decoder's tree budget is 16). */
export const TREE_RESERVE = 24;

export interface ContextSplit {
  /** Most tokens the prompt may take. */
  prompt: number;
  /** Most tokens the answer may take, before the prompt's real length is known. */
  answer: number;
}

export function splitContext(maxContext: number, wantedAnswer: number, reserve = TREE_RESERVE): ContextSplit {
  const answer = Math.max(1, Math.min(wantedAnswer, Math.floor(maxContext / 2)));
  return { prompt: Math.max(1, maxContext - answer - reserve), answer };
}

/** The answer's room once the prompt is built: what was asked, up to what the context has left. */
export function answerRoom(maxContext: number, promptTokens: number, wantedAnswer: number, reserve = TREE_RESERVE): number {
  return Math.max(1, Math.min(wantedAnswer, maxContext - reserve - promptTokens));
}

/** True when `i` splits a surrogate pair (so a cut there would leave half a character). */
function splitsPair(text: string, i: number): boolean {
  if (i <= 0 || i >= text.length) return false;
  const before = text.charCodeAt(i - 1);
  return before >= 0xd800 && before <= 0xdbff;
}

/** The last `chars` characters of `text`, never starting inside a surrogate pair. */
export function keepTail(text: string, chars: number): string {
  if (text.length <= chars) return text;
  let start = text.length - Math.max(0, Math.floor(chars));
  if (splitsPair(text, start)) start++;
  return text.slice(start);
}

/** The first `chars` characters of `text`, ending at a line end when there is one (`atLine`), never inside a pair. */
export function keepHead(text: string, chars: number, atLine = true): string {
  if (text.length <= chars) return text;
  const limit = Math.max(0, Math.floor(chars));
  const lineEnd = atLine && limit > 0 ? text.lastIndexOf('\n', limit - 1) : -1;
  let end = lineEnd >= 0 ? lineEnd + 1 : limit;
  if (splitsPair(text, end)) end--;
  return text.slice(0, end);
}

export interface Fitted<T> {
  text: string;
  value: T;
  tokens: number;
}

/**
 * Cuts `text` until `render(text)` takes at most `budget` tokens: first to `budget × maxTokenChars`
 * characters (cheap, before any tokenizing), then proportionally to the measured overshoot. Returns the
 * last render even when nothing fits (an empty text and still too many tokens): the caller decides.
 */
export function fitText<T extends { length: number }>(text: string, budget: number, maxTokenChars: number, render: (text: string) => T, cut: (text: string, chars: number) => string = keepHead): Fitted<T> {
  let kept = cut(text, Math.max(0, budget) * maxTokenChars);
  let value = render(kept);
  for (let round = 0; value.length > budget && kept.length > 0; round++) {
    const target = round < 12 ? Math.floor(kept.length * (budget / value.length) * 0.95) : 0;
    let next = cut(kept, Math.max(0, target));
    // A cut at a line end may not shrink a single long line; then cut by characters.
    if (next.length >= kept.length) next = cut === keepTail ? keepTail(kept, target) : keepHead(kept, target, false);
    kept = next;
    value = render(kept);
  }
  return { text: kept, value, tokens: value.length };
}

/** One chat turn to fit: `text` is the part that may be cut (the content, or the code of an Explain). */
export interface TurnSource {
  role: 'system' | 'user' | 'assistant';
  text: string;
  /** The turn's tokens with `text` (cut or whole) in its template. */
  render(text: string): number[];
}

export interface FittedTurns {
  /** The kept turns' tokens, in conversation order. */
  turns: number[][];
  trim: InputTrim | undefined;
}

/**
 * Fits a conversation into `budget` tokens: the system prompt (at most half the budget), the newest
 * turn (cut at its end if it must be: a question comes before the code it is about), then older turns
 * newest first, each whole or not at all, stopping at the first that does not fit so the kept
 * conversation has no gaps. A turn is measured by characters first and tokenized only if it could fit.
 */
export function fitTurns(sources: readonly TurnSource[], budget: number, maxTokenChars: number): FittedTurns {
  const trim = { droppedTurns: 0, droppedChars: 0 };
  const system = sources.length > 1 && sources[0]!.role === 'system' ? sources[0]! : null;
  const newest = sources[sources.length - 1]!;
  let left = budget;
  const fitOne = (source: TurnSource, room: number): number[] => {
    const fitted = fitText(source.text, room, maxTokenChars, source.render);
    trim.droppedChars += source.text.length - fitted.text.length;
    left -= fitted.tokens;
    return fitted.value;
  };
  const head = system ? fitOne(system, Math.floor(budget / 2)) : null;
  const last = fitOne(newest, left);
  const older: number[][] = [];
  const first = system ? 1 : 0;
  let i = sources.length - 2;
  for (; i >= first; i--) {
    const source = sources[i]!;
    if (source.text.length > left * maxTokenChars) break;
    const tokens = source.render(source.text);
    if (tokens.length > left) break;
    older.unshift(tokens);
    left -= tokens.length;
  }
  for (; i >= first; i--) {
    trim.droppedTurns++;
    trim.droppedChars += sources[i]!.text.length;
  }
  const turns = [...(head ? [head] : []), ...older, last];
  return { turns, trim: trim.droppedChars > 0 || trim.droppedTurns > 0 ? trim : undefined };
}

/** Joins token lists without spreading them into arguments (a spread of 100k+ ids overflows the stack). */
export function concatTokens(parts: readonly (readonly number[])[]): number[] {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Array<number>(length);
  let at = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) out[at++] = p[i]!;
  return out;
}

/** Adds two trims (either may be absent). */
export function addTrim(a: InputTrim | undefined, b: InputTrim | undefined): InputTrim | undefined {
  if (!a) return b;
  if (!b) return a;
  return { droppedTurns: a.droppedTurns + b.droppedTurns, droppedChars: a.droppedChars + b.droppedChars, codeCharsRead: b.codeCharsRead ?? a.codeCharsRead };
}
