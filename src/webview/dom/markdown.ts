/**
 * Model markdown to safe DOM: marked parses it, highlight.js colours code blocks while marked renders,
 * and DOMPurify (with SANITIZE_POLICY) cleans the whole result before it becomes nodes. Only a core
 * set of languages is bundled, to keep the webview script small; others render as plain code.
 *
 * Copy, Insert and Apply take a code block's markdown source (`codeSource`), never the DOM's text: model
 * HTML inside a block could hold text the user does not see. Each rendered block carries a class with
 * a per-render random marker, which model HTML cannot guess, so only real code blocks get a source;
 * raw HTML `<pre>` gets none (and so no buttons).
 */
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { Marked } from 'marked';
import { SANITIZE_POLICY, UNWRAPPED_IN_CODE } from '../sanitizePolicy';

const LANGUAGES = { bash, c, cpp, csharp, css, diff, go, java, javascript, json, markdown, python, rust, shell, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);
// VS Code language ids that highlight.js knows under another name.
hljs.registerAliases(['typescriptreact', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['javascriptreact', 'jsx'], { languageName: 'javascript' });
hljs.registerAliases(['shellscript', 'zsh'], { languageName: 'bash' });
hljs.registerAliases(['jsonc'], { languageName: 'json' });

/** The markdown source of every code block rendered, by its <pre>: what the code buttons take. */
export const codeSource = new WeakMap<Element, string>();

/** The render under way: its marker and the sources of its code blocks, in order. */
let current: { marker: string; sources: string[] } | null = null;

const marked = new Marked({
  gfm: true,
  renderer: {
    code: ({ text, lang }) => codeBlockHtml(text, lang, current ? `${current.marker}-${current.sources.push(text) - 1}` : ''),
  },
});

function randomMarker(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `chimera-src-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A fence's first word names its language; only registered ones are highlighted (and named in the class). */
function codeBlockHtml(code: string, lang: string | undefined, marker: string): string {
  const wanted = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  const language = wanted && hljs.getLanguage(wanted) ? wanted : '';
  const pre = marker ? `<pre class="${marker}">` : '<pre>';
  if (!language) return `${pre}<code>${escapeHtml(code)}</code></pre>\n`;
  const html = hljs.highlight(code, { language, ignoreIllegals: true }).value;
  return `${pre}<code class="hljs language-${escapeHtml(language)}">${html}</code></pre>\n`;
}

/** Cleans rendered HTML, then ties each marked code block to its source and removes the marker. */
function sanitize(html: string, marker: string, sources: readonly string[]): DocumentFragment {
  const fragment = DOMPurify.sanitize(html, { ...SANITIZE_POLICY, RETURN_DOM_FRAGMENT: true });
  for (const pre of fragment.querySelectorAll('pre')) {
    const mark = [...pre.classList].find((c) => c.startsWith(`${marker}-`));
    if (mark === undefined) continue;
    pre.classList.remove(mark);
    if (pre.classList.length === 0) pre.removeAttribute('class');
    const source = sources[Number(mark.slice(marker.length + 1))];
    if (source !== undefined) codeSource.set(pre, source);
  }
  // Folding elements inside code would show less than the block holds; unwrapped, all of it shows.
  const folding = UNWRAPPED_IN_CODE.flatMap((tag) => [`pre ${tag}`, `code ${tag}`]).join(', ');
  for (const el of fragment.querySelectorAll(folding)) {
    while (el.firstChild) el.before(el.firstChild);
    el.remove();
  }
  return fragment;
}

/** Renders untrusted markdown; the result holds no script, handler, unsafe link, hidden text or foreign element. */
export function renderMarkdown(text: string): DocumentFragment {
  current = { marker: randomMarker(), sources: [] };
  try {
    const html = marked.parse(text, { async: false });
    return sanitize(html, current.marker, current.sources);
  } finally {
    current = null;
  }
}

/** Renders code as one highlighted block (for code the user attached), through the same sanitiser. */
export function renderCode(code: string, languageId: string): DocumentFragment {
  const marker = randomMarker();
  return sanitize(codeBlockHtml(code, languageId, `${marker}-0`), marker, [code]);
}
