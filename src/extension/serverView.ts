/**
 * What the status bar, the chat header and notifications say about the shared server: one message and
 * its actions per failure kind, and the backend, model and last latency when it answers. Pure (no
 * vscode) so every case is unit-tested; backendService.ts shows them.
 */
import { RemoteError, type RemoteErrorKind } from '../backend/remote/errors';
import type { GenerationStats } from '../protocol';
import type { StatusAction } from '../webview/messages';
import type { ChatStatus, StatusBarView } from './engineView';

/** The commands behind the status actions, in notifications as in the chat panel. */
export const ACTION_COMMANDS: Readonly<Record<StatusAction, string>> = {
  showLog: 'chimera.showLog',
  selectModel: 'chimera.selectModel',
  restartEngine: 'chimera.restartEngine',
  openServerSettings: 'chimera.openServerSettings',
  setServerApiKey: 'chimera.setServerApiKey',
  retryServer: 'chimera.retryServer',
};


export type ServerState =
  | { kind: 'connecting' }
  | { kind: 'ready'; model: string; fim: string | null }
  | { kind: 'failed'; error: RemoteError };

export interface ServerSnapshot {
  /** The configured URL as written (may be empty or not a URL). */
  url: string;
  state: ServerState;
  /** The last generation's statistics from this server, if any. */
  last: GenerationStats | null;
}

export interface ServerProblem {
  message: string;
  actions: StatusAction[];
}

/** What a person can do about each kind of failure; the first action is the one most likely to fix it. */
const ACTIONS: Readonly<Record<RemoteErrorKind, StatusAction[]>> = {
  config: ['openServerSettings'],
  unreachable: ['retryServer', 'openServerSettings', 'showLog'],
  unauthorized: ['setServerApiKey'],
  modelNotFound: ['selectModel', 'openServerSettings'],
  noFimFormat: ['openServerSettings'],
  timeout: ['retryServer', 'openServerSettings'],
  busy: ['retryServer'],
  noRoute: ['openServerSettings', 'showLog'],
  server: ['showLog', 'retryServer'],
};

/** The first words of each message: what went wrong, before the server's own details. */
const HEADLINES: Readonly<Record<RemoteErrorKind, string>> = {
  config: 'The shared server is not set up',
  unreachable: 'The shared server cannot be reached. Is it running, and is chimera.server.url right?',
  unauthorized: 'The shared server refused the API key. Set the key it expects with "Chimera: Set Server API Key…"',
  modelNotFound: 'The shared server does not serve that model. Choose one it lists with "Chimera: Select Model…"',
  noFimFormat: 'Inline completion is off: no fill-in-the-middle format is known for this model. Choose one in chimera.server.fimFormat',
  timeout: 'The shared server did not answer in time. It may be overloaded, or chimera.server.timeoutMs too short',
  busy: 'The shared server is busy and asked to come back later',
  noRoute: 'The shared server lacks a route the settings need; check chimera.server.fimFormat for this server',
  server: 'The shared server failed the request',
};

/** A failure as the user reads it: a headline they can act on, the details, and the buttons. */
export function describeServerError(error: RemoteError): ServerProblem {
  return { message: `${HEADLINES[error.kind]} (${error.message}).`, actions: ACTIONS[error.kind] };
}

/** The host (and port) a URL names, for the status bar; the URL itself when it is not one. */
export function serverHost(url: string): string {
  try {
    return new URL(url.trim()).host || url;
  } catch {
    return url.trim() || 'no URL';
  }
}

/** The model's own name without an organisation prefix (`Qwen/Qwen2.5-Coder-7B` → `Qwen2.5-Coder-7B`). */
export function shortModel(id: string): string {
  return id.split('/').at(-1) || id;
}

/** A latency as it reads in the status bar: 240 ms, 1.3 s. */
export function formatLatency(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function serverStatusBarView(s: ServerSnapshot, inlineEnabled: boolean): StatusBarView {
  const off = inlineEnabled ? '' : ' $(circle-slash)';
  const host = serverHost(s.url);
  switch (s.state.kind) {
    case 'connecting':
      return { text: `$(loading~spin) Chimera ${host}${off}`, tooltip: `Connecting to the shared server at ${s.url}…`, error: false };
    case 'failed':
      return { text: `$(error) Chimera ${host}${off}`, tooltip: `${describeServerError(s.state.error).message} Click for actions.`, error: true };
    case 'ready': {
      const latency = s.last ? ` · ${formatLatency(s.last.totalMs)}` : '';
      const fim = s.state.fim ? `inline completion by ${s.state.fim}` : 'no inline completion (no FIM format for this model)';
      const last = s.last ? ` Last answer: ${s.last.generatedTokens} tokens in ${formatLatency(s.last.totalMs)}, the first after ${formatLatency(s.last.firstTokenMs)}.` : '';
      return { text: `$(cloud) Chimera ${host} · ${shortModel(s.state.model)}${latency}${off}`, tooltip: `Shared server ${s.url}, model ${s.state.model}, ${fim}.${last} Your code is sent to this server. Click for actions.`, error: false };
    }
  }
}

export function serverChatStatus(s: ServerSnapshot): ChatStatus {
  switch (s.state.kind) {
    case 'connecting':
      return { type: 'status', engine: 'starting', detail: `Connecting to the shared server at ${serverHost(s.url)}…`, actions: [] };
    case 'failed': {
      const problem = describeServerError(s.state.error);
      return { type: 'status', engine: 'error', detail: problem.message, actions: problem.actions };
    }
    case 'ready':
      return { type: 'status', engine: 'ready', detail: `Ready: ${s.state.model} on the shared server ${serverHost(s.url)}`, actions: [] };
  }
}

/** Any failure as a RemoteError (anything else the client threw counts as the server's). */
export function asRemoteError(err: unknown): RemoteError {
  return err instanceof RemoteError ? err : new RemoteError('server', err instanceof Error ? err.message : String(err));
}
