/**
 * A syntax check of an inline suggestion at its insertion point, with tree-sitter (web-tree-sitter and the
 * grammars VS Code itself ships). The text around the cursor is parsed twice, without and with the
 * suggestion; a suggestion that adds syntax errors (unbalanced brackets, a 5-space line in a 4-space
 * block, a block header with no body) is cut back, line by line, to the longest part that adds none, or
 * dropped. Files are often mid-edit and already contain errors, so the measure is "no worse than before",
 * not "error-free".
 *
 * Cost: both parses cover a window of the file around the cursor (whole top-level statements), and cut
 * candidates re-parse incrementally from the full suggestion's tree. A time budget bounds the search for a
 * cut: a suggestion known to break the file whose valid part is not found in time is dropped, not shown.
 */
import { Language, Parser, type Tree } from '@vscode/tree-sitter-wasm';
import { newErrors, syntaxErrors } from './syntaxErrors';
import { join } from 'node:path';

export type Grammar = 'python' | 'typescript' | 'tsx' | 'javascript' | 'go';

const GRAMMARS: Record<string, Grammar> = {
  python: 'python',
  typescript: 'typescript',
  typescriptreact: 'tsx',
  javascript: 'javascript',
  javascriptreact: 'javascript',
  go: 'go',
};

/** The grammar for a VS Code language id, or null when the language is not checked. */
export function grammarFor(languageId: string): Grammar | null {
  return GRAMMARS[languageId] ?? null;
}

export interface SyntaxInput {
  languageId: string;
  /** Document text before and after the cursor. */
  prefix: string;
  suffix: string;
  /** The trimmed suggestion to insert at the cursor. */
  suggestion: string;
}

export type SyntaxOutcome = 'kept' | 'cut' | 'dropped' | 'unchecked';

export interface SyntaxVerdict {
  /** The suggestion to show ('' when dropped). */
  text: string;
  outcome: SyntaxOutcome;
  ms: number;
}

export interface SyntaxOptions {
  /** Lines of context either side of the cursor the parses cover, at least (widened to whole statements). */
  windowLines: number;
  /** Time after which no more cut points are tried. */
  budgetMs: number;
}

const DEFAULTS: SyntaxOptions = { windowLines: 120, budgetMs: 25 };
/** How far back the window may widen to start at a top-level line (Python blocks cut mid-way do not parse). */
const MAX_WIDEN_LINES = 400;

export class SyntaxChecker {
  private static initialised: Promise<void> | null = null;
  private readonly parsers = new Map<Grammar, Promise<Parser>>();

  /** `wasmDir`: the folder with tree-sitter.wasm and the tree-sitter-<grammar>.wasm files. */
  constructor(
    private readonly wasmDir: string,
    private readonly options: SyntaxOptions = DEFAULTS,
  ) {}

  /** Loads the parser for a language ahead of the first suggestion (it takes tens of milliseconds). */
  async warm(languageId: string): Promise<void> {
    const grammar = grammarFor(languageId);
    if (grammar) await this.parser(grammar);
  }

  async check(input: SyntaxInput): Promise<SyntaxVerdict> {
    const started = performance.now();
    const grammar = grammarFor(input.languageId);
    if (!grammar || input.suggestion.trim() === '') return { text: input.suggestion, outcome: 'unchecked', ms: 0 };
    const parser = await this.parser(grammar);
    // Loading a grammar (once per language, warm() does it ahead) does not count against the budget.
    const verdict = fitSuggestion(parser, grammar, input, this.options, performance.now());
    return { ...verdict, ms: performance.now() - started };
  }

  private parser(grammar: Grammar): Promise<Parser> {
    let parser = this.parsers.get(grammar);
    if (!parser) {
      parser = this.load(grammar);
      this.parsers.set(grammar, parser);
      parser.catch(() => this.parsers.delete(grammar));
    }
    return parser;
  }

  private async load(grammar: Grammar): Promise<Parser> {
    SyntaxChecker.initialised ??= Parser.init({ locateFile: (file: string) => join(this.wasmDir, file) });
    await SyntaxChecker.initialised;
    const language = await Language.load(join(this.wasmDir, `tree-sitter-${grammar}.wasm`));
    const parser = new Parser();
    parser.setLanguage(language);
    // A few parses compile the hot paths (wasm tiers and the node wrappers), which would otherwise take
    // the first real check tens of milliseconds, past its budget.
    for (let i = 0; i < 3; i++) parser.parse(`f(x${i}, [1, 2])\n`)?.delete();
    return parser;
  }
}

function fitSuggestion(parser: Parser, grammar: Grammar, input: SyntaxInput, options: SyntaxOptions, started: number): Omit<SyntaxVerdict, 'ms'> {
  const python = grammar === 'python';
  const { before, after } = contextWindow(input.prefix, input.suffix, options.windowLines);
  const cursor = byteLength(before);
  const baseTree = parser.parse(before + after);
  if (!baseTree) return { text: input.suggestion, outcome: 'unchecked' };
  const baseline = syntaxErrors(baseTree, python, cursor, 0);
  baseTree.delete();
  const full = parser.parse(before + input.suggestion + after);
  if (!full) return { text: input.suggestion, outcome: 'unchecked' };
  const oneLine = !input.suggestion.includes('\n');
  const fits = (tree: Tree, text: string) => newErrors(baseline, syntaxErrors(tree, python, cursor, byteLength(text), oneLine), cursor, byteLength(text)).length === 0;
  try {
    if (fits(full, input.suggestion)) return { text: input.suggestion, outcome: 'kept' };
    for (const cut of cutPoints(input.suggestion)) {
      if (performance.now() - started > options.budgetMs) break;
      const shorter = input.suggestion.slice(0, cut);
      const tree = reparse(parser, full, { before, after }, input.suggestion, shorter);
      const ok = fits(tree, shorter);
      tree.delete();
      if (ok) return { text: shorter, outcome: 'cut' };
    }
    return { text: '', outcome: 'dropped' };
  } finally {
    full.delete();
  }
}

/** Ends of the suggestion's lines, longest first, without trailing newlines (the empty cut is not one). */
function cutPoints(suggestion: string): number[] {
  const cuts: number[] = [];
  for (let i = suggestion.lastIndexOf('\n'); i > 0; i = suggestion.lastIndexOf('\n', i - 1)) {
    const end = suggestion.slice(0, i).trimEnd().length;
    if (end > 0 && cuts[cuts.length - 1] !== end) cuts.push(end);
  }
  return cuts;
}

/** The tree of the text with `shorter` in place of `suggestion`, parsed incrementally from `full`'s tree. */
function reparse(parser: Parser, full: Tree, around: { before: string; after: string }, suggestion: string, shorter: string): Tree {
  const { before, after } = around;
  const tree = full.copy();
  const start = byteLength(before) + byteLength(shorter);
  const startPosition = pointAfter(before + shorter);
  tree.edit({ startIndex: start, oldEndIndex: byteLength(before) + byteLength(suggestion), newEndIndex: start, startPosition, oldEndPosition: pointAfter(before + suggestion), newEndPosition: startPosition });
  const next = parser.parse(before + shorter + after, tree);
  tree.delete();
  if (!next) throw new Error('tree-sitter gave no tree');
  return next;
}

/**
 * The text either side of the cursor the parses cover: about `lines` lines each way, the start moved back
 * to a line at the left margin (a Python block cut in half does not parse, with or without the suggestion).
 */
export function contextWindow(prefix: string, suffix: string, lines: number): { before: string; after: string } {
  const beforeLines = prefix.split('\n');
  let start = Math.max(0, beforeLines.length - lines);
  const floor = Math.max(0, start - MAX_WIDEN_LINES);
  while (start > floor && !/^\S/.test(beforeLines[start] ?? '')) start--;
  const afterLines = suffix.split('\n');
  return { before: beforeLines.slice(start).join('\n'), after: afterLines.slice(0, lines).join('\n') };
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The tree-sitter point (row, byte column) just after `text`. */
function pointAfter(text: string): { row: number; column: number } {
  const lastNewline = text.lastIndexOf('\n');
  let row = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) row++;
  return { row, column: byteLength(text.slice(lastNewline + 1)) };
}
