/**
 * What an inline completion request sends, taken from a document and a cursor: the text before and
 * after the cursor, cut at line boundaries in blocks so consecutive requests while someone types share
 * their start (the engine's prefix cache depends on it), plus what trimming needs.
 */
import { keepFirstLines, keepLastLines } from '../templates';
import type { TrimContext } from './trim';

export interface InlineLimits {
  /** Characters of text before the cursor sent at most (the engine cuts further to its token budget). */
  prefixChars: number;
  suffixChars: number;
  /** Documents larger than this get no completions (a generated bundle, a log). */
  maxDocumentChars: number;
  maxLines: number;
}

export const DEFAULT_LIMITS: InlineLimits = { prefixChars: 6000, suffixChars: 2000, maxDocumentChars: 2_000_000, maxLines: 8 };

export interface CompletionContext {
  prefix: string;
  suffix: string;
  trim: TrimContext;
}

export type SkipReason = 'too-large' | 'binary' | null;

export function skipReason(text: string, limits: InlineLimits = DEFAULT_LIMITS): SkipReason {
  if (text.length > limits.maxDocumentChars) return 'too-large';
  if (text.slice(0, 8192).includes('\u0000')) return 'binary';
  return null;
}

export function completionContext(text: string, offset: number, limits: InlineLimits = DEFAULT_LIMITS): CompletionContext {
  const before = text.slice(0, offset);
  const after = text.slice(offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = after.indexOf('\n');
  const lineSuffix = lineEnd === -1 ? after : after.slice(0, lineEnd);
  const followingLines = lineEnd === -1 ? [] : after.slice(lineEnd + 1).split('\n', 40);
  return {
    prefix: keepLastLines(before, limits.prefixChars),
    suffix: keepFirstLines(after, limits.suffixChars),
    trim: { linePrefix: before.slice(lineStart), lineSuffix, followingLines, maxLines: limits.maxLines },
  };
}
