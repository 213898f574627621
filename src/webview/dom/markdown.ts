/**
 * Model markdown to safe DOM: marked parses it, highlight.js colours code blocks while marked renders,
 * and DOMPurify (with SANITIZE_POLICY) cleans the whole result before it becomes nodes. Only a core
 * set of languages is bundled, to keep the webview script small; others render as plain code.
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
import { SANITIZE_POLICY } from '../sanitizePolicy';

const LANGUAGES = { bash, c, cpp, csharp, css, diff, go, java, javascript, json, markdown, python, rust, shell, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);
// VS Code language ids that highlight.js knows under another name.
hljs.registerAliases(['typescriptreact', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['javascriptreact', 'jsx'], { languageName: 'javascript' });
hljs.registerAliases(['shellscript', 'zsh'], { languageName: 'bash' });
hljs.registerAliases(['jsonc'], { languageName: 'json' });

const marked = new Marked({
  gfm: true,
  renderer: {
    code: ({ text, lang }) => codeBlockHtml(text, lang),
  },
});

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A fence's first word names its language; only registered ones are highlighted (and named in the class). */
function codeBlockHtml(code: string, lang: string | undefined): string {
  const wanted = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  const language = wanted && hljs.getLanguage(wanted) ? wanted : '';
  if (!language) return `<pre><code>${escapeHtml(code)}</code></pre>\n`;
  const html = hljs.highlight(code, { language, ignoreIllegals: true }).value;
  return `<pre><code class="hljs language-${escapeHtml(language)}">${html}</code></pre>\n`;
}

/** Renders untrusted markdown; the result holds no script, handler, unsafe link or foreign element. */
export function renderMarkdown(text: string): DocumentFragment {
  const html = marked.parse(text, { async: false });
  return DOMPurify.sanitize(html, { ...SANITIZE_POLICY, RETURN_DOM_FRAGMENT: true });
}

/** Renders code as one highlighted block (for code the user attached), through the same sanitiser. */
export function renderCode(code: string, languageId: string): DocumentFragment {
  return DOMPurify.sanitize(codeBlockHtml(code, languageId), { ...SANITIZE_POLICY, RETURN_DOM_FRAGMENT: true });
}
