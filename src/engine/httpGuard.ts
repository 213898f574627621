/**
 * Who may talk to `chimera serve`. Listening on 127.0.0.1 keeps other machines out, but not web pages:
 * any page the user opens can send requests to 127.0.0.1, and a DNS-rebinding page can even read the
 * answers (its own host name resolves to 127.0.0.1, so the browser treats the API as same-origin). So,
 * as Ollama does after the same report, every request is checked before anything else:
 * - Host must be a loopback name (127.0.0.1, localhost, *.localhost, [::1]): a rebinding page's
 *   requests carry its own host name, so they are refused (403);
 * - a browser's Origin (or Sec-Fetch-Site) must be this server's own: a foreign page is refused (403);
 * - with a token configured, `Authorization: Bearer <token>` is required (401);
 * - a POST must say `Content-Type: application/json` (415): the only bodies a page can send without a
 *   CORS preflight are text/plain, form and multipart ones, so this closes "simple" cross-site POSTs.
 * Pure functions of the request headers, so every rule is unit-tested.
 */
import { timingSafeEqual } from 'node:crypto';

export interface GuardOptions {
  /** The port the server listens on (its own origin is http://<loopback name>:<port>). */
  port: number;
  /** When set, every request needs this bearer token. */
  token?: string;
}

export interface Refusal {
  status: 401 | 403 | 415;
  message: string;
  code: string;
}

type Headers = Record<string, string | string[] | undefined>;

/** Host names that can only mean this machine's loopback interface. */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === '127.0.0.1' || name === '[::1]' || name === '::1';
}

/** The host name of a Host header value (`name`, `name:port`, `[v6]:port`), or null when malformed. */
export function hostnameOf(host: string): string | null {
  try {
    const url = new URL(`http://${host}/`);
    return url.username || url.password || url.pathname !== '/' ? null : url.hostname;
  } catch {
    return null;
  }
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function checkHost(headers: Headers): Refusal | null {
  const host = header(headers, 'host');
  if (host === undefined) return null; // HTTP/1.0 clients; browsers always send Host
  const name = hostnameOf(host);
  if (name !== null && isLoopbackName(name)) return null;
  return { status: 403, message: `Host ${JSON.stringify(host)} is not allowed: this server answers only to loopback names (127.0.0.1, localhost), which keeps DNS-rebinding web pages out`, code: 'host_not_allowed' };
}

function checkOrigin(headers: Headers, port: number): Refusal | null {
  const origin = header(headers, 'origin');
  const site = header(headers, 'sec-fetch-site');
  if (origin !== undefined) {
    let own = false;
    try {
      const url = new URL(origin);
      own = url.protocol === 'http:' && isLoopbackName(url.hostname) && Number(url.port || 80) === port;
    } catch {
      own = false; // "null" (sandboxed frames, file: pages) and garbage
    }
    if (!own) return { status: 403, message: `requests from web pages are not allowed (Origin ${origin})`, code: 'origin_not_allowed' };
  }
  // Browsers label every request; a page of another site cannot remove the label (no-cors GETs carry no Origin).
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return { status: 403, message: `requests from web pages are not allowed (Sec-Fetch-Site ${site})`, code: 'origin_not_allowed' };
  return null;
}

function checkToken(headers: Headers, token: string): Refusal | null {
  const given = /^Bearer\s+(.+)$/i.exec(header(headers, 'authorization') ?? '')?.[1]?.trim() ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length === b.length && timingSafeEqual(a, b)) return null;
  return { status: 401, message: 'a valid API token is required (Authorization: Bearer <token>; see chimera serve --token)', code: 'invalid_api_key' };
}

/** The media type of a Content-Type value, without parameters such as charset. */
export function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The first rule a request breaks, or null when it may be served. */
export function refuse(method: string | undefined, headers: Headers, options: GuardOptions): Refusal | null {
  const refusal = checkHost(headers) ?? checkOrigin(headers, options.port) ?? (options.token ? checkToken(headers, options.token) : null);
  if (refusal) return refusal;
  if (method === 'POST' && mediaType(header(headers, 'content-type')) !== 'application/json') {
    return { status: 415, message: `POST bodies must be JSON with Content-Type: application/json (got ${JSON.stringify(header(headers, 'content-type') ?? 'none')})`, code: 'unsupported_media_type' };
  }
  return null;
}
