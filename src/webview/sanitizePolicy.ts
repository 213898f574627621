/**
 * What model output may contain once rendered. Model text is untrusted: a prompt can make a model
 * write any HTML. The CSP already refuses inline scripts and handlers; this policy is the second wall,
 * so that nothing active even reaches the DOM. Pure data (no DOM) so it is unit-tested in Node;
 * `dom/markdown.ts` hands it to DOMPurify.
 */

/** Links may go to the web, to mail, or to an anchor. No javascript:, data:, vbscript:, file:, command: or relative URLs. */
export const SAFE_URL = /^(?:(?:https?|mailto):|#)/i;

/** Characters DOMPurify ignores when it tests a URL (so `java\tscript:` is judged as `javascript:`). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what browsers skip in a URL scheme
const URL_NOISE = /[\u0000-\u0020\u00A0\u1680\u180E\u2000-\u2029\u205F\u3000]/g;

export function isSafeUrl(value: string): boolean {
  return SAFE_URL.test(value.replace(URL_NOISE, ''));
}

/** Elements that run code, load resources, take input or restyle the panel. */
export const FORBIDDEN_TAGS = [
  'script', 'style', 'link', 'meta', 'base', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet',
  'form', 'input', 'button', 'textarea', 'select', 'option', 'img', 'picture', 'source', 'video', 'audio',
  'track', 'svg', 'math', 'template', 'portal', 'dialog',
] as const;

/**
 * Attributes that style, clobber globals (id/name), navigate, or hide text (`hidden`: what the panel
 * shows must be all there is); `on*` handlers DOMPurify drops on its own.
 */
export const FORBIDDEN_ATTRIBUTES = ['style', 'id', 'name', 'target', 'action', 'formaction', 'srcset', 'srcdoc', 'ping', 'background', 'hidden'] as const;

/**
 * Attributes whose values are plain words or numbers, never URLs. DOMPurify tests every attribute it
 * does not know to be URI-safe against ALLOWED_URI_REGEXP, and ours admits only http(s), mailto and
 * fragments, so without this list `<ol start="3">` lost its start (a "3." list rendered as "1."),
 * and table cells their `align` and `colspan`.
 */
export const PLAIN_ATTRIBUTES = ['start', 'reversed', 'type', 'align', 'valign', 'colspan', 'rowspan', 'span', 'scope', 'headers', 'abbr', 'lang', 'dir'] as const;

/** Elements that fold text away; inside a code block they are unwrapped, so all of the code shows. */
export const UNWRAPPED_IN_CODE = ['details', 'summary', 'rp'] as const;

/** DOMPurify's configuration (its option names), without importing DOMPurify here. */
export const SANITIZE_POLICY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: [...FORBIDDEN_TAGS],
  FORBID_ATTR: [...FORBIDDEN_ATTRIBUTES],
  // Our own code-block buttons are told apart by data we keep in the script, never by attributes,
  // but refusing data-* keeps model output from imitating anything keyed on them in future.
  ALLOW_DATA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  ALLOWED_URI_REGEXP: SAFE_URL,
  ADD_URI_SAFE_ATTR: [...PLAIN_ATTRIBUTES],
  SANITIZE_NAMED_PROPS: true,
};
