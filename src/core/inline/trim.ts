/**
 * Shapes a raw fill-in-the-middle output into a suggestion worth showing:
 * - with text after the cursor on its line, the suggestion stays on that line;
 * - a multi-line suggestion ends where its block ends: a line indented less than where it started,
 *   a bracket that closes one opened before the cursor, or a blank-line gap;
 * - it stops before a statement line that repeats the line above it: small models fall into loops
 *   (`x = f(y)` over and over), and a loop is never what the user meant;
 * - it never repeats the text after the cursor (the suffix): overlap at its end is cut, and it stops
 *   before a line that already follows the cursor.
 */

export interface TrimContext {
  /** Text of the cursor's line before the cursor. */
  linePrefix: string;
  /** Text of the cursor's line after the cursor. */
  lineSuffix: string;
  /** Lines after the cursor's line (up to a few dozen are enough). */
  followingLines: readonly string[];
  /** Most lines a suggestion may have. */
  maxLines: number;
}

const OPENERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSERS = new Set([')', ']', '}']);

function indentOf(line: string): number {
  const match = /^[ \t]*/.exec(line)!;
  return match[0].replace(/\t/g, '    ').length;
}

/** Text after the cursor that is only closing brackets, quotes and separators: typing "through" it is normal. */
function isClosingOnly(text: string): boolean {
  return /^[\s)\]}"'`;:,]*$/.test(text);
}

export function trimCompletion(raw: string, ctx: TrimContext): string {
  const text = raw.replace(/\r\n/g, '\n');
  const singleLine = !isClosingOnly(ctx.lineSuffix);
  return finish(singleLine ? text.split('\n')[0]! : cutAtBlockEnd(text, ctx), ctx);
}

/** The last touches on text already cut to its line or block: suffix overlap, trailing space. */
function finish(cut: string, ctx: TrimContext): string {
  return cutSuffixOverlap(cut, ctx).replace(/[ \t]+$/gm, '').replace(/\n+$/, '');
}

/**
 * The suggestion `raw` will trim to however the model goes on, or null while more text could still
 * change it. Lines that end in a newline are final; once trimming stops at one of them, every later
 * token would be cut away, so the caller can stop generating and show the suggestion at once.
 */
export function settledSuggestion(raw: string, ctx: TrimContext): string | null {
  const text = raw.replace(/\r\n/g, '\n');
  const lastNewline = text.lastIndexOf('\n');
  if (lastNewline < 0) return null;
  if (!isClosingOnly(ctx.lineSuffix)) return trimCompletion(text, ctx); // single-line: its line is done
  const complete = text.slice(0, lastNewline);
  const cut = cutAtBlockEnd(complete, ctx);
  return cut.split('\n').length < complete.split('\n').length ? finish(cut, ctx) : null;
}

/**
 * Reads a streamed completion until its suggestion is settled (then calls `stop`, so the engine
 * spends no time on text that would be cut) or the stream ends, and returns the suggestion.
 */
export async function collectSuggestion(stream: AsyncIterable<string>, ctx: TrimContext, stop: () => void): Promise<string> {
  let raw = '';
  for await (const delta of stream) {
    raw += delta;
    const settled = settledSuggestion(raw, ctx);
    if (settled !== null) {
      stop();
      return settled;
    }
  }
  return trimCompletion(raw, ctx);
}

function cutAtBlockEnd(text: string, ctx: TrimContext): string {
  const lines = text.split('\n');
  const startIndent = indentOf(ctx.linePrefix);
  const firstLine = ctx.linePrefix + lines[0]!;
  // A suggestion that opens a block (`def f():`, `if (x) {`) is that block; one that does not may add
  // sibling statements at the same indentation.
  const opensBlock = /[:{([]\s*$/.test(firstLine.replace(/\s*(#|\/\/).*$/, ''));
  const kept: string[] = [lines[0]!];
  let depth = bracketDepth(lines[0]!);
  let bodySeen = false;
  let blank = 0;
  for (let i = 1; i < lines.length && kept.length < ctx.maxLines; i++) {
    const line = lines[i]!;
    if (line.trim() === '') {
      if (++blank >= 2) break;
      kept.push(line);
      continue;
    }
    blank = 0;
    if (repeatsPrevious(line, kept)) break;
    const indent = indentOf(line);
    const next = depth + bracketDepth(line);
    if (indent > startIndent) {
      bodySeen = true;
    } else {
      if (depth > 0 && next < depth && CLOSERS.has(line.trim()[0]!)) {
        kept.push(line); // the closing bracket of a block the suggestion opened: include it, then stop
        break;
      }
      if (indent < startIndent || (opensBlock && bodySeen)) break;
    }
    if (next < 0) break; // closes a bracket opened before the cursor: the code after it exists already
    depth = next;
    kept.push(line);
  }
  return kept.join('\n');
}

/** A statement (not a lone closer like `});`) equal to the last non-blank line kept. */
function repeatsPrevious(line: string, kept: readonly string[]): boolean {
  const statement = line.trim();
  if (statement.length < 4 || !/\w/.test(statement)) return false;
  const previous = [...kept].reverse().find((l) => l.trim() !== '');
  return previous !== undefined && previous.trim() === statement;
}

function bracketDepth(line: string): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (ch === '#' || (ch === '/' && line[i + 1] === '/')) break;
    else if (OPENERS[ch]) depth++;
    else if (CLOSERS.has(ch)) depth--;
  }
  return depth;
}

/** Removes text the document already has after the cursor. */
function cutSuffixOverlap(text: string, ctx: TrimContext): string {
  const suffix = ctx.lineSuffix;
  // The suggestion ends with (part of) what follows the cursor: "foo(x)" typed before ")" → "foo(x".
  if (suffix.length > 0) {
    for (let k = Math.min(suffix.length, text.length); k > 0; k--) {
      if (text.endsWith(suffix.slice(0, k)) && (k >= 2 || isClosingOnly(suffix.slice(0, k)))) {
        text = text.slice(0, text.length - k);
        break;
      }
    }
  }
  // A line of the suggestion that is the next non-blank line of the file: stop before it.
  const nextLine = ctx.followingLines.find((l) => l.trim() !== '');
  if (nextLine !== undefined && nextLine.trim().length >= 2) {
    const lines = text.split('\n');
    const repeat = lines.findIndex((l, i) => i > 0 && l.trim() === nextLine.trim());
    if (repeat > 0) text = lines.slice(0, repeat).join('\n');
  }
  return text;
}
