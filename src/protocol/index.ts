/**
 * Every message between the extension host (client) and the engine process (server), in one place.
 *
 * Transport: JSON-RPC 2.0 (vscode-jsonrpc) over Node IPC. Each request has a literal method name,
 * typed params, result and error data, and a direction. Streaming requests carry a
 * `partialResultToken`; the engine sends the text as it is produced in `$/progress` notifications
 * for that token (LSP's partial results), in order, then answers the request with the full result.
 * Cancellation is `$/cancelRequest` (vscode-jsonrpc sends it when the caller's token is cancelled);
 * the engine turns it into an AbortSignal checked between decoding steps and answers with
 * `RequestCancelled`.
 */
import { ProgressType, RequestType, RequestType0, ResponseError } from 'vscode-jsonrpc';
import type { GpuDiagnostics, ProviderAttempt, ProviderName } from '../core/gpu/types';

// The GPU report is plain data defined next to the code that gathers it; it travels as it is.
export type { AdapterInfo, AdapterScan, GpuDiagnostics, ProviderAttempt, ProviderCost, ProviderInfo, ProviderName } from '../core/gpu/types';

export const PROTOCOL_VERSION = 1;

export type DeviceSetting = 'auto' | 'gpu' | 'cpu';
export type DecodingMode = 'chimera' | 'ngram' | 'autoregressive';
export type FinishReason = 'stop' | 'length';

// ---- shared shapes -------------------------------------------------------------------------------

export interface ModelInfo {
  name: string;
  family: string;
  path: string;
  maxContext: number;
  vocabSize: number;
  /** Whether the package has a Chimera draft (the `chimera` mode needs one). */
  hasDraft: boolean;
  /** Whether the model can fill in the middle (inline completion needs it). */
  hasFim: boolean;
}

export interface DeviceInfo {
  /** The execution provider that runs the model. */
  kind: ProviderName;
  requested: DeviceSetting;
  /** Why this device, e.g. "GPU unavailable (no WebGPU adapter); using the CPU". */
  reason: string;
  /** Whether the GPU adapter renders on the CPU (used only when asked for). */
  software?: boolean;
  /** Each GPU candidate of the platform and what became of it. */
  attempts?: ProviderAttempt[];
}

export interface GenerationStats {
  mode: DecodingMode;
  promptTokens: number;
  reusedTokens: number;
  generatedTokens: number;
  steps: number;
  drafted: number;
  accepted: number;
  meanAcceptedLength: number;
  firstTokenMs: number;
  totalMs: number;
  decodeTokensPerSecond: number;
  tokensPerSecond: number;
}

/** What the engine left out of a request to fit it into the model's context. */
export interface InputTrim {
  /** Whole chat turns left out, oldest first. */
  droppedTurns: number;
  /** Characters left out in all: of dropped turns and of text cut short. */
  droppedChars: number;
  /** For `edit`: how many leading characters of `code` the model read; the rewrite covers only those. */
  codeCharsRead?: number;
}

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  stats: GenerationStats;
  /** Present when the request did not fit the context whole; says what was left out. */
  trimmed?: InputTrim;
}

/** Options every generating request accepts. Unset fields use the engine's defaults. */
export interface DecodingOptions {
  maxTokens: number;
  /** 0 to 2; 0 (the default) is greedy. */
  temperature?: number;
  /** Nucleus sampling cut, in (0, 1]; defaults to 0.95 when sampling, 1 when greedy. */
  topP?: number;
  mode?: DecodingMode;
  seed?: number;
  /** Token for `$/progress` partial results; without one, only the final result is sent. */
  partialResultToken?: string;
}

/** A streamed piece of output, sent as `$/progress` for the request's partialResultToken. */
export interface TextDelta {
  /** 0-based sequence number, so a client can verify order. */
  seq: number;
  text: string;
}
export const textDelta = new ProgressType<TextDelta>();

// ---- client -> server requests -------------------------------------------------------------------

export interface InitializeParams {
  protocolVersion: number;
  /** Package folder; empty for the engine's bundled default. */
  modelPath: string;
  device: DeviceSetting;
  maxContext?: number;
  /** Whether a software GPU adapter (SwiftShader, WARP) may run the model; default false. */
  allowSoftwareGpu?: boolean;
  clientName: string;
}
export interface InitializeResult {
  protocolVersion: number;
  engineVersion: string;
  capabilities: { modes: DecodingMode[]; fim: boolean; chat: boolean; edit: boolean; streaming: true; cancellation: true };
  device: DeviceInfo;
  model: ModelInfo;
}
/** client → server: load the model and report what the engine can do. Must come first. */
export const initialize = new RequestType<InitializeParams, InitializeResult, EngineErrorData>('initialize');

export interface LoadModelParams {
  modelPath: string;
  device: DeviceSetting;
  /** Cap on the context the engine uses (tokens; default 8192). The package's own limit still applies. */
  maxContext?: number;
  allowSoftwareGpu?: boolean;
}
export interface LoadModelResult {
  device: DeviceInfo;
  model: ModelInfo;
}
/** client → server: replace the loaded model (cancels work in flight). */
export const loadModel = new RequestType<LoadModelParams, LoadModelResult, EngineErrorData>('loadModel');

export interface CompleteParams extends DecodingOptions {
  prefix: string;
  suffix: string;
  languageId: string;
  /** Workspace-relative path, shown to the model as a file header. */
  filePath?: string;
  /** Strings that end the completion (not included in it). */
  stop?: string[];
  /**
   * Code from other files (imported definitions, recent edits, similar open code), most relevant first;
   * the engine puts what fits its budget before the current file. Keep it the same while the user types
   * on one line: it leads the prompt, and a change there re-reads the whole prompt.
   */
  context?: ContextSnippet[];
}
export interface ContextSnippet {
  /** Workspace-relative path of the file the snippet comes from. */
  path: string;
  text: string;
}
/** client → server: fill in the middle at the cursor. A newer `complete` cancels an older one (latest wins). */
export const complete = new RequestType<CompleteParams, GenerationResult, EngineErrorData>('complete');

export type ChatMessage =
  | { role: 'system' | 'user' | 'assistant'; content: string }
  /** A request to explain code; the engine renders it with the model's Explain prompt. */
  | { role: 'user'; explain: { code: string; languageId: string } };

export interface ChatParams extends DecodingOptions {
  messages: ChatMessage[];
  /** Strings that end the reply besides the chat template's own stop tokens (not included in it). */
  stop?: string[];
}
/** client → server: the assistant's next reply, streamed. Queued fairly with `edit`. */
export const chat = new RequestType<ChatParams, GenerationResult, EngineErrorData>('chat');

export interface EditParams extends DecodingOptions {
  code: string;
  instruction: string;
  languageId: string;
}
/** client → server: `code` rewritten by `instruction`, streamed (drafts copy from `code`: speculative edits). */
export const edit = new RequestType<EditParams, GenerationResult, EngineErrorData>('edit');

export interface StatsResult {
  device: DeviceInfo | null;
  model: ModelInfo | null;
  last: GenerationStats | null;
  totals: { requests: number; cancelled: number; generatedTokens: number };
  queue: { running: number; waiting: number };
  memory: { rssBytes: number; heapUsedBytes: number };
  uptimeMs: number;
}
/** client → server: engine statistics. */
export const stats = new RequestType0<StatsResult, void>('stats');

export interface DiagnoseParams {
  /** Measure c(1) on each usable provider (default true); the rest of the report takes milliseconds. */
  measure?: boolean;
}
/** client → server: the GPU diagnosis (providers, adapters, the choice and its reasons, c(1) per provider). */
export const diagnose = new RequestType<DiagnoseParams, GpuDiagnostics, EngineErrorData>('diagnose');

/** client → server: stop work, release the model and exit after answering. */
export const shutdown = new RequestType0<null, void>('shutdown');

// ---- errors --------------------------------------------------------------------------------------

export const ErrorCodes = {
  /** JSON-RPC / LSP standard: the request was cancelled. */
  RequestCancelled: -32800,
  /** The model package is missing, corrupt or mismatched; data.file names the file. */
  ModelLoadFailed: -32001,
  /** The requested device cannot be used; data.device says which. */
  DeviceUnavailable: -32002,
  /** A request came before `initialize` succeeded. */
  NotInitialized: -32003,
  /** Generation failed inside the engine. */
  GenerationFailed: -32004,
  /** The request is malformed (missing or wrong-typed fields). */
  InvalidParams: -32602,
} as const;

export interface EngineErrorData {
  file?: string;
  device?: DeviceSetting;
  /** With RequestCancelled: what the generation produced before it stopped, when it produced anything. */
  stats?: GenerationStats;
}

export function engineError(code: number, message: string, data?: EngineErrorData): ResponseError<EngineErrorData | undefined> {
  return new ResponseError(code, message, data);
}
