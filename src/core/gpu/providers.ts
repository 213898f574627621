/**
 * Which onnxruntime execution providers this platform's build has, which GPU providers the engine tries
 * and in what order, and the session options each one needs.
 *
 * Order per platform (DESIGN §10.5): Windows DirectML, then WebGPU (D3D12); macOS WebGPU (Metal), then
 * CoreML; Linux CUDA when its opt-in libraries are installed, then WebGPU (Vulkan). The CPU provider is
 * the fallback everywhere and is never a candidate here.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { ProviderInfo, ProviderName } from './types';

export type GpuProvider = Exclude<ProviderName, 'cpu'>;

export function gpuCandidates(platform: NodeJS.Platform): GpuProvider[] {
  if (platform === 'win32') return ['dml', 'webgpu'];
  if (platform === 'darwin') return ['webgpu', 'coreml'];
  if (platform === 'linux') return ['cuda', 'webgpu'];
  return ['webgpu'];
}

const WEBGPU_API: Partial<Record<NodeJS.Platform, string>> = { win32: 'D3D12', darwin: 'Metal', linux: 'Vulkan' };

/** The folder holding this platform's onnxruntime binaries (where an opt-in CUDA install lands too). */
export function ortBinaryDir(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string | null {
  try {
    return join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', platform, arch);
  } catch {
    return null;
  }
}

function cudaInstalled(platform: NodeJS.Platform, arch: string): boolean {
  const dir = ortBinaryDir(platform, arch);
  return dir !== null && existsSync(join(dir, platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'));
}

export const CUDA_OPT_IN = 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node';

/**
 * The providers of this build: `backends` is onnxruntime-node's listSupportedBackends(); a provider it
 * lists as not bundled (CUDA) is present only when its libraries were installed.
 */
export function listProviders(backends: readonly { name: string; bundled: boolean }[], platform: NodeJS.Platform, arch: string, cuda = cudaInstalled(platform, arch)): ProviderInfo[] {
  const has = (name: string) => backends.find((b) => b.name === name);
  const out: ProviderInfo[] = [{ name: 'cpu', present: true, detail: 'always available' }];
  for (const name of gpuCandidates(platform)) {
    const backend = has(name);
    if (!backend) out.push({ name, present: false, detail: `not in the onnxruntime-node build for ${platform}-${arch}` });
    else if (name === 'cuda' && !backend.bundled && !cuda) out.push({ name, present: false, detail: `not installed (opt-in, needs CUDA 12 and cuDNN 9: ${CUDA_OPT_IN})` });
    else out.push({ name, present: true, detail: describe(name, platform) });
  }
  return out;
}

function describe(name: GpuProvider, platform: NodeJS.Platform): string {
  switch (name) {
    case 'webgpu':
      return `WebGPU over ${WEBGPU_API[platform] ?? 'the native graphics API'}`;
    case 'cuda':
      return 'CUDA 12 (opt-in install present)';
    case 'dml':
      return 'DirectML (D3D12)';
    case 'coreml':
      return 'Core ML (used only if it runs the whole model)';
  }
}

/**
 * Session options for one GPU provider. `resident` outputs stay on the device, which onnxruntime-node
 * supports for WebGPU only; the others return outputs to the host, so their KV cache lives there.
 */
export function providerOptions(name: GpuProvider, resident: readonly string[]): InferenceSession.SessionOptions {
  if (name === 'webgpu' && resident.length > 0) {
    return { executionProviders: ['webgpu'], preferredOutputLocation: Object.fromEntries(resident.map((n) => [n, 'gpu-buffer'] as const)) };
  }
  // DirectML cannot run with memory patterns or parallel execution (onnxruntime's documented requirement).
  if (name === 'dml') return { executionProviders: ['dml'], enableMemPattern: false, executionMode: 'sequential' };
  return { executionProviders: [name] };
}
