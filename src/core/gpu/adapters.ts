/**
 * Finds the graphics adapters a machine offers, without a GPU API: onnxruntime-node does not say which
 * adapter its WebGPU provider picked, so the engine reads what the platform publishes instead.
 *
 * - Linux: the Vulkan driver manifests (ICDs) the Vulkan loader would read, whether the loader itself is
 *   installed, GPU device nodes, and display controllers on the PCI bus (a GPU without a Vulkan driver is
 *   the most common reason WebGPU finds nothing).
 * - macOS: `system_profiler SPDisplaysDataType -json` (Metal; never a software adapter).
 * - Windows: `Win32_VideoController` through PowerShell (D3D12; the Basic Render Driver is software).
 *
 * All reads go through ScanIo, so every rule is unit-tested on recorded files and tool outputs.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import type { AdapterInfo, AdapterScan } from './types';

export interface ScanIo {
  readText(path: string): string | null;
  /** Entries of a folder; empty when it does not exist. */
  list(dir: string): string[];
  exists(path: string): boolean;
  /** Runs a program without a shell; rejects on failure or timeout. */
  run(command: string, args: readonly string[], timeoutMs: number): Promise<string>;
}

export const realIo: ScanIo = {
  readText: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  },
  list: (dir) => {
    try {
      return readdirSync(dir).sort();
    } catch {
      return [];
    }
  },
  exists: (path) => existsSync(path),
  run: (command, args, timeoutMs) =>
    new Promise((resolve, reject) => {
      execFile(command, [...args], { timeout: timeoutMs, windowsHide: true, maxBuffer: 4 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    }),
};

/** Known Vulkan drivers by their library or manifest name: who makes them, and whether they run on the CPU. */
const VULKAN_DRIVERS: readonly { match: RegExp; name: string; vendor: string; software?: true }[] = [
  { match: /swiftshader/i, name: 'SwiftShader', vendor: 'Google', software: true },
  { match: /lvp|lavapipe/i, name: 'lavapipe (llvmpipe)', vendor: 'Mesa', software: true },
  { match: /nvidia/i, name: 'NVIDIA Vulkan driver', vendor: 'NVIDIA' },
  { match: /radeon/i, name: 'RADV', vendor: 'AMD (Mesa)' },
  { match: /amdvlk|amd_icd/i, name: 'AMDVLK', vendor: 'AMD' },
  { match: /intel/i, name: 'ANV', vendor: 'Intel (Mesa)' },
  { match: /nouveau/i, name: 'NVK', vendor: 'NVIDIA (Mesa)' },
  { match: /freedreno/i, name: 'Turnip', vendor: 'Qualcomm (Mesa)' },
  { match: /panfrost/i, name: 'PanVK', vendor: 'Arm (Mesa)' },
  { match: /broadcom/i, name: 'V3DV', vendor: 'Broadcom (Mesa)' },
  { match: /asahi/i, name: 'Honeykrisp', vendor: 'Apple (Asahi)' },
  { match: /virtio/i, name: 'Venus (virtio-gpu)', vendor: "the virtual machine's host" },
  { match: /dzn/i, name: 'Dozen (Vulkan on D3D12)', vendor: 'Microsoft (Mesa)' },
];

/** PCI vendor ids of display controllers. */
const PCI_VENDORS: Record<string, string> = {
  '0x10de': 'NVIDIA',
  '0x1002': 'AMD',
  '0x8086': 'Intel',
  '0x1af4': 'virtio',
  '0x1234': 'QEMU',
  '0x15ad': 'VMware',
  '0x1414': 'Microsoft Hyper-V',
  '0x80ee': 'VirtualBox',
  '0x1a03': 'ASPEED (server management VGA)',
  '0x5143': 'Qualcomm',
};

/** A Vulkan driver manifest, described; null when it is not one. */
export function describeIcd(file: string, text: string): AdapterInfo | null {
  let library: unknown;
  try {
    library = (JSON.parse(text) as { ICD?: { library_path?: unknown } }).ICD?.library_path;
  } catch {
    return null;
  }
  if (typeof library !== 'string') return null;
  const label = `${basename(library)} ${basename(file)}`;
  const known = VULKAN_DRIVERS.find((d) => d.match.test(label));
  return {
    name: known?.name ?? basename(library),
    vendor: known?.vendor ?? 'unknown',
    backend: 'vulkan',
    software: known?.software ?? false,
    source: file,
  };
}

/**
 * The manifests the Vulkan loader reads: VK_DRIVER_FILES / VK_ICD_FILENAMES (files or folders) when
 * set, which replace the search; else the standard folders, in the loader's order.
 */
export function icdFiles(env: NodeJS.ProcessEnv, io: ScanIo): string[] {
  const override = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  const entries = override
    ? override.split(':').filter((p) => p.length > 0)
    : [
        join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'vulkan/icd.d'),
        ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':').map((d) => join(d, 'vulkan/icd.d')),
        '/etc/vulkan/icd.d',
        join(env.XDG_DATA_HOME || join(homedir(), '.local/share'), 'vulkan/icd.d'),
        ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':').map((d) => join(d, 'vulkan/icd.d')),
      ];
  const files: string[] = [];
  for (const entry of [...new Set(entries)]) {
    if (entry.endsWith('.json')) files.push(entry);
    else files.push(...io.list(entry).filter((f) => f.endsWith('.json')).map((f) => join(entry, f)));
  }
  return files;
}

/** Folders where the dynamic linker finds libvulkan.so.1 (LD_LIBRARY_PATH first). */
function libraryDirs(env: NodeJS.ProcessEnv): string[] {
  const triplets = ['x86_64-linux-gnu', 'aarch64-linux-gnu'];
  return [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d.length > 0),
    ...triplets.flatMap((t) => [`/usr/lib/${t}`, `/lib/${t}`]),
    '/usr/lib64',
    '/lib64',
    '/usr/lib',
    '/lib',
    '/usr/local/lib',
  ];
}

function pciDisplays(io: ScanIo): string[] {
  const root = '/sys/bus/pci/devices';
  const found: string[] = [];
  for (const dev of io.list(root)) {
    const cls = io.readText(join(root, dev, 'class'))?.trim() ?? '';
    if (!cls.startsWith('0x03')) continue; // PCI class 0x03: display controllers
    const vendor = io.readText(join(root, dev, 'vendor'))?.trim() ?? '?';
    const device = io.readText(join(root, dev, 'device'))?.trim() ?? '?';
    found.push(`${PCI_VENDORS[vendor] ?? `vendor ${vendor}`} display controller ${vendor.slice(2)}:${device.slice(2)} at ${dev}`);
  }
  return found;
}

/** NVIDIA GPUs the kernel driver reports, with their model names (what CUDA would run on). */
function nvidiaGpus(io: ScanIo): AdapterInfo[] {
  const root = '/proc/driver/nvidia/gpus';
  return io.list(root).map((bus) => {
    const info = io.readText(join(root, bus, 'information')) ?? '';
    const model = /^Model:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? `NVIDIA GPU at ${bus}`;
    return { name: model, vendor: 'NVIDIA', backend: 'cuda', software: false, source: join(root, bus, 'information') };
  });
}

export function scanLinux(env: NodeJS.ProcessEnv, io: ScanIo): AdapterScan {
  const notes: string[] = [];
  const icds = icdFiles(env, io);
  const vulkan = icds.map((f) => {
    const text = io.readText(f);
    const adapter = text === null ? null : describeIcd(f, text);
    if (!adapter) notes.push(`${f} is not a readable Vulkan driver manifest`);
    return adapter;
  });
  const deviceNodes = [...io.list('/dev/dri').map((n) => `/dev/dri/${n}`), ...io.list('/dev').filter((n) => /^nvidia\d+$/.test(n)).map((n) => `/dev/${n}`)];
  if (icds.length === 0) notes.push('no Vulkan driver manifest (ICD) found, so WebGPU has no Vulkan adapter to use: install your GPU\'s Vulkan driver (Debian/Ubuntu: mesa-vulkan-drivers, or the NVIDIA driver)');
  if (!libraryDirs(env).some((d) => io.exists(join(d, 'libvulkan.so.1')))) notes.push('the Vulkan loader (libvulkan.so.1) is not installed, so WebGPU cannot reach any Vulkan driver (Debian/Ubuntu: apt install libvulkan1)');
  if (deviceNodes.length === 0) notes.push('no GPU device nodes (/dev/dri/*, /dev/nvidia*): no GPU driver is loaded, or this process (a container, a sandbox) cannot see it');
  return { adapters: [...vulkan.filter((a): a is AdapterInfo => a !== null), ...nvidiaGpus(io)], hardware: pciDisplays(io), deviceNodes, notes };
}

/** Parses `system_profiler SPDisplaysDataType -json`. */
export function parseMacDisplays(json: string): AdapterInfo[] {
  const items = (JSON.parse(json) as { SPDisplaysDataType?: { sppci_model?: string; _name?: string; spdisplays_vendor?: string }[] }).SPDisplaysDataType ?? [];
  return items.map((it) => ({
    name: it.sppci_model ?? it._name ?? 'unknown GPU',
    vendor: (it.spdisplays_vendor ?? 'unknown').replace(/^sppci_vendor_/, ''),
    backend: 'metal',
    software: false,
    source: 'system_profiler SPDisplaysDataType',
  }));
}

/** Parses PowerShell's ConvertTo-Json of Win32_VideoController (one object, or an array of them). */
export function parseWindowsControllers(json: string): AdapterInfo[] {
  const parsed = JSON.parse(json) as unknown;
  const items = (Array.isArray(parsed) ? parsed : [parsed]) as { Name?: string; AdapterCompatibility?: string; PNPDeviceID?: string }[];
  return items.map((it) => {
    const name = it.Name ?? 'unknown adapter';
    // WARP ("Microsoft Basic Render Driver") and the basic display driver render on the CPU.
    const software = /Microsoft Basic (Render|Display)|Remote Display/i.test(name) || /^ROOT\\BasicRender/i.test(it.PNPDeviceID ?? '');
    return { name, vendor: it.AdapterCompatibility ?? 'unknown', backend: 'd3d12', software, source: 'Win32_VideoController' };
  });
}

const TOOL_TIMEOUT_MS = 10_000;

async function fromTool(io: ScanIo, what: string, command: string, args: string[], parse: (out: string) => AdapterInfo[]): Promise<AdapterScan> {
  try {
    return { adapters: parse(await io.run(command, args, TOOL_TIMEOUT_MS)), hardware: [], deviceNodes: null, notes: [] };
  } catch (err) {
    return { adapters: [], hardware: [], deviceNodes: null, notes: [`could not list ${what} (${command}: ${(err as Error).message.split('\n')[0]})`] };
  }
}

export function scanAdapters(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, io: ScanIo = realIo): Promise<AdapterScan> {
  if (platform === 'linux') return Promise.resolve(scanLinux(env, io));
  if (platform === 'darwin') return fromTool(io, 'the Metal GPUs', 'system_profiler', ['SPDisplaysDataType', '-json'], parseMacDisplays);
  if (platform === 'win32') {
    const query = 'Get-CimInstance Win32_VideoController | Select-Object Name,AdapterCompatibility,PNPDeviceID | ConvertTo-Json -Compress';
    return fromTool(io, 'the display adapters', 'powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', query], parseWindowsControllers);
  }
  return Promise.resolve({ adapters: [], hardware: [], deviceNodes: null, notes: [`adapters are not listed on ${platform}`] });
}

/**
 * Why every adapter a GPU provider could get here would be a software renderer, or null when a hardware
 * one may be there. Only positive evidence counts, so an unusual set-up is tried rather than refused.
 */
export function softwareOnly(scan: AdapterScan, provider: 'webgpu' | 'cuda' | 'dml' | 'coreml'): string | null {
  if (provider === 'cuda') return null; // CUDA runs on NVIDIA hardware or not at all
  if (scan.deviceNodes !== null && scan.deviceNodes.length === 0) {
    const soft = scan.adapters.filter((a) => a.software).map((a) => a.name);
    return `no GPU device nodes (/dev/dri, /dev/nvidia*), so any adapter would render on the CPU${soft.length > 0 ? ` (${soft.join(', ')})` : ''}`;
  }
  const relevant = scan.adapters.filter((a) => a.backend !== 'cuda');
  if (relevant.length > 0 && relevant.every((a) => a.software)) return `the only adapters are software renderers (${relevant.map((a) => a.name).join(', ')})`;
  return null;
}
