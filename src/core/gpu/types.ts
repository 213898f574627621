/**
 * The data of GPU selection and diagnosis, as plain JSON: what onnxruntime offers here, which adapters
 * the machine has, what each execution provider candidate came to, and what one token costs on each.
 * The engine sends these over the protocol (src/protocol re-exports them), so they hold no classes.
 */

/** onnxruntime execution providers the engine knows how to use. */
export type ProviderName = 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';

export interface ProviderInfo {
  name: ProviderName;
  /** Whether this platform's onnxruntime-node build can use it now. */
  present: boolean;
  /** Why not, or what it runs on ("WebGPU over Vulkan", "not installed: …"). */
  detail: string;
}

/** A graphics adapter or driver the machine offers to a provider. */
export interface AdapterInfo {
  name: string;
  vendor: string;
  backend: 'vulkan' | 'd3d12' | 'metal' | 'cuda';
  /** A renderer that runs on the CPU (SwiftShader, lavapipe, WARP): slower than the CPU provider itself. */
  software: boolean;
  /** Where it was found: a Vulkan driver manifest, a driver file, a system tool. */
  source: string;
}

export interface AdapterScan {
  adapters: AdapterInfo[];
  /** GPUs seen on the PCI bus (Linux), whatever drivers they have; empty where not scanned. */
  hardware: string[];
  /** GPU device nodes (Linux: /dev/dri/*, /dev/nvidia*); null where the platform has none to look at. */
  deviceNodes: string[] | null;
  /** Findings a person can act on ("the Vulkan loader libvulkan.so.1 is not installed"). */
  notes: string[];
}

/** What became of one provider candidate when a session was created. */
export interface ProviderAttempt {
  provider: ProviderName;
  /**
   * chosen: runs the model; usable: works, but another was chosen; skipped: not tried, another was chosen
   * first; refused: not tried, by rule; failed: tried and broke.
   */
  outcome: 'chosen' | 'usable' | 'skipped' | 'refused' | 'failed';
  reason: string;
}

export interface ProviderCost {
  provider: ProviderName;
  software: boolean;
  /** c(1): ms for the target to verify one token after a few hundred cached ones; absent when it failed. */
  c1Ms?: number;
  error?: string;
}

export interface GpuDiagnostics {
  platform: { os: string; arch: string; node: string; electron?: string; onnxruntime: string };
  request: { device: 'auto' | 'gpu' | 'cpu'; allowSoftware: boolean };
  providers: ProviderInfo[];
  scan: AdapterScan;
  chosen: { provider: ProviderName; software: boolean; reason: string } | null;
  /** Every GPU candidate of this platform, in the order tried, with its outcome. */
  attempts: ProviderAttempt[];
  costs: ProviderCost[];
  model: { name: string; path: string } | null;
}
