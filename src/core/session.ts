/**
 * Creates onnxruntime sessions on the requested device.
 *
 * - `cpu`: the CPU execution provider.
 * - `gpu`: WebGPU (Vulkan / D3D12 / Metal), or CUDA when its provider library is installed; fails loudly
 *   when none works.
 * - `auto`: tries the GPU and falls back to the CPU. onnxruntime does not fall back by itself
 *   (`['webgpu','cpu']` throws when WebGPU has no adapter), so the error is caught here.
 * Every decision is reported through `log`, with the reason.
 */
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import type * as ortTypes from 'onnxruntime-node';
import { DeviceError } from './errors';

export type DeviceRequest = 'auto' | 'gpu' | 'cpu';
export type DeviceKind = 'cpu' | 'webgpu' | 'cuda';
export type Ort = typeof ortTypes;
export type Session = ortTypes.InferenceSession;

export interface DeviceChoice {
  kind: DeviceKind;
  /** Why this device was chosen, in words for a log or a status bar tooltip. */
  reason: string;
}

export type Logger = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

let ortModule: Ort | undefined;

/** Loads onnxruntime-node lazily, so importing the core never loads a native addon. */
export function loadOrt(): Ort {
  if (ortModule === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ortModule = require('onnxruntime-node') as Ort;
  }
  return ortModule;
}

/** Threads for one session: enough to use the machine, few enough not to thrash on small models. */
export function defaultThreads(): number {
  const fromEnv = Number(process.env.CHIMERA_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return Math.max(1, Math.min(availableParallelism(), 8));
}

function cudaProviderInstalled(): boolean {
  try {
    const bin = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(bin, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

function baseOptions(threads: number): ortTypes.InferenceSession.SessionOptions {
  return { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
}

export interface SessionRequest {
  path: string;
  device: DeviceRequest;
  threads?: number;
  /** Output names to keep on the GPU (KV cache), when the session lands on a GPU. */
  gpuResidentOutputs?: readonly string[];
  log: Logger;
}

export interface CreatedSession {
  session: Session;
  device: DeviceChoice;
}

/**
 * On Linux a GPU shows up as device nodes; without any, asking WebGPU for an adapter only costs seconds
 * (Dawn probes Vulkan and GL) before failing, so skip it.
 */
function noGpuDeviceNodes(): string | null {
  if (process.platform !== 'linux' || process.env.CHIMERA_FORCE_GPU_PROBE) return null;
  try {
    const dri = existsSync('/dev/dri') ? readdirSync('/dev/dri') : [];
    const nvidia = readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n));
    return dri.length === 0 && !nvidia ? 'no GPU device nodes (/dev/dri, /dev/nvidia*)' : null;
  } catch {
    return null;
  }
}

async function tryGpu(req: SessionRequest, ort: Ort): Promise<CreatedSession | { errors: string[] }> {
  const errors: string[] = [];
  const absent = noGpuDeviceNodes();
  if (absent) return { errors: [absent] };
  const candidates: DeviceKind[] = cudaProviderInstalled() ? ['cuda', 'webgpu'] : ['webgpu'];
  for (const kind of candidates) {
    try {
      // onnxruntime-node keeps outputs on the device only for WebGPU; CUDA outputs come back to the host.
      const resident = kind === 'webgpu' ? (req.gpuResidentOutputs ?? []) : [];
      const preferredOutputLocation = Object.fromEntries(resident.map((n) => [n, 'gpu-buffer'] as const));
      const session = await ort.InferenceSession.create(req.path, {
        ...baseOptions(req.threads ?? defaultThreads()),
        executionProviders: [kind],
        ...(resident.length > 0 ? { preferredOutputLocation } : {}),
      });
      return { session, device: { kind, reason: `${kind} execution provider initialised` } };
    } catch (err) {
      errors.push(`${kind}: ${firstLine(err)}`);
    }
  }
  return { errors };
}

export async function createSession(req: SessionRequest): Promise<CreatedSession> {
  const ort = loadOrt();
  if (req.device !== 'cpu') {
    const gpu = await tryGpu(req, ort);
    if ('session' in gpu) {
      req.log('info', `device: ${gpu.device.kind} for ${req.path} (${gpu.device.reason})`);
      return gpu;
    }
    const why = gpu.errors.join('; ');
    if (req.device === 'gpu') {
      throw new DeviceError(`no usable GPU: ${why}. Set chimera.device to "auto" or "cpu" to run on the CPU.`);
    }
    req.log('warn', `device: GPU unavailable (${why}); falling back to the CPU`);
    const session = await ort.InferenceSession.create(req.path, { ...baseOptions(req.threads ?? defaultThreads()), executionProviders: ['cpu'] });
    return { session, device: { kind: 'cpu', reason: `GPU unavailable (${why}); using the CPU` } };
  }
  const session = await ort.InferenceSession.create(req.path, { ...baseOptions(req.threads ?? defaultThreads()), executionProviders: ['cpu'] });
  req.log('info', `device: cpu for ${req.path} (requested)`);
  return { session, device: { kind: 'cpu', reason: 'CPU requested in settings' } };
}

/** onnxruntime's messages carry source paths and assertion text; keep what a user can act on. */
function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const adapter = /Failed to get a WebGPU adapter: (.*)/.exec(text);
  if (adapter) return `no WebGPU adapter (${adapter[1]!.trim()})`;
  const line = text.split('\n')[0]!.trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
