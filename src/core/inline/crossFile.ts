/**
 * Context from other files for inline completion: the definitions of symbols the current file imports,
 * the code around recent edits in other files, and the windows of open files most like the code above the
 * cursor. The engine puts the snippets before the current file, each under the model's file header, within
 * a share of the prompt budget (templates.ts).
 *
 * Prefix reuse while typing: the snippets come first in the prompt, so they must not change with every
 * keystroke. Nothing here looks at the cursor's own line: the similarity query is the lines above it, and
 * imports and other files change only when the user works elsewhere. The same inputs give the same
 * snippets in the same order.
 */

export interface ContextSnippet {
  /** Workspace-relative path, shown to the model as the snippet's file header. */
  path: string;
  text: string;
}

export interface ImportRef {
  /** The module as written: './util', 'pkg.sub', '.sibling'. */
  module: string;
  /** Names imported from it (empty for `import x` / `import * as x`: then nothing is looked up). */
  names: string[];
}

export interface OtherFile {
  path: string;
  text: string;
}

export interface ContextSources {
  /** The current file's text above the cursor's line (the line itself is left out: it changes as the user types). */
  above: string;
  /** Definitions found for imported names, in import order. */
  definitions: ContextSnippet[];
  /** Other files edited lately, most recent first, with the line of the last edit. */
  recentEdits: (OtherFile & { line: number })[];
  /** Other open files, most recently used first. */
  openFiles: OtherFile[];
}

export interface ContextBudget {
  /** Most characters of context in all. */
  totalChars: number;
  /** Most characters one snippet may have. */
  snippetChars: number;
}

export const DEFAULT_CONTEXT_BUDGET: ContextBudget = { totalChars: 2400, snippetChars: 800 };

const WINDOW_LINES = 12;
const QUERY_LINES = 12;
const EDIT_RADIUS = 5;
const MIN_SIMILARITY = 0.15;
const MAX_DEFINITION_LINES = 12;

/** The snippets to send, most relevant first: imported definitions, recent edits, similar open code. */
export function gatherContext(sources: ContextSources, budget: ContextBudget = DEFAULT_CONTEXT_BUDGET): ContextSnippet[] {
  const query = identifiers(lastLines(sources.above, QUERY_LINES));
  const candidates: ContextSnippet[] = [
    ...sources.definitions,
    ...sources.recentEdits.map((f) => ({ path: f.path, text: linesAround(f.text, f.line, EDIT_RADIUS) })),
    ...similarWindows(sources.openFiles, query),
  ];
  const chosen: ContextSnippet[] = [];
  const seen = new Set<string>();
  let used = 0;
  for (const c of candidates) {
    const text = c.text.length > budget.snippetChars ? cutAtLine(c.text, budget.snippetChars) : c.text;
    const key = `${c.path}\n${text}`;
    if (text.trim() === '' || seen.has(key) || used + text.length > budget.totalChars) continue;
    seen.add(key);
    chosen.push({ path: c.path, text });
    used += text.length;
  }
  return chosen;
}

/** What a Python, TypeScript/JavaScript or Go file imports by name. */
export function importsOf(text: string, languageId: string): ImportRef[] {
  const refs: ImportRef[] = [];
  if (languageId === 'python') {
    for (const m of text.matchAll(/^from\s+([.\w]+)\s+import\s+\(?([^)\n]+)\)?/gm)) refs.push({ module: m[1]!, names: namesIn(m[2]!) });
  } else if (/^(typescript|javascript)(react)?$/.test(languageId)) {
    for (const m of text.matchAll(/^import\s+(?:type\s+)?(?:\w+\s*,\s*)?\{([^}]*)\}\s*from\s*['"]([^'"]+)['"]/gm)) refs.push({ module: m[2]!, names: namesIn(m[1]!) });
  } else if (languageId === 'go') {
    // Go imports packages, not names: the qualified names used in the file are the ones looked up.
    for (const m of text.matchAll(/^\s*(?:import\s+)?"(\.{1,2}\/[^"]+)"/gm)) {
      const pkg = m[1]!.split('/').pop()!;
      const used = new Set([...text.matchAll(new RegExp(`\\b${escape(pkg)}\\.([A-Z]\\w*)`, 'g'))].map((u) => u[1]!));
      refs.push({ module: m[1]!, names: [...used].sort() });
    }
  }
  return refs.filter((r) => r.names.length > 0);
}

/**
 * Workspace-relative paths an import may name, in the order to try: relative to the importing file for
 * './x' and '.x', from the workspace root for Python's absolute 'pkg.mod'. Bare npm/Go module names give none.
 */
export function candidatePaths(module: string, fromPath: string, languageId: string): string[] {
  const dir = fromPath.includes('/') ? fromPath.slice(0, fromPath.lastIndexOf('/')) : '';
  if (languageId === 'python') {
    const dots = /^\.*/.exec(module)![0].length;
    const rest = module.slice(dots).replace(/\./g, '/');
    let base = dots === 0 ? '' : dir;
    for (let i = 1; i < dots; i++) base = base.includes('/') ? base.slice(0, base.lastIndexOf('/')) : '';
    const stem = joinPath(base, rest);
    return stem ? [`${stem}.py`, `${stem}/__init__.py`] : [];
  }
  if (!module.startsWith('.')) return [];
  const stem = joinPath(dir, module);
  if (languageId === 'go') return [stem];
  const bare = stem.replace(/\.(js|jsx|mjs)$/, '');
  return ['.ts', '.tsx', '.js', '.jsx', '.mjs', '/index.ts', '/index.js'].map((ext) => bare + ext);
}

/** The definition of `name` in a file's text, as its first lines (signature and the start of its body). */
export function definitionOf(text: string, name: string, languageId: string): string | null {
  const n = escape(name);
  const pattern =
    languageId === 'python' ? new RegExp(`^(?:async\\s+)?(?:def|class)\\s+${n}\\b|^${n}\\s*(?::[^=\\n]*)?=`, 'm')
    : languageId === 'go' ? new RegExp(`^(?:func\\s+(?:\\([^)]*\\)\\s*)?|type\\s+|var\\s+|const\\s+)${n}\\b`, 'm')
    : new RegExp(`^(?:export\\s+)?(?:default\\s+)?(?:declare\\s+)?(?:async\\s+)?(?:function\\*?|class|interface|type|enum|const|let|var)\\s+${n}\\b`, 'm');
  const match = pattern.exec(text);
  if (!match) return null;
  const lines = text.slice(match.index).split('\n');
  const end = languageId === 'python' ? pythonBlockEnd(lines) : braceBlockEnd(lines);
  return lines.slice(0, Math.min(end, MAX_DEFINITION_LINES)).join('\n');
}

/** Lines of a Python definition: the first, and those after it indented deeper (or blank). */
function pythonBlockEnd(lines: readonly string[]): number {
  let end = 1;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    if (!/^\s/.test(lines[i]!)) break;
    end = i + 1;
  }
  return end;
}

/** Lines until the braces opened by the definition close again (one line when it opens none). */
function braceBlockEnd(lines: readonly string[]): number {
  let depth = 0;
  let opened = false;
  for (let i = 0; i < lines.length; i++) {
    for (const ch of lines[i]!) {
      if (ch === '{' || ch === '(') { depth++; opened = true; }
      else if (ch === '}' || ch === ')') depth--;
    }
    if ((opened && depth <= 0) || (!opened && /[;]\s*$/.test(lines[i]!))) return i + 1;
  }
  return lines.length;
}

/** The best window of each open file by identifier overlap with the query, best first, above a floor. */
function similarWindows(files: readonly OtherFile[], query: ReadonlySet<string>): ContextSnippet[] {
  if (query.size === 0) return [];
  const scored: { score: number; order: number; snippet: ContextSnippet }[] = [];
  files.forEach((file, order) => {
    const lines = file.text.split('\n');
    let best = { score: 0, start: 0 };
    for (let start = 0; start < lines.length; start += WINDOW_LINES / 2) {
      const score = jaccard(query, identifiers(lines.slice(start, start + WINDOW_LINES).join('\n')));
      if (score > best.score) best = { score, start };
    }
    if (best.score >= MIN_SIMILARITY) scored.push({ score: best.score, order, snippet: { path: file.path, text: lines.slice(best.start, best.start + WINDOW_LINES).join('\n') } });
  });
  return scored.sort((a, b) => b.score - a.score || a.order - b.order).map((s) => s.snippet);
}

export function identifiers(text: string): Set<string> {
  return new Set(text.match(/[A-Za-z_][A-Za-z0-9_]{2,}/g) ?? []);
}

function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let shared = 0;
  for (const x of b) if (a.has(x)) shared++;
  const union = a.size + b.size - shared;
  return union === 0 ? 0 : shared / union;
}

function namesIn(list: string): string[] {
  return list
    .split(',')
    .map((part) => part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!.trim())
    .filter((name) => /^[A-Za-z_$][\w$]*$/.test(name));
}

function lastLines(text: string, count: number): string {
  const lines = text.split('\n');
  return lines.slice(Math.max(0, lines.length - count)).join('\n');
}

function linesAround(text: string, line: number, radius: number): string {
  const lines = text.split('\n');
  return lines.slice(Math.max(0, line - radius), line + radius + 1).join('\n');
}

function cutAtLine(text: string, chars: number): string {
  const cut = text.slice(0, chars);
  const newline = cut.lastIndexOf('\n');
  return newline > 0 ? cut.slice(0, newline) : cut;
}

function joinPath(dir: string, rel: string): string {
  const parts = dir ? dir.split('/') : [];
  for (const part of rel.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.' && part !== '') parts.push(part);
  }
  return parts.join('/');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
