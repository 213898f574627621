/**
 * What counts as a syntax error in a tree-sitter tree, and which errors a suggestion brought in.
 *
 * tree-sitter's recovery marks what it could not parse with ERROR and MISSING nodes. tree-sitter-python
 * is more lenient than Python: it reads a dedent to a column no enclosing block has as the end of the
 * block (the 5-space docstring followed by a 4-space line parses as a function plus a module-level
 * statement, where Python raises IndentationError), and it accepts a block with no statement. Both are
 * added as errors here.
 */
import type { Node, Tree } from '@vscode/tree-sitter-wasm';

export interface SyntaxError {
  kind: string;
  /** Byte offsets in the parsed text. */
  start: number;
  end: number;
}

/** Bytes after the insertion whose statements are checked too (a suggestion can break the next line's indentation). */
const AFTER_INSERTION = 256;

/**
 * `cursor` and `inserted` (bytes) say where the suggestion is (`openEnd`: see collectPythonBlocks); Python's block checks look only at the
 * statements around it (walking every node of a large file through wasm costs milliseconds), and the
 * baseline and the candidate are checked over the same place, so what lies elsewhere cancels out.
 */
export function syntaxErrors(tree: Tree, python: boolean, cursor: number, inserted: number, openEnd = false): SyntaxError[] {
  const errors: SyntaxError[] = [];
  collectRecovery(tree.rootNode, errors);
  if (python) collectPythonBlocks(tree.rootNode, errors, { lo: cursor, end: openEnd ? cursor + inserted : Infinity, hi: cursor + inserted + AFTER_INSERTION });
  return errors;
}

/**
 * Errors of `candidate` (the text with the suggestion of `inserted` bytes at byte `cursor`) that the
 * text without it (`baseline`) did not have. An error inside the suggestion is always new; one before or
 * after it, or an empty one at the cursor, is new unless the baseline had the same kind at the same place.
 */
export function newErrors(baseline: readonly SyntaxError[], candidate: readonly SyntaxError[], cursor: number, inserted: number): SyntaxError[] {
  const known = new Set<string>();
  for (const e of baseline) {
    if (e.start <= cursor) known.add(`${e.kind}@${e.start}`);
    if (e.start >= cursor) known.add(`${e.kind}@${e.start + inserted}`);
  }
  // An error that starts in the suggestion, or at its first character and covers some of it, is its own
  // (the file's error at the cursor, e.g. an empty body, does not excuse an unterminated string there).
  const inside = (e: SyntaxError) => e.start < cursor + inserted && (e.start > cursor || (e.start === cursor && e.end > cursor));
  return candidate.filter((e) => inside(e) || !known.has(`${e.kind}@${e.start}`));
}

function collectRecovery(node: Node, errors: SyntaxError[]): void {
  if (node.isError || node.isMissing) errors.push({ kind: node.isMissing ? `missing ${node.type}` : 'error', start: node.startIndex, end: node.endIndex });
  if (!node.hasError) return;
  for (const child of node.children) if (child) collectRecovery(child, errors);
}

/**
 * Statements of a module or block at a column other than the block's, and blocks with no statement,
 * among the nodes that reach into `range`.
 */
function collectPythonBlocks(node: Node, errors: SyntaxError[], range: Around): void {
  const children = node.namedChildren.filter((c): c is Node => c !== null && c.type !== 'comment');
  if (node.type === 'module' || node.type === 'block') {
    let column = node.type === 'module' ? 0 : -1;
    for (const child of children) {
      if (!startsItsLine(child)) continue;
      if (column === -1) column = child.startPosition.column;
      else if (child.startPosition.column !== column && reaches(child, range)) errors.push({ kind: 'indentation', start: child.startIndex, end: child.endIndex });
    }
    // With `openEnd` (a one-line suggestion finishing the line being typed) the suggestion may end with a
    // block's header: its body is what the user writes next. A multi-line suggestion must be whole.
    if (node.type === 'block' && children.length === 0 && reaches(node, range) && node.startIndex < range.end) errors.push({ kind: 'empty block', start: node.startIndex, end: node.endIndex });
  }
  for (const child of children) if ((child.type === 'block' || holdsBlocks(child)) && reaches(child, range)) collectPythonBlocks(child, errors, range);
}

/** The suggestion's place: it starts at `lo` and ends at `end`; statements up to `hi` are checked. */
interface Around {
  lo: number;
  end: number;
  hi: number;
}

function reaches(node: Node, range: Around): boolean {
  return node.endIndex >= range.lo && node.startIndex <= range.hi;
}

function startsItsLine(node: Node): boolean {
  const previous = node.previousSibling;
  return !previous || previous.endPosition.row < node.startPosition.row;
}

/** Compound statements (def, class, if, with, try...) and their clauses hold blocks; expressions need not be searched. */
function holdsBlocks(node: Node): boolean {
  return node.type.endsWith('_statement') || node.type.endsWith('_definition') || node.type.endsWith('_clause') || node.type === 'decorated_definition';
}
