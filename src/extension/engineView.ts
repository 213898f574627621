/**
 * What the chat header and the status bar say about the engine, computed from one snapshot of it.
 * Pure (no vscode) so every state, a model switch included, is unit-tested.
 *
 * The rule: error styling only for a real failure. While a start or a model switch is loading, both
 * show a neutral "Loading <model>…", whatever the client passes through on the way (the old engine is
 * still ready while it shuts down; a stop is part of a switch), and the previous model's speed is gone.
 */
import { EngineState } from '../engine/lifecycle';
import type { DeviceInfo, GenerationStats, ModelInfo } from '../protocol';
import type { EngineStatusKind, StatusAction } from '../webview/messages';

export interface EngineSnapshot {
  state: EngineState;
  /** What the running engine loaded; null before the first start. */
  info: { model: Pick<ModelInfo, 'name' | 'path'>; device: DeviceInfo } | null;
  lastError: string | null;
  /** The model a start or a switch under way is loading (see modelLabel), until it is ready or failed. */
  loading: string | null;
}

export interface ChatStatus {
  type: 'status';
  engine: EngineStatusKind;
  detail: string;
  actions: StatusAction[];
}

export interface StatusBarView {
  text: string;
  tooltip: string;
  /** Error colours: only when the engine has really failed. */
  error: boolean;
  /** The GPU was asked for (or allowed) but the CPU runs the model: the tooltip links to the GPU diagnostics. */
  gpuFallback?: boolean;
}

/** How a model setting reads in a sentence: the folder's name, or the bundled model. */
export function modelLabel(modelPath: string): string {
  const parts = modelPath.trim().split(/[\\/]+/).filter((p) => p.length > 0);
  return parts.at(-1) ?? 'the bundled model';
}

/** Buttons for an engine error: Select Model… when the model is the problem, else Restart. */
export function errorActions(message: string): StatusAction[] {
  const modelProblem = /model|chimera\.json|\.onnx|tokenizer/i.test(message);
  return modelProblem ? ['selectModel', 'showLog'] : ['restartEngine', 'showLog'];
}

function deviceName(info: EngineSnapshot['info']): string {
  return info?.device.kind === 'cpu' ? 'CPU' : `GPU (${info?.device.kind ?? 'unknown'})`;
}

/** The panel's status line. */
export function chatStatus(s: EngineSnapshot): ChatStatus {
  if (s.state === EngineState.Failed) {
    const message = s.lastError ?? 'unknown error';
    return { type: 'status', engine: 'error', detail: `The local engine is not running: ${message}`, actions: errorActions(message) };
  }
  if (s.loading !== null) return { type: 'status', engine: 'starting', detail: `Loading ${s.loading}…`, actions: [] };
  switch (s.state) {
    case EngineState.Starting:
      return { type: 'status', engine: 'starting', detail: 'Starting the local engine…', actions: [] };
    case EngineState.Restarting:
      return { type: 'status', engine: 'starting', detail: 'Restarting the local engine…', actions: ['showLog'] };
    case EngineState.Ready:
      return { type: 'status', engine: 'ready', detail: `Ready: ${s.info?.model.name ?? 'model'} on ${deviceName(s.info)}`, actions: [] };
    case EngineState.Stopped:
      return { type: 'status', engine: 'stopped', detail: 'The local engine is stopped.', actions: ['restartEngine', 'showLog'] };
  }
}

/**
 * The status bar item. `stats` must already be the loaded model's own (see LastStats); they show only
 * while that model is ready, never while another one loads.
 */
export function statusBarView(s: EngineSnapshot, stats: GenerationStats | null, inlineEnabled: boolean): StatusBarView {
  const off = inlineEnabled ? '' : ' $(circle-slash)';
  if (s.state === EngineState.Failed) {
    return { text: `$(error) Chimera${off}`, tooltip: `The local engine is not running: ${s.lastError ?? 'unknown error'}. Click for actions.`, error: true };
  }
  if (s.loading !== null) return { text: `$(loading~spin) Chimera${off}`, tooltip: `Loading ${s.loading}…`, error: false };
  switch (s.state) {
    case EngineState.Starting:
      return { text: `$(loading~spin) Chimera${off}`, tooltip: 'Starting the local engine…', error: false };
    case EngineState.Restarting:
      return { text: `$(loading~spin) Chimera${off}`, tooltip: `Restarting the local engine: ${s.lastError ?? ''}`, error: false };
    case EngineState.Ready:
      return readyView(s, stats, off);
    case EngineState.Stopped:
      return { text: `$(debug-stop) Chimera${off}`, tooltip: 'The local engine is stopped. Click for actions.', error: false };
  }
}

function readyView(s: EngineSnapshot, stats: GenerationStats | null, off: string): StatusBarView {
  const device = s.info?.device.kind === 'cpu' ? 'CPU' : 'GPU';
  const speed = stats ? ` · ${stats.decodeTokensPerSecond.toFixed(0)} tok/s · ${stats.meanAcceptedLength.toFixed(1)}/step` : '';
  const info = s.info;
  const where = info ? `${info.model.name} on ${info.device.kind} (${info.device.reason}).` : 'Ready.';
  const last = stats ? ` Last generation: ${stats.generatedTokens} tokens at ${stats.decodeTokensPerSecond.toFixed(1)} tok/s. It took ${Math.round(stats.totalMs)} ms, the first token after ${Math.round(stats.firstTokenMs)} ms.` : '';
  const fellBack = info !== null && info.device.kind === 'cpu' && info.device.requested !== 'cpu';
  return { text: `$(sparkle) Chimera ${device}${speed}${off}`, tooltip: `${where}${last} Local: your code stays on this machine. Click for actions.`, error: false, ...(fellBack ? { gpuFallback: true } : {}) };
}
