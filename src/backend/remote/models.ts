/**
 * `GET /v1/models` as each server answers it, and the choice of the model to use:
 * - OpenAI shape `{"object": "list", "data": [{"id": …}]}` (vLLM adds `max_model_len`; llama.cpp adds
 *   `meta.n_ctx_train`; Ollama lists every pulled model as `name:tag`; chimera serve its one model);
 * - TGI answers one object, `{"id": …, "object": "model", …}` (its ModelInfo schema).
 */
import { RemoteError } from './errors';

export interface ServedModel {
  id: string;
  /** The context the server gives the model, when it says (vLLM, llama.cpp). */
  maxContext?: number;
}

export function parseModels(body: unknown): ServedModel[] {
  if (typeof body !== 'object' || body === null) return [];
  const b = body as { data?: unknown; id?: unknown };
  const entries = Array.isArray(b.data) ? b.data : typeof b.id === 'string' ? [b] : [];
  return entries.flatMap((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const e = entry as { id?: unknown; max_model_len?: unknown; meta?: { n_ctx_train?: unknown } };
    if (typeof e.id !== 'string' || e.id === '') return [];
    const context = positive(e.max_model_len) ?? positive(e.meta?.n_ctx_train);
    return [{ id: e.id, ...(context ? { maxContext: context } : {}) }];
  });
}

/**
 * The served model matching `wanted` (an Ollama name without a tag means `:latest`), or the only one
 * served when nothing is wanted. Throws modelNotFound naming what the server does serve.
 */
export function chooseModel(served: readonly ServedModel[], wanted: string, origin: string): ServedModel {
  const names = served.map((m) => m.id);
  const listed = names.length > 0 ? names.slice(0, 8).join(', ') + (names.length > 8 ? ', …' : '') : 'nothing';
  if (wanted === '') {
    if (served.length === 1) return served[0]!;
    const why = served.length === 0 ? `the server at ${origin} lists no models` : `the server at ${origin} serves ${served.length} models (${listed}) and chimera.server.model names none of them`;
    throw new RemoteError('modelNotFound', `${why}; choose one with "Chimera: Select Server Model…"`);
  }
  const found = served.find((m) => m.id === wanted || m.id === `${wanted}:latest`);
  if (found) return found;
  throw new RemoteError('modelNotFound', `the server at ${origin} has no model ${JSON.stringify(wanted)}; it serves ${listed}`);
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
