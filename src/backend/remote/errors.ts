/**
 * Failures of a shared server, sorted by what a person can do about each: the extension maps every kind
 * to its own message and action (extension/serverView.ts). Messages name the server and quote its own words.
 */

export type RemoteErrorKind =
  /** The settings are incomplete or wrong (no URL, a bad URL). */
  | 'config'
  /** Nothing answers at the URL (refused, unknown host, TLS failure). */
  | 'unreachable'
  /** 401 or 403: a missing or wrong API key. */
  | 'unauthorized'
  /** The server does not serve the model asked for. */
  | 'modelNotFound'
  /** No fill-in-the-middle format is known for the model. */
  | 'noFimFormat'
  /** No answer, or silence within an answer, longer than the timeout. */
  | 'timeout'
  /** 429 or 503 after every retry. */
  | 'busy'
  /** A route the server does not have (e.g. `/infill` on vLLM: the FIM format does not match the server). */
  | 'noRoute'
  /** Anything else the server refused or failed at. */
  | 'server';

export class RemoteError extends Error {
  constructor(
    readonly kind: RemoteErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

/**
 * The server's own explanation from an error body. Shapes differ by server:
 * OpenAI, llama.cpp and chimera serve `{"error": {"message": …}}`; Ollama and TGI `{"error": "…"}`;
 * older vLLM `{"object": "error", "message": …}`; FastAPI validation `{"detail": …}`.
 */
export function serverMessage(body: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    const text = body.trim();
    return text === '' ? null : text.slice(0, 300);
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { error?: unknown; message?: unknown; detail?: unknown };
  if (typeof v.error === 'string') return v.error;
  if (typeof v.error === 'object' && v.error !== null && typeof (v.error as { message?: unknown }).message === 'string') return (v.error as { message: string }).message;
  if (typeof v.message === 'string') return v.message;
  if (v.detail !== undefined) return typeof v.detail === 'string' ? v.detail : JSON.stringify(v.detail).slice(0, 300);
  return null;
}

export interface FailedCall {
  /** The request, as "POST http://host/v1/completions". */
  what: string;
  /** The model the request asked for, to name it when the server does not have it. */
  model: string;
  /** Whether the route is a FIM format's own (a 404 there means the format does not fit the server). */
  fimRoute: boolean;
}

/** A non-2xx answer as a RemoteError of the kind a person can act on. */
export function errorFromResponse(status: number, body: string, call: FailedCall): RemoteError {
  const said = serverMessage(body);
  const quoted = said ? `: ${said}` : '';
  if (status === 401 || status === 403) return new RemoteError('unauthorized', `${call.what} was refused (HTTP ${status}${quoted}); the server wants an API key, or a different one`, status);
  if (status === 404 && mentionsModel(said, call.model)) return new RemoteError('modelNotFound', `the server has no model ${JSON.stringify(call.model)} (HTTP 404${quoted})`, status);
  if (status === 404 || status === 405) {
    const hint = call.fimRoute ? '; the FIM format chosen does not match this server' : '';
    return new RemoteError('noRoute', `${call.what} does not exist on this server (HTTP ${status}${quoted})${hint}`, status);
  }
  if (status === 429 || status === 503) return new RemoteError('busy', `the server is busy (HTTP ${status}${quoted})`, status);
  return new RemoteError('server', `${call.what} failed (HTTP ${status}${quoted})`, status);
}

function mentionsModel(message: string | null, model: string): boolean {
  return message !== null && (/model/i.test(message) || (model !== '' && message.includes(model)));
}

/** A fetch that failed before any answer: the server cannot be reached (refused, unknown host, TLS). */
export function errorFromNetwork(err: unknown, origin: string): RemoteError {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new RemoteError('unreachable', `cannot reach the server at ${origin} (${why})`);
}
