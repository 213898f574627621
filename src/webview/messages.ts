/**
 * Messages between the chat webview and the extension host. Shared by both sides (this file
 * imports neither vscode nor the DOM), so a message shape can only change in one place.
 *
 * Each side checks what it receives with the guards below: to the host the webview is untrusted
 * input (it renders model output), and the webview must not touch the DOM with a malformed message.
 */

/** The engine as the panel shows it. */
export type EngineStatusKind = 'starting' | 'ready' | 'error' | 'stopped';

/** Buttons the panel may show next to a status or an error; the host maps them to its own commands. */
export type StatusAction = 'showLog' | 'selectModel' | 'restartEngine' | 'openServerSettings' | 'setServerApiKey' | 'retryServer';

/** What each status action is called, on a chat-panel button and on a notification's button alike. */
export const STATUS_ACTION_TITLES: Readonly<Record<StatusAction, string>> = {
  showLog: 'Show Log',
  selectModel: 'Select Model…',
  restartEngine: 'Restart Engine',
  openServerSettings: 'Open Settings',
  setServerApiKey: 'Set API Key…',
  retryServer: 'Retry',
};

export type ReplyStatus = 'streaming' | 'done' | 'length' | 'cancelled' | 'error';

export type CodeAction = 'copy' | 'insert' | 'applyDiff';

/** Code that travelled with a user message: the selection or file added as context, or the code to explain. */
export interface CodeAttachment {
  /** Where it came from, e.g. `example.py:3-7`. */
  label: string;
  languageId: string;
  code: string;
  /** Set when the code was cut to fit the model's context. */
  truncated?: boolean;
}

export interface ReplyStats {
  generatedTokens: number;
  decodeTokensPerSecond: number;
  meanAcceptedLength: number;
}

/** One message of the conversation: what the panel renders and what workspace state stores. */
export interface TranscriptMessage {
  id: string;
  role: 'user' | 'assistant';
  /** User: the question as typed. Assistant: markdown, possibly still streaming. */
  text: string;
  /** User only. `explain` asks the engine for its Explain prompt over the attachment. */
  kind?: 'ask' | 'explain';
  attachment?: CodeAttachment;
  /** Assistant only. */
  status?: ReplyStatus;
  error?: string;
  errorActions?: StatusAction[];
  stats?: ReplyStats;
  /** Assistant only: what the engine left out of the conversation to fit the model's context. */
  notice?: string;
  /** Assistant only: the name of the model that wrote the reply (absent in histories stored before it was kept). */
  model?: string;
}

/** What the webview found when asked to inspect its own DOM (a security self-check the tests use). */
export interface ProbeReport {
  /** Script elements that do not carry the page's nonce (model output must never add one). */
  foreignScripts: number;
  /** Elements with an `on*` attribute. */
  handlerAttributes: number;
  /** href/src/action attributes whose scheme is not http(s), mailto or a #fragment. */
  unsafeUrls: number;
  /** iframe, object, embed, style, form or link elements inside the transcript. */
  forbiddenElements: number;
  /** Set by a payload that managed to run (`window.__chimeraPwned`). */
  payloadRan: boolean;
  /** Code blocks that got their Copy/Insert/Apply buttons and highlighting. */
  codeBlocks: number;
  highlightedBlocks: number;
  /** The transcript as the user reads it, one entry per message. */
  messages: { role: string; text: string }[];
}

export type WebviewToExtension =
  /** The script has loaded (so the CSP allowed it) and can receive messages. */
  | { type: 'ready' }
  | { type: 'send'; text: string; includeContext: boolean }
  | { type: 'stop' }
  | { type: 'newChat' }
  | { type: 'codeAction'; action: CodeAction; code: string }
  | { type: 'runAction'; action: StatusAction }
  /** Sent when a reply is done: the pieces the webview received for it and their concatenation. */
  | { type: 'rendered'; id: string; pieces: number; text: string }
  | { type: 'probeResult'; requestId: string; report: ProbeReport };

export type ExtensionToWebview =
  | { type: 'status'; engine: EngineStatusKind; detail: string; actions: StatusAction[] }
  /** The whole conversation: on ready, after New chat, or when history is restored. */
  | { type: 'transcript'; messages: TranscriptMessage[] }
  | { type: 'append'; message: TranscriptMessage }
  /** The next streamed piece of the assistant message `id`. */
  | { type: 'delta'; id: string; text: string }
  /** The final form of a message (full text, status, stats); it supersedes the streamed pieces. */
  | { type: 'done'; message: TranscriptMessage }
  /** Test-only: asks the webview for a ProbeReport. */
  | { type: 'probe'; requestId: string };

/**
 * Whether a code block holds any code. The panel gives an empty or whitespace-only block no buttons,
 * and the host refuses to insert or apply one: applied over a selection it would only delete it.
 */
export function hasCode(code: string): boolean {
  return code.trim().length > 0;
}

// ---- guards ---------------------------------------------------------------------------------------

type Check = (value: unknown) => boolean;

/** Big enough for any file we would attach; bounded so a hostile page cannot hand the host gigabytes. */
const MAX_TEXT = 2_000_000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str: Check = (v) => typeof v === 'string' && v.length <= MAX_TEXT;
const bool: Check = (v) => typeof v === 'boolean';
const count: Check = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const finite: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const oneOf =
  (...allowed: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && allowed.includes(v);
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || check(v);
const arrayOf =
  (check: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(check);
const shape =
  (fields: Record<string, Check>): Check =>
  (v) =>
    isRecord(v) && Object.entries(fields).every(([key, check]) => check(v[key]));

const statusAction = oneOf('showLog', 'selectModel', 'restartEngine', 'openServerSettings', 'setServerApiKey', 'retryServer');

const attachment = shape({ label: str, languageId: str, code: str, truncated: optional(bool) });
const stats = shape({ generatedTokens: count, decodeTokensPerSecond: finite, meanAcceptedLength: finite });

export const isTranscriptMessage = shape({
  id: str,
  role: oneOf('user', 'assistant'),
  text: str,
  kind: optional(oneOf('ask', 'explain')),
  attachment: optional(attachment),
  status: optional(oneOf('streaming', 'done', 'length', 'cancelled', 'error')),
  error: optional(str),
  errorActions: optional(arrayOf(statusAction)),
  stats: optional(stats),
  notice: optional(str),
  model: optional(str),
}) as (value: unknown) => value is TranscriptMessage;

const probeReport = shape({
  foreignScripts: count,
  handlerAttributes: count,
  unsafeUrls: count,
  forbiddenElements: count,
  payloadRan: bool,
  codeBlocks: count,
  highlightedBlocks: count,
  messages: arrayOf(shape({ role: str, text: str })),
});

/** One check per message type; the mapped type makes the compiler insist on every variant. */
const FROM_WEBVIEW: { [K in WebviewToExtension['type']]: Check } = {
  ready: shape({}),
  send: shape({ text: str, includeContext: bool }),
  stop: shape({}),
  newChat: shape({}),
  codeAction: shape({ action: oneOf('copy', 'insert', 'applyDiff'), code: str }),
  runAction: shape({ action: statusAction }),
  rendered: shape({ id: str, pieces: count, text: str }),
  probeResult: shape({ requestId: str, report: probeReport }),
};

const TO_WEBVIEW: { [K in ExtensionToWebview['type']]: Check } = {
  status: shape({ engine: oneOf('starting', 'ready', 'error', 'stopped'), detail: str, actions: arrayOf(statusAction) }),
  transcript: shape({ messages: arrayOf(isTranscriptMessage) }),
  append: shape({ message: isTranscriptMessage }),
  delta: shape({ id: str, text: str }),
  done: shape({ message: isTranscriptMessage }),
  probe: shape({ requestId: str }),
};

function matches(table: Record<string, Check>, value: unknown): boolean {
  if (!isRecord(value) || typeof value.type !== 'string') return false;
  // hasOwn, so `type: 'constructor'` or `'__proto__'` cannot reach a prototype property.
  return Object.hasOwn(table, value.type) && table[value.type]!(value);
}

/** Checks a message coming from the webview; the webview is untrusted input as far as the host is concerned. */
export function isWebviewToExtension(value: unknown): value is WebviewToExtension {
  return matches(FROM_WEBVIEW, value);
}

/** Checks a message arriving in the webview before it touches the DOM. */
export function isExtensionToWebview(value: unknown): value is ExtensionToWebview {
  return matches(TO_WEBVIEW, value);
}
