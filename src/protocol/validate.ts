/**
 * The one validation layer for request parameters. The engine's JSON-RPC server runs every request
 * through it (a failure becomes -32602 InvalidParams) and the HTTP API maps an OpenAI body onto the
 * same params and runs the same checks (a failure becomes HTTP 400), so the two can never disagree on
 * what a valid temperature, mode, role or device is.
 *
 * A check either returns the params, typed and with nothing extra, or throws ParamError naming the
 * field and the rule. The transport words the message, so the HTTP API can use its own field names.
 */
import type * as P from './index';

export const DEVICES: readonly P.DeviceSetting[] = ['auto', 'gpu', 'cpu'];
export const MODES: readonly P.DecodingMode[] = ['chimera', 'ngram', 'autoregressive'];
export const ROLES = ['system', 'user', 'assistant'] as const;
export const TEMPERATURE = { min: 0, max: 2 } as const;
/** More stop strings than this is a malformed request, not a use case (OpenAI allows 4). */
export const MAX_STOP_STRINGS = 16;
/** Cross-file context: at most this many snippets of at most this many characters each. */
export const MAX_CONTEXT_SNIPPETS = 16;
export const MAX_CONTEXT_SNIPPET_CHARS = 8_192;

/** A request field that breaks a rule; `field` is a path such as `messages[2].role`. */
export class ParamError extends Error {
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field} ${rule}`);
    this.name = 'ParamError';
  }
}

type Obj = Record<string, unknown>;

const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value));

export function object(value: unknown, field: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ParamError(field, `must be an object (got ${Array.isArray(value) ? 'an array' : show(value)})`);
  return value as Obj;
}

export function string(o: Obj, key: string, where = key, opts: { nonEmpty?: boolean } = {}): string {
  const v = o[key];
  if (typeof v !== 'string') throw new ParamError(where, `must be a string (got ${show(v)})`);
  if (opts.nonEmpty && v.length === 0) throw new ParamError(where, 'must not be empty');
  return v;
}

export function optionalString(o: Obj, key: string, where = key): string | undefined {
  return o[key] === undefined ? undefined : string(o, key, where);
}

export function integer(o: Obj, key: string, min: number, max = Number.MAX_SAFE_INTEGER, where = key): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ParamError(where, `must be an integer${max === Number.MAX_SAFE_INTEGER ? ` of at least ${min}` : ` from ${min} to ${max}`} (got ${show(v)})`);
  }
  return v;
}

export function numberIn(o: Obj, key: string, min: number, max: number, where = key): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ParamError(where, `must be a number from ${min} to ${max} (got ${show(v)})`);
  return v;
}

export function oneOf<T extends string>(o: Obj, key: string, allowed: readonly T[], where = key): T {
  const v = o[key];
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new ParamError(where, `must be one of ${allowed.join(', ')} (got ${show(v)})`);
  return v as T;
}

export function boolean(o: Obj, key: string, where = key): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') throw new ParamError(where, `must be true or false (got ${show(v)})`);
  return v;
}

/** Stop strings: a list of non-empty strings (an empty one would end every answer at once). */
export function stopStrings(value: unknown, where = 'stop'): string[] {
  if (!Array.isArray(value)) throw new ParamError(where, `must be an array of strings (got ${show(value)})`);
  if (value.length > MAX_STOP_STRINGS) throw new ParamError(where, `may hold at most ${MAX_STOP_STRINGS} strings (got ${value.length})`);
  value.forEach((s, i) => {
    if (typeof s !== 'string' || s.length === 0) throw new ParamError(`${where}[${i}]`, `must be a non-empty string (got ${show(s)})`);
  });
  return value as string[];
}

/** The options every generating request shares. Absent optional fields stay absent (engine defaults). */
export function decodingOptions(o: Obj): P.DecodingOptions {
  const out: P.DecodingOptions = { maxTokens: integer(o, 'maxTokens', 1) };
  if (o.temperature !== undefined) out.temperature = numberIn(o, 'temperature', TEMPERATURE.min, TEMPERATURE.max);
  if (o.topP !== undefined) {
    out.topP = numberIn(o, 'topP', 0, 1);
    if (out.topP === 0) throw new ParamError('topP', 'must be more than 0 (got 0)');
  }
  if (o.mode !== undefined) out.mode = oneOf(o, 'mode', MODES);
  if (o.seed !== undefined) out.seed = integer(o, 'seed', Number.MIN_SAFE_INTEGER);
  const token = o.partialResultToken;
  if (token !== undefined) {
    if (typeof token !== 'string' && typeof token !== 'number') throw new ParamError('partialResultToken', `must be a string or a number (got ${show(token)})`);
    out.partialResultToken = token as string;
  }
  return out;
}

export function completeParams(params: unknown): P.CompleteParams {
  const o = object(params, 'params');
  const out: P.CompleteParams = { ...decodingOptions(o), prefix: string(o, 'prefix'), suffix: string(o, 'suffix'), languageId: string(o, 'languageId') };
  if (o.filePath !== undefined) out.filePath = string(o, 'filePath');
  if (o.stop !== undefined) out.stop = stopStrings(o.stop);
  if (o.context !== undefined) out.context = contextSnippetsParam(o.context);
  return out;
}

export function contextSnippetsParam(value: unknown): P.ContextSnippet[] {
  if (!Array.isArray(value) || value.length > MAX_CONTEXT_SNIPPETS) throw new ParamError('context', `must be an array of at most ${MAX_CONTEXT_SNIPPETS} snippets (got ${Array.isArray(value) ? `${value.length}` : show(value)})`);
  return value.map((v, i) => {
    const s = object(v, `context[${i}]`);
    const text = string(s, 'text', `context[${i}].text`);
    if (text.length > MAX_CONTEXT_SNIPPET_CHARS) throw new ParamError(`context[${i}].text`, `must be at most ${MAX_CONTEXT_SNIPPET_CHARS} characters (got ${text.length})`);
    return { path: string(s, 'path', `context[${i}].path`), text };
  });
}

export function chatMessage(value: unknown, where: string): P.ChatMessage {
  const m = object(value, where);
  if (m.explain !== undefined) {
    if (m.role !== 'user') throw new ParamError(`${where}.role`, `must be user for an explain message (got ${show(m.role)})`);
    const e = object(m.explain, `${where}.explain`);
    return { role: 'user', explain: { code: string(e, 'code', `${where}.explain.code`), languageId: string(e, 'languageId', `${where}.explain.languageId`) } };
  }
  return { role: oneOf(m, 'role', ROLES, `${where}.role`), content: string(m, 'content', `${where}.content`) };
}

export function chatMessages(value: unknown, where = 'messages'): P.ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) throw new ParamError(where, `must be a non-empty array (got ${Array.isArray(value) ? 'an empty array' : show(value)})`);
  return value.map((m, i) => chatMessage(m, `${where}[${i}]`));
}

export function chatParams(params: unknown): P.ChatParams {
  const o = object(params, 'params');
  const out: P.ChatParams = { ...decodingOptions(o), messages: chatMessages(o.messages) };
  if (o.stop !== undefined) out.stop = stopStrings(o.stop);
  return out;
}

export function editParams(params: unknown): P.EditParams {
  const o = object(params, 'params');
  return { ...decodingOptions(o), code: string(o, 'code'), instruction: string(o, 'instruction', 'instruction', { nonEmpty: true }), languageId: string(o, 'languageId') };
}

/** A plain continuation (the HTTP API's /v1/completions without a suffix): it needs some text to continue. */
export function textParams(params: unknown): P.DecodingOptions & { prompt: string; stop: string[] } {
  const o = object(params, 'params');
  return { ...decodingOptions(o), prompt: string(o, 'prompt', 'prompt', { nonEmpty: true }), stop: o.stop === undefined ? [] : stopStrings(o.stop) };
}

export function loadModelParams(params: unknown): P.LoadModelParams {
  const o = object(params, 'params');
  const out: P.LoadModelParams = { modelPath: string(o, 'modelPath'), device: oneOf(o, 'device', DEVICES) };
  if (o.maxContext !== undefined) out.maxContext = integer(o, 'maxContext', 64, 1 << 20);
  if (o.allowSoftwareGpu !== undefined) out.allowSoftwareGpu = boolean(o, 'allowSoftwareGpu');
  return out;
}

/** Diagnose takes no params, or `{ measure }`. */
export function diagnoseParams(params: unknown): P.DiagnoseParams {
  if (params === undefined || params === null) return {};
  const o = object(params, 'params');
  return o.measure === undefined ? {} : { measure: boolean(o, 'measure') };
}

export function initializeParams(params: unknown): P.InitializeParams {
  const o = object(params, 'params');
  return { protocolVersion: integer(o, 'protocolVersion', 0), ...loadModelParams(o), clientName: typeof o.clientName === 'string' ? o.clientName : 'unknown' };
}
