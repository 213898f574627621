/**
 * OpenAI request bodies mapped onto the engine protocol's params, checked by the shared validator
 * (protocol/validate.ts), so the HTTP API accepts exactly what the engine accepts. What the engine
 * cannot honour (several choices, log-probabilities, echo, tools, penalties) is refused with a 400
 * rather than ignored, so a client never gets an answer to a question it did not ask.
 */
import type * as P from '../protocol';
import * as V from '../protocol/validate';

type Body = Record<string, unknown>;

/** A request the API cannot serve as asked; `status` is the HTTP status to answer with. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'invalid_request_error',
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** The OpenAI names of protocol fields, for error messages a client can match to what it sent. */
const API_NAMES: Record<string, string> = { maxTokens: 'max_tokens', topP: 'top_p', prefix: 'prompt', params: 'body' };

/** Runs a shared check, rewording its ParamError with the API's own field names. */
function checked<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof V.ParamError)) throw err;
    const field = err.field.replace(/^[A-Za-z]+/, (name) => API_NAMES[name] ?? name);
    throw new ApiError(400, `"${field}" ${err.rule}`, 'invalid_request_error', 'invalid_value');
  }
}

/** Options that clients send as null to mean "the default". */
function withoutNulls(body: Body): Body {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null));
}

/** Features an OpenAI client may ask for that this engine does not have: each must be absent or neutral. */
const UNSUPPORTED: readonly [string, (v: unknown) => boolean, string][] = [
  ['n', (v) => v === 1, 'only n = 1 is supported'],
  ['best_of', (v) => v === 1, 'only best_of = 1 is supported'],
  ['echo', (v) => v === false, 'echo is not supported'],
  ['logprobs', (v) => v === false, 'log-probabilities are not supported'],
  ['top_logprobs', (v) => v === 0, 'log-probabilities are not supported'],
  ['presence_penalty', (v) => v === 0, 'penalties are not supported (use 0)'],
  ['frequency_penalty', (v) => v === 0, 'penalties are not supported (use 0)'],
  ['logit_bias', (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0, 'logit_bias is not supported'],
  ['tools', (v) => Array.isArray(v) && v.length === 0, 'tools are not supported'],
  ['functions', (v) => Array.isArray(v) && v.length === 0, 'functions are not supported'],
  ['tool_choice', (v) => v === 'none', 'tools are not supported'],
  ['response_format', (v) => typeof v === 'object' && v !== null && (v as Body).type === 'text', 'only the text response format is supported'],
];

function refuseUnsupported(body: Body): void {
  for (const [name, neutral, why] of UNSUPPORTED) {
    if (body[name] !== undefined && !neutral(body[name])) throw new ApiError(400, `"${name}": ${why}`, 'invalid_request_error', 'unsupported_parameter');
  }
}

export interface ApiCall<T> {
  params: T;
  stream: boolean;
  /** Send a last chunk with token usage (stream_options.include_usage). */
  includeUsage: boolean;
}

/** The parts every generating endpoint shares: model, streaming and the decoding options. */
function common(raw: Body, model: string): { body: Body; stream: boolean; includeUsage: boolean; options: Body } {
  const body = withoutNulls(raw);
  if (body.model !== undefined && body.model !== model) {
    throw new ApiError(404, `The model ${JSON.stringify(body.model)} does not exist; this server serves ${JSON.stringify(model)} (GET /v1/models)`, 'invalid_request_error', 'model_not_found');
  }
  refuseUnsupported(body);
  const stream = body.stream === undefined ? false : checked(() => V.boolean(body, 'stream'));
  const streamOptions = body.stream_options === undefined ? {} : checked(() => V.object(body.stream_options, 'stream_options'));
  const includeUsage = streamOptions.include_usage === true;
  const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  const options = { maxTokens: body.max_tokens ?? body.max_completion_tokens ?? 256, temperature: body.temperature, topP: body.top_p, seed: body.seed, stop };
  return { body, stream, includeUsage, options };
}

export type CompletionCall = ApiCall<{ kind: 'text'; params: ReturnType<typeof V.textParams> } | { kind: 'fim'; params: P.CompleteParams }>;

/** POST /v1/completions: a plain continuation, or fill-in-the-middle when `suffix` is given. */
export function completionCall(raw: Body, model: string): CompletionCall {
  const { body, stream, includeUsage, options } = common(raw, model);
  if (typeof body.prompt !== 'string') throw new ApiError(400, `"prompt" must be one string (got ${Array.isArray(body.prompt) ? 'an array: batches and token prompts are not supported' : typeof body.prompt})`, 'invalid_request_error', 'invalid_value');
  if (body.suffix === undefined) return { stream, includeUsage, params: { kind: 'text', params: checked(() => V.textParams({ ...options, prompt: body.prompt })) } };
  const params = checked(() => V.completeParams({ ...options, prefix: body.prompt, suffix: body.suffix, languageId: 'plaintext' }));
  return { stream, includeUsage, params: { kind: 'fim', params } };
}

/** A message's content: a string, or OpenAI's list of text parts joined. */
function content(value: unknown, where: string): unknown {
  if (!Array.isArray(value)) return value;
  return value
    .map((part: unknown, i) => {
      const p = checked(() => V.object(part, `${where}[${i}]`));
      if (p.type !== 'text' || typeof p.text !== 'string') throw new ApiError(400, `"${where}[${i}]": only text parts are supported`, 'invalid_request_error', 'invalid_value');
      return p.text;
    })
    .join('');
}

/** OpenAI messages as protocol messages (`developer` is OpenAI's newer name for `system`). */
function messages(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((m: unknown, i) => {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return m;
    const { role, content: c } = m as Body;
    return { role: role === 'developer' ? 'system' : role, content: content(c, `messages[${i}].content`) };
  });
}

/** POST /v1/chat/completions. */
export function chatCall(raw: Body, model: string): ApiCall<P.ChatParams> {
  const { body, stream, includeUsage, options } = common(raw, model);
  return { stream, includeUsage, params: checked(() => V.chatParams({ ...options, messages: messages(body.messages) })) };
}
