/**
 * One HTTP request to the shared server, with what every call needs: the API key, a timeout that covers
 * the wait for the answer and every silence within a streamed one, retries of 429 and 503 with backoff
 * that honours Retry-After, and failures turned into RemoteErrors a person can act on.
 *
 * The caller's AbortSignal goes to fetch itself: aborting closes the connection, so the server sees the
 * client leave and stops generating (vLLM, llama.cpp, Ollama and chimera serve all cancel on disconnect).
 */
import { AbortError } from '../../core/errors';
import { errorFromNetwork, errorFromResponse, RemoteError } from './errors';

export interface RetryPolicy {
  /** Retries after the first try (so attempts = retries + 1). */
  retries: number;
  /** Backoff before the first retry when the server sends no Retry-After; doubled on each retry. */
  baseDelayMs: number;
  /** Longest wait for one retry; a Retry-After beyond it is not waited for (the error says when to come back). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 3, baseDelayMs: 500, maxDelayMs: 10_000 };

export interface HttpDeps {
  fetch: typeof fetch;
  /** Waits `ms` unless the signal fires (tests record the waits instead of sleeping). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const NODE_HTTP: HttpDeps = { fetch: (input, init) => fetch(input, init), sleep: abortableSleep };

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  body?: object;
  apiKey?: string;
  timeoutMs: number;
  /** The model asked for (to name it in a 404) and whether the route belongs to a FIM format. */
  model: string;
  fimRoute?: boolean;
  retry?: RetryPolicy;
  signal?: AbortSignal;
}

/** An answer that arrived; `touch()` must be called on every chunk read, so silence can time out. */
export interface HttpAnswer {
  response: Response;
  /** Aborts with the caller's signal or on timeout; pass it to every read of the body. */
  touch(): void;
  /** Turns an error thrown while reading the body into the error to report (timeout vs. cancellation). */
  failure(err: unknown): Error;
  /** Stops the timeout (the body has been read to its end). */
  done(): void;
}

export async function send(req: HttpRequest, deps: HttpDeps = NODE_HTTP): Promise<HttpAnswer> {
  const retry = req.retry ?? DEFAULT_RETRY;
  for (let attempt = 0; ; attempt++) {
    const answer = await sendOnce(req, deps);
    const status = answer.response.status;
    if (answer.response.ok) return answer;
    const body = await answer.response.text().catch(() => '');
    answer.done();
    const error = errorFromResponse(status, body, { what: `${req.method} ${req.url}`, model: req.model, fimRoute: req.fimRoute === true });
    const wait = status === 429 || status === 503 ? retryDelay(answer.response.headers.get('retry-after'), attempt, retry) : null;
    if (wait === null) throw error;
    if (attempt >= retry.retries) throw withTries(error, attempt + 1);
    if (wait > retry.maxDelayMs) throw new RemoteError('busy', `${error.message}; it asks to come back in ${Math.ceil(wait / 1000)} s`, status);
    await deps.sleep(wait, req.signal);
  }
}

async function sendOnce(req: HttpRequest, deps: HttpDeps): Promise<HttpAnswer> {
  if (req.signal?.aborted) throw new AbortError('the request was cancelled');
  const timer = new IdleTimer(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timer.signal]) : timer.signal;
  const headers: Record<string, string> = { accept: 'application/json, text/event-stream, application/x-ndjson' };
  if (req.body) headers['content-type'] = 'application/json';
  if (req.apiKey) headers.authorization = `Bearer ${req.apiKey}`;
  const failure = (err: unknown): Error => {
    timer.stop();
    if (req.signal?.aborted) return new AbortError('the request was cancelled');
    if (timer.expired) return new RemoteError('timeout', `the server did not answer ${req.method} ${req.url} within ${seconds(req.timeoutMs)} (chimera.server.timeoutMs)`);
    return err instanceof RemoteError ? err : errorFromNetwork(err, new URL(req.url).origin);
  };
  try {
    const response = await deps.fetch(req.url, { method: req.method, headers, body: req.body ? JSON.stringify(req.body) : undefined, signal });
    timer.touch();
    return { response, touch: () => timer.touch(), failure, done: () => timer.stop() };
  } catch (err) {
    throw failure(err);
  }
}

/** A duration as a person reads it: 0.2 s, 12 s. */
function seconds(ms: number): string {
  return ms < 10_000 ? `${Number((ms / 1000).toFixed(1))} s` : `${Math.round(ms / 1000)} s`;
}

function withTries(error: RemoteError, tries: number): RemoteError {
  return new RemoteError(error.kind, `${error.message}, and still was after ${tries} tries`, error.status);
}

/**
 * How long to wait before retrying: the server's Retry-After (seconds, or an HTTP date) when it sends
 * one, else exponential backoff from `baseDelayMs`.
 */
export function retryDelay(retryAfter: string | null, attempt: number, policy: RetryPolicy, now = Date.now()): number {
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return policy.baseDelayMs * 2 ** attempt;
}

/** A timeout that restarts whenever the server is heard from; it fires after `ms` of silence. */
class IdleTimer {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  expired = false;

  constructor(private readonly ms: number) {
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort();
    }, this.ms);
    this.timer.unref?.();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError('the request was cancelled'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError('the request was cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
