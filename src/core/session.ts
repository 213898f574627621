/**
 * Creates onnxruntime sessions on the requested device.
 *
 * - `cpu`: the CPU execution provider.
 * - `gpu`: the platform's GPU providers in order (gpu/providers.ts); fails loudly when none works.
 * - `auto`: the same, falling back to the CPU. onnxruntime does not fall back by itself
 *   (`['webgpu','cpu']` throws when WebGPU has no adapter), so each candidate is tried here.
 *
 * A candidate is refused without trying when it cannot help: absent from this build, or only a software
 * adapter to run on (SwiftShader, WARP), which is slower than the CPU provider and so is used only when
 * asked for (`allowSoftwareGpu`, or CHIMERA_ALLOW_SOFTWARE_GPU=1). A candidate that is tried must create
 * its session and run the graph once (gpu/smoke.ts). Every candidate's outcome and reason is kept in
 * the choice, for the log, the status bar and the GPU diagnostics.
 */
import { availableParallelism } from 'node:os';
import type * as ortTypes from 'onnxruntime-node';
import { DeviceError } from './errors';
import { scanAdapters, softwareOnly } from './gpu/adapters';
import { gpuCandidates, listProviders, providerOptions, type GpuProvider } from './gpu/providers';
import { smokeRun } from './gpu/smoke';
import type { AdapterScan, ProviderAttempt, ProviderInfo, ProviderName } from './gpu/types';

export type DeviceRequest = 'auto' | 'gpu' | 'cpu';
export type DeviceKind = ProviderName;
export type Ort = typeof ortTypes;
export type Session = ortTypes.InferenceSession;

export interface DeviceChoice {
  kind: DeviceKind;
  /** Why this device was chosen, in words for a log or a status bar tooltip. */
  reason: string;
  /** Whether the adapter renders on the CPU (allowed only when asked for). */
  software: boolean;
  /** Every GPU candidate of this platform and what became of it; empty when the CPU was requested. */
  attempts: ProviderAttempt[];
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

/** CHIMERA_ALLOW_SOFTWARE_GPU=1 (or the older CHIMERA_FORCE_GPU_PROBE=1) lets a software adapter run the model. */
export function softwareGpuAllowedByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['CHIMERA_ALLOW_SOFTWARE_GPU', 'CHIMERA_FORCE_GPU_PROBE'].some((k) => /^(1|true|yes)$/i.test(env[k] ?? ''));
}

export const SOFTWARE_GPU_HINT = 'chimera.gpu.allowSoftware or CHIMERA_ALLOW_SOFTWARE_GPU=1';

export interface GpuEnvironment {
  providers: ProviderInfo[];
  scan: AdapterScan;
}

let environment: Promise<GpuEnvironment> | undefined;

/** What this process's onnxruntime and machine offer; scanned once (on Windows and macOS it runs a system tool). */
export function gpuEnvironment(): Promise<GpuEnvironment> {
  environment ??= scanAdapters().then((scan) => ({ providers: listProviders(loadOrt().listSupportedBackends(), process.platform, process.arch), scan }));
  return environment;
}

function baseOptions(threads: number): ortTypes.InferenceSession.SessionOptions {
  // Errors only: on a GPU provider onnxruntime warns at every load that shape operations run on the CPU,
  // which is by design and would bury the engine's own log lines.
  return { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential', logSeverityLevel: 3 };
}

export interface SessionRequest {
  path: string;
  device: DeviceRequest;
  /** Exactly this provider, without fallback (the draft follows the target; diagnostics measure each one). */
  provider?: ProviderName;
  /** Whether a software adapter may run the model (default: CHIMERA_ALLOW_SOFTWARE_GPU). */
  allowSoftwareGpu?: boolean;
  threads?: number;
  /** Output names to keep on the GPU (KV cache), when the session lands on WebGPU. */
  gpuResidentOutputs?: readonly string[];
  /** Whether a CPU session keeps onnxruntime's memory arena (default true; see cpuArenaFor). */
  arena?: boolean;
  log: Logger;
}

export interface CreatedSession {
  session: Session;
  device: DeviceChoice;
}

/** Why a provider is not even tried here, or null when it should be. */
export function refusal(provider: GpuProvider, env: GpuEnvironment, allowSoftware: boolean): string | null {
  const info = env.providers.find((p) => p.name === provider);
  if (!info?.present) return info?.detail ?? `not available on ${process.platform}`;
  const nodes = env.scan.deviceNodes;
  if (provider === 'cuda' && nodes !== null && !nodes.some((n) => n.startsWith('/dev/nvidia'))) return 'no NVIDIA device (/dev/nvidia*)';
  const soft = softwareOnly(env.scan, provider);
  if (soft && !allowSoftware) return `${soft}; a software adapter is slower than the CPU provider, so it is used only when asked for (${SOFTWARE_GPU_HINT})`;
  return null;
}

/** Creates a session on one GPU provider and runs it once; throws if either fails. */
export async function openOn(provider: GpuProvider, req: SessionRequest): Promise<Session> {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(req.path, { ...baseOptions(req.threads ?? defaultThreads()), ...providerOptions(provider, req.gpuResidentOutputs ?? []) });
  try {
    await smokeRun(ort, session);
  } catch (err) {
    await session.release();
    throw new Error(`could not run the model: ${firstLine(err)}`);
  }
  return session;
}

async function tryGpu(req: SessionRequest): Promise<{ created: CreatedSession | null; attempts: ProviderAttempt[] }> {
  const env = await gpuEnvironment();
  const allow = req.allowSoftwareGpu ?? softwareGpuAllowedByEnv();
  const candidates = req.provider && req.provider !== 'cpu' ? [req.provider] : gpuCandidates(process.platform);
  const attempts: ProviderAttempt[] = [];
  let created: CreatedSession | null = null;
  for (const provider of candidates) {
    const refused = refusal(provider, env, allow);
    if (refused) attempts.push({ provider, outcome: 'refused', reason: refused });
    else if (created) attempts.push({ provider, outcome: 'skipped', reason: `${created.device.kind} came first` });
    else {
      try {
        const session = await openOn(provider, req);
        const software = softwareOnly(env.scan, provider) !== null;
        const reason = `${provider} execution provider initialised${software ? ' on a software adapter (asked for)' : ''}`;
        attempts.push({ provider, outcome: 'chosen', reason });
        created = { session, device: { kind: provider, reason, software, attempts } };
      } catch (err) {
        attempts.push({ provider, outcome: 'failed', reason: firstLine(err) });
      }
    }
  }
  return { created, attempts };
}

/**
 * Whether a CPU session for a model of this width keeps onnxruntime's memory arena. The arena keeps what
 * its largest run needed for the session's life, and never gives it back: after a 512-token prompt a
 * 0.5B model's engine held about 60 MB more than while decoding needed. Without it, a prompt's buffers go
 * back when the run ends (with the engine's fixed mmap threshold, launch.ts), and on a model this wide the
 * allocations cost nothing measurable (0.5B int8: the same prompt and decode speeds). A narrow model keeps
 * it: its sub-millisecond steps are overhead-bound, and the arena is part of what makes them cheap.
 */
export function cpuArenaFor(width: number): boolean {
  return width < 512;
}

/** A session on the CPU provider (the engine's settings for it). */
export function openCpu(path: string, threads = defaultThreads(), arena = true): Promise<Session> {
  return loadOrt().InferenceSession.create(path, { ...baseOptions(threads), enableCpuMemArena: arena, executionProviders: ['cpu'] });
}

async function cpuSession(req: SessionRequest, reason: string, attempts: ProviderAttempt[]): Promise<CreatedSession> {
  return { session: await openCpu(req.path, req.threads, req.arena), device: { kind: 'cpu', reason, software: false, attempts } };
}

export async function createSession(req: SessionRequest): Promise<CreatedSession> {
  if (req.device === 'cpu' || req.provider === 'cpu') {
    req.log('info', `device: cpu for ${req.path} (requested)`);
    return cpuSession(req, 'CPU requested in settings', []);
  }
  const { created, attempts } = await tryGpu(req);
  if (created) {
    req.log('info', `device: ${created.device.kind} for ${req.path} (${created.device.reason})`);
    return created;
  }
  const why = attempts.map((a) => `${a.provider}: ${a.reason}`).join('; ');
  if (req.device === 'gpu' || req.provider) {
    throw new DeviceError(`no usable GPU: ${why}. Set chimera.device to "auto" or "cpu" to run on the CPU.`);
  }
  req.log('warn', `device: GPU unavailable (${why}); falling back to the CPU`);
  return cpuSession(req, `GPU unavailable (${why}); using the CPU`, attempts);
}

/** onnxruntime's messages carry source paths and assertion text; keep what a user can act on. */
export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const adapter = /Failed to get a WebGPU adapter: (.*)/.exec(text);
  if (adapter) return `no WebGPU adapter (${adapter[1]!.trim()})`;
  const line = text.split('\n')[0]!.trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
