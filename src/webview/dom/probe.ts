/**
 * A self-inspection of the webview's DOM, for the security test: it looks for anything active that
 * model output could have smuggled in (foreign scripts, handlers, unsafe URLs, forbidden elements),
 * whether a payload managed to run, and what the transcript shows, so the test can also confirm that
 * the harmless parts did render.
 */
import type { ProbeReport } from '../messages';
import { FORBIDDEN_TAGS, isSafeUrl } from '../sanitizePolicy';

const URL_ATTRIBUTES = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'poster'];

/** Set by test payloads if they ever run. */
declare global {
  interface Window {
    __chimeraPwned?: unknown;
  }
}

export function probe(transcript: HTMLElement, pageNonce: string): ProbeReport {
  const all = [...document.querySelectorAll('*')];
  return {
    foreignScripts: [...document.scripts].filter((s) => !isHostScript(s) && (s.nonce !== pageNonce || pageNonce === '')).length,
    handlerAttributes: all.filter((e) => [...e.attributes].some((a) => a.name.toLowerCase().startsWith('on'))).length,
    unsafeUrls: all.filter((e) => URL_ATTRIBUTES.some((name) => e.hasAttribute(name) && !isSafeUrl(e.getAttribute(name) ?? ''))).length,
    forbiddenElements: transcript.querySelectorAll(FORBIDDEN_TAGS.filter((t) => t !== 'button').join(',')).length + foreignButtons(transcript),
    payloadRan: window.__chimeraPwned !== undefined,
    codeBlocks: transcript.querySelectorAll('.code-block').length,
    highlightedBlocks: [...transcript.querySelectorAll('pre code.hljs')].filter((c) => c.querySelector('span[class^="hljs-"]')).length,
    messages: [...transcript.querySelectorAll<HTMLElement>('.message')].map((m) => ({
      role: m.dataset.role ?? '',
      text: m.querySelector('.message-body')?.textContent ?? '',
    })),
  };
}

/**
 * VS Code's webview host puts its own script (the one defining acquireVsCodeApi) at the top of
 * <head>, before our CSP meta tag. Model output is rendered into <body>, so it can never be this one.
 */
function isHostScript(script: HTMLScriptElement): boolean {
  return script.id === '_vscodeApiScript' && script.parentElement === document.head && !script.src;
}

/** Buttons are ours only in code-block toolbars and message footers; one inside rendered text came from the model. */
function foreignButtons(transcript: HTMLElement): number {
  return [...transcript.querySelectorAll('.message-body button')].filter((b) => !b.closest('.code-actions')).length;
}
