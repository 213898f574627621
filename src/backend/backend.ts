/**
 * What the editor features talk to: a model that fills in code, chats and rewrites, streaming its text.
 * There are two implementations, and the features never learn which one answers:
 * - the supervised local engine process (engine/client.ts EngineClient);
 * - a shared inference server over HTTP: vLLM, TGI, llama.cpp's server, Ollama or `chimera serve`
 *   (backend/remote/client.ts RemoteBackend).
 * Both take an AbortSignal per request, and a newer completion supersedes an older one (latest wins).
 */
import type { ChatParams, CompleteParams, EditParams, GenerationResult, ModelInfo } from '../protocol';

export type CompleteRequest = Omit<CompleteParams, 'partialResultToken'>;
export type ChatRequest = Omit<ChatParams, 'partialResultToken'>;
export type EditRequest = Omit<EditParams, 'partialResultToken'>;

/** A streamed generation: iterate it for the text in order, or await `result` for the whole answer. */
export interface GenerationStream extends AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
}

/** What the features need to know of the model that answers. */
export type BackendModel = Pick<ModelInfo, 'name' | 'maxContext' | 'hasFim'>;

export interface Backend {
  /** The model answering requests; null until the backend has been reached. */
  readonly model: BackendModel | null;
  complete(params: CompleteRequest, signal?: AbortSignal): GenerationStream;
  chat(params: ChatRequest, signal?: AbortSignal): GenerationStream;
  edit(params: EditRequest, signal?: AbortSignal): GenerationStream;
}
