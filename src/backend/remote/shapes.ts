/**
 * The request and stream shapes of each route, taken from the servers' documentation:
 * - OpenAI `/v1/completions` and `/v1/chat/completions` with `stream: true` (vLLM, TGI, llama.cpp's server,
 *   Ollama, chimera serve): SSE of `choices[0].text` / `choices[0].delta.content`, then `data: [DONE]`;
 * - Ollama `/api/generate` with `suffix`: NDJSON of `response` pieces, the last with `done: true`;
 * - llama.cpp `/infill` with `input_prefix`, `input_suffix`, `input_extra` (its other files): SSE of
 *   `content` pieces, the last with `stop: true`.
 * A stream may also carry an error object instead of a piece (TGI and chimera serve do, mid-stream).
 */
import type { ChatMessage, FinishReason } from '../../protocol';
import { TASK_PROMPTS } from '../../core/formats/families';
import type { ChatRequest, CompleteRequest, EditRequest } from '../backend';
import type { Endpoints } from './config';
import { RemoteError } from './errors';
import { fill, fimPrompt, stopsFor, MAX_STOPS, type FimFormat } from './fim';

/** One event's contribution: text, and on the last ones the finish reason and token counts. */
export interface Piece {
  text: string;
  finish?: FinishReason;
  promptTokens?: number;
  completionTokens?: number;
}

export interface StreamedCall {
  url: string;
  body: object;
  /** SSE, or Ollama's newline-delimited JSON. */
  framing: 'sse' | 'ndjson';
  /** Whether the route belongs to a FIM format (a 404 there means the format does not fit the server). */
  fimRoute: boolean;
  /** Texts that end the answer, checked again on the client (servers may print special tokens). */
  stop: string[];
  read(event: unknown): Piece;
}

type Json = Record<string, unknown>;

interface Sampling {
  model: string;
  maxTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

/** OpenAI's sampling fields; unset ones are left out so the server's defaults apply. */
function openAiOptions(s: Sampling, stop: string[]): Json {
  return { model: s.model, max_tokens: s.maxTokens, temperature: s.temperature, top_p: s.topP, seed: s.seed, ...(stop.length > 0 ? { stop } : {}), stream: true, stream_options: { include_usage: true } };
}

/** An inline completion in `format`. */
export function fimCall(format: FimFormat, req: CompleteRequest, model: string, api: Endpoints): StreamedCall {
  const sampling = { model, maxTokens: req.maxTokens, temperature: req.temperature, topP: req.topP, seed: req.seed };
  const stop = [...new Set([...(req.stop ?? []), ...(format.kind === 'prompt' ? format.stop : [])])];
  const sent = stopsFor(format, req.stop);
  if (format.kind === 'prompt') {
    return { url: `${api.openai}/completions`, body: { ...openAiOptions(sampling, sent), prompt: fimPrompt(format, req) }, framing: 'sse', fimRoute: false, stop, read: readCompletion };
  }
  switch (format.id) {
    case 'openai-suffix':
      return { url: `${api.openai}/completions`, body: { ...openAiOptions(sampling, sent), prompt: req.prefix, suffix: req.suffix }, framing: 'sse', fimRoute: true, stop, read: readCompletion };
    case 'ollama':
      return { url: `${api.root}/api/generate`, body: ollamaGenerate(req, sampling, sent), framing: 'ndjson', fimRoute: true, stop, read: readOllama };
    case 'llama.cpp':
      return { url: `${api.root}/infill`, body: llamaCppInfill(req, sampling, sent), framing: 'sse', fimRoute: true, stop, read: readLlamaCpp };
  }
}

/** Ollama `/api/generate`: the text before the cursor as `prompt`, the rest as `suffix`; options as in a Modelfile. */
function ollamaGenerate(req: CompleteRequest, s: Sampling, stop: string[]): Json {
  const options = { num_predict: s.maxTokens, temperature: s.temperature, top_p: s.topP, seed: s.seed, ...(stop.length > 0 ? { stop } : {}) };
  return { model: s.model, prompt: req.prefix, suffix: req.suffix, stream: true, options };
}

/** llama.cpp `/infill`: code from other files goes in `input_extra`, which the server places before the prefix. */
function llamaCppInfill(req: CompleteRequest, s: Sampling, stop: string[]): Json {
  const extra = (req.context ?? []).map((c) => ({ filename: c.path, text: c.text }));
  return {
    ...(s.model ? { model: s.model } : {}),
    input_prefix: req.prefix,
    input_suffix: req.suffix,
    input_extra: extra,
    prompt: '',
    n_predict: s.maxTokens,
    temperature: s.temperature,
    top_p: s.topP,
    seed: s.seed,
    ...(stop.length > 0 ? { stop } : {}),
    stream: true,
    cache_prompt: true,
  };
}

/** A chat reply; Explain requests become the registry's Explain prompt. */
export function chatCall(req: ChatRequest, model: string, api: Endpoints): StreamedCall {
  const stop = (req.stop ?? []).slice(0, MAX_STOPS);
  const body = { ...openAiOptions({ model, maxTokens: req.maxTokens, temperature: req.temperature, topP: req.topP, seed: req.seed }, stop), messages: openAiMessages(req.messages) };
  return { url: `${api.openai}/chat/completions`, body, framing: 'sse', fimRoute: false, stop: req.stop ?? [], read: readChat };
}

/** The instruction that makes a chat model answer a rewrite with code alone (no assistant prefill over HTTP). */
export const EDIT_ANSWER_RULE = 'Answer with the whole rewritten code in one fenced code block, and nothing else.';

/** A rewrite by instruction, asked as one user turn with the registry's edit prompt. */
export function editCall(req: EditRequest, model: string, api: Endpoints): StreamedCall {
  const content = `${fill(TASK_PROMPTS.edit, { instruction: req.instruction, lang: req.languageId, code: req.code })}\n${EDIT_ANSWER_RULE}`;
  return chatCall({ ...req, messages: [{ role: 'user', content }] }, model, api);
}

export function openAiMessages(messages: readonly ChatMessage[]): { role: string; content: string }[] {
  return messages.map((m) => ('explain' in m ? { role: 'user', content: fill(TASK_PROMPTS.explain, { lang: m.explain.languageId, code: m.explain.code }) } : { role: m.role, content: m.content }));
}

// ---- stream events -------------------------------------------------------------------------------

function readCompletion(event: unknown): Piece {
  const e = object(event);
  const choice = object(array(e.choices)[0] ?? {});
  return { text: str(choice.text), ...finish(choice.finish_reason), ...usage(e.usage) };
}

function readChat(event: unknown): Piece {
  const e = object(event);
  const choice = object(array(e.choices)[0] ?? {});
  return { text: str(object(choice.delta ?? {}).content), ...finish(choice.finish_reason), ...usage(e.usage) };
}

function readOllama(event: unknown): Piece {
  const e = object(event);
  if (e.done !== true) return { text: str(e.response) };
  return { text: str(e.response), finish: e.done_reason === 'length' ? 'length' : 'stop', promptTokens: num(e.prompt_eval_count), completionTokens: num(e.eval_count) };
}

function readLlamaCpp(event: unknown): Piece {
  const e = object(event);
  if (e.stop !== true) return { text: str(e.content) };
  return { text: str(e.content), finish: e.stop_type === 'limit' ? 'length' : 'stop', promptTokens: num(e.tokens_evaluated), completionTokens: num(e.tokens_predicted) };
}

/** Every event is checked for an error first: a server that fails mid-answer says so in the stream. */
function object(event: unknown): Json {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new RemoteError('server', `the server sent an event that is not an object: ${JSON.stringify(event)?.slice(0, 120)}`);
  const e = event as Json;
  if (e.error !== undefined && e.error !== null) {
    const message = typeof e.error === 'string' ? e.error : str((e.error as Json).message) || JSON.stringify(e.error);
    throw new RemoteError('server', `the server stopped the answer with an error: ${message}`);
  }
  return e;
}

function finish(reason: unknown): { finish?: FinishReason } {
  if (typeof reason !== 'string') return {};
  return { finish: reason === 'length' ? 'length' : 'stop' };
}

function usage(value: unknown): Pick<Piece, 'promptTokens' | 'completionTokens'> {
  if (typeof value !== 'object' || value === null) return {};
  const u = value as Json;
  return { promptTokens: num(u.prompt_tokens), completionTokens: num(u.completion_tokens) };
}

function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
