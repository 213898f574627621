/**
 * GPU selection and diagnosis rules, on recorded platform data: the provider order per platform, which
 * providers a build has, what the adapter scan makes of Vulkan manifests, device nodes, system tools'
 * output, when a candidate is refused without trying, and the report a person reads.
 */
import * as assert from 'node:assert/strict';
import { describeIcd, icdFiles, parseMacDisplays, parseWindowsControllers, scanAdapters, scanLinux, softwareOnly, type ScanIo } from '../../src/core/gpu/adapters';
import { formatDiagnostics } from '../../src/core/gpu/format';
import { gpuCandidates, listProviders, providerOptions } from '../../src/core/gpu/providers';
import type { AdapterScan, GpuDiagnostics } from '../../src/core/gpu/types';
import { refusal, softwareGpuAllowedByEnv, type GpuEnvironment } from '../../src/core/session';

/** A file system and tool runner made of recorded answers. */
function fakeIo(files: Record<string, string>, tools: Record<string, string> = {}): ScanIo {
  return {
    readText: (path) => files[path] ?? null,
    list: (dir) => [...new Set(Object.keys(files).filter((p) => p.startsWith(`${dir}/`)).map((p) => p.slice(dir.length + 1).split('/')[0]!))].sort(),
    exists: (path) => path in files,
    run: async (command) => {
      if (!(command in tools)) throw new Error(`${command}: not found`);
      return tools[command]!;
    },
  };
}

const SWIFTSHADER_ICD = '{"file_format_version": "1.0.0", "ICD": {"library_path": "./libvk_swiftshader.so", "api_version": "1.0.5"}}';
const NVIDIA_ICD = '{"file_format_version": "1.0.1", "ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3.277"}}';
const NO_ENV = { HOME: '/home/u' };

describe('GPU providers per platform', () => {
  it('tries DirectML then WebGPU on Windows, WebGPU then Core ML on macOS, CUDA then WebGPU on Linux', () => {
    assert.deepEqual(gpuCandidates('win32'), ['dml', 'webgpu']);
    assert.deepEqual(gpuCandidates('darwin'), ['webgpu', 'coreml']);
    assert.deepEqual(gpuCandidates('linux'), ['cuda', 'webgpu']);
  });

  it("reads the build's providers: CUDA counts only once its opt-in libraries are installed", () => {
    // onnxruntime-node 1.30's listSupportedBackends() on linux-x64 (recorded on this machine).
    const linux = [{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'cuda', bundled: false }, { name: 'tensorrt', bundled: false }];
    const without = listProviders(linux, 'linux', 'x64', false);
    assert.deepEqual(without.map((p) => [p.name, p.present]), [['cpu', true], ['cuda', false], ['webgpu', true]]);
    assert.match(without.find((p) => p.name === 'cuda')!.detail, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
    assert.equal(listProviders(linux, 'linux', 'x64', true).find((p) => p.name === 'cuda')!.present, true);
    assert.match(without.find((p) => p.name === 'webgpu')!.detail, /Vulkan/);
  });

  it('names what a Windows or macOS build lacks, and what each provider runs on', () => {
    const win = listProviders([{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }], 'win32', 'arm64', false);
    assert.deepEqual(win.map((p) => [p.name, p.present]), [['cpu', true], ['dml', false], ['webgpu', true]]);
    assert.match(win.find((p) => p.name === 'dml')!.detail, /not in the onnxruntime-node build for win32-arm64/);
    assert.match(win.find((p) => p.name === 'webgpu')!.detail, /D3D12/);
    const mac = listProviders([{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'coreml', bundled: true }], 'darwin', 'arm64', false);
    assert.deepEqual(mac.map((p) => [p.name, p.present]), [['cpu', true], ['webgpu', true], ['coreml', true]]);
    assert.match(mac.find((p) => p.name === 'webgpu')!.detail, /Metal/);
  });

  it('keeps the KV cache on the device only on WebGPU, and runs DirectML as it requires', () => {
    assert.deepEqual(providerOptions('webgpu', ['present.0.key']), { executionProviders: ['webgpu'], preferredOutputLocation: { 'present.0.key': 'gpu-buffer' } });
    assert.deepEqual(providerOptions('cuda', ['present.0.key']), { executionProviders: ['cuda'] });
    assert.deepEqual(providerOptions('dml', []), { executionProviders: ['dml'], enableMemPattern: false, executionMode: 'sequential' });
  });

  it('lets a software adapter run only when CHIMERA_ALLOW_SOFTWARE_GPU (or the older probe flag) says so', () => {
    assert.equal(softwareGpuAllowedByEnv({}), false);
    assert.equal(softwareGpuAllowedByEnv({ CHIMERA_ALLOW_SOFTWARE_GPU: '0' }), false);
    assert.equal(softwareGpuAllowedByEnv({ CHIMERA_ALLOW_SOFTWARE_GPU: 'true' }), true);
    assert.equal(softwareGpuAllowedByEnv({ CHIMERA_FORCE_GPU_PROBE: '1' }), true);
  });
});

describe('GPU adapter scan', () => {
  it('tells software Vulkan drivers from hardware ones by their manifests', () => {
    assert.deepEqual(describeIcd('/usr/lib/chromium/vk_swiftshader_icd.json', SWIFTSHADER_ICD), { name: 'SwiftShader', vendor: 'Google', backend: 'vulkan', software: true, source: '/usr/lib/chromium/vk_swiftshader_icd.json' });
    assert.equal(describeIcd('/usr/share/vulkan/icd.d/nvidia_icd.json', NVIDIA_ICD)!.vendor, 'NVIDIA');
    assert.equal(describeIcd('/usr/share/vulkan/icd.d/lvp_icd.x86_64.json', '{"ICD": {"library_path": "/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"}}')!.software, true);
    assert.equal(describeIcd('/x.json', 'not json'), null);
    assert.equal(describeIcd('/x.json', '{"ICD": {}}'), null);
  });

  it("reads the manifests the Vulkan loader would: the override variable's files and folders, else the standard folders", () => {
    const io = fakeIo({ '/opt/icds/a.json': '', '/opt/icds/readme.txt': '', '/usr/share/vulkan/icd.d/nvidia_icd.json': '' });
    assert.deepEqual(icdFiles({ VK_ICD_FILENAMES: '/one/swiftshader.json:/opt/icds' }, io), ['/one/swiftshader.json', '/opt/icds/a.json']);
    assert.deepEqual(icdFiles({ VK_DRIVER_FILES: '/opt/icds', VK_ICD_FILENAMES: '/ignored.json' }, io), ['/opt/icds/a.json'], 'the newer variable wins');
    assert.deepEqual(icdFiles(NO_ENV, io), ['/usr/share/vulkan/icd.d/nvidia_icd.json']);
  });

  it('on a machine with no GPU, finds only SwiftShader and says why WebGPU would render on the CPU', () => {
    const scan = scanLinux({ VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' }, fakeIo({ '/usr/lib/chromium/vk_swiftshader_icd.json': SWIFTSHADER_ICD, '/usr/lib/x86_64-linux-gnu/libvulkan.so.1': '' }));
    assert.deepEqual(scan.adapters.map((a) => a.name), ['SwiftShader']);
    assert.deepEqual(scan.deviceNodes, []);
    assert.ok(scan.notes.some((n) => /no GPU device nodes/.test(n)));
    assert.ok(!scan.notes.some((n) => /loader/.test(n)), 'the loader is installed');
    assert.match(softwareOnly(scan, 'webgpu')!, /SwiftShader/);
    assert.equal(softwareOnly(scan, 'cuda'), null, 'CUDA never runs on a software adapter');
  });

  it('on an NVIDIA machine, finds the GPU by name, its Vulkan driver and its PCI display controller', () => {
    const io = fakeIo({
      '/usr/share/vulkan/icd.d/nvidia_icd.json': NVIDIA_ICD,
      '/usr/lib/x86_64-linux-gnu/libvulkan.so.1': '',
      '/dev/nvidia0': '',
      '/dev/nvidiactl': '',
      '/proc/driver/nvidia/gpus/0000:19:00.0/information': 'Model: \t\t NVIDIA H200\nIRQ: 42\n',
      '/sys/bus/pci/devices/0000:19:00.0/class': '0x030200\n',
      '/sys/bus/pci/devices/0000:19:00.0/vendor': '0x10de\n',
      '/sys/bus/pci/devices/0000:19:00.0/device': '0x2335\n',
      '/sys/bus/pci/devices/0000:00:1f.0/class': '0x060100\n',
    });
    const scan = scanLinux(NO_ENV, io);
    assert.deepEqual(scan.adapters.map((a) => [a.name, a.backend, a.software]), [['NVIDIA Vulkan driver', 'vulkan', false], ['NVIDIA H200', 'cuda', false]]);
    assert.deepEqual(scan.deviceNodes, ['/dev/nvidia0']);
    assert.deepEqual(scan.hardware, ['NVIDIA display controller 10de:2335 at 0000:19:00.0']);
    assert.deepEqual(scan.notes, []);
    assert.equal(softwareOnly(scan, 'webgpu'), null);
  });

  it('names the missing piece when a GPU has no Vulkan driver or loader', () => {
    const io = fakeIo({ '/dev/dri/card0': '', '/dev/dri/renderD128': '', '/sys/bus/pci/devices/0000:03:00.0/class': '0x030000', '/sys/bus/pci/devices/0000:03:00.0/vendor': '0x1002', '/sys/bus/pci/devices/0000:03:00.0/device': '0x73bf' });
    const scan = scanLinux(NO_ENV, io);
    assert.deepEqual(scan.adapters, []);
    assert.deepEqual(scan.hardware, ['AMD display controller 1002:73bf at 0000:03:00.0']);
    assert.ok(scan.notes.some((n) => /no Vulkan driver manifest/.test(n) && /mesa-vulkan-drivers/.test(n)));
    assert.ok(scan.notes.some((n) => /libvulkan\.so\.1/.test(n) && /apt install libvulkan1/.test(n)));
    assert.equal(softwareOnly(scan, 'webgpu'), null, 'a GPU is there: try it rather than refuse it');
  });

  it("reads Windows' display adapters: the Basic Render Driver (WARP) is software", async () => {
    const two = JSON.stringify([
      { Name: 'NVIDIA GeForce RTX 4070 Laptop GPU', AdapterCompatibility: 'NVIDIA', PNPDeviceID: 'PCI\\VEN_10DE&DEV_2820' },
      { Name: 'Microsoft Basic Render Driver', AdapterCompatibility: '(Standard display types)', PNPDeviceID: 'ROOT\\BasicRender\\0000' },
    ]);
    assert.deepEqual(parseWindowsControllers(two).map((a) => [a.name, a.backend, a.software]), [['NVIDIA GeForce RTX 4070 Laptop GPU', 'd3d12', false], ['Microsoft Basic Render Driver', 'd3d12', true]]);
    const one = JSON.stringify({ Name: 'Microsoft Basic Display Adapter', AdapterCompatibility: '(Standard display types)' });
    const scan = await scanAdapters('win32', {}, fakeIo({}, { 'powershell.exe': one }));
    assert.equal(scan.deviceNodes, null);
    assert.match(softwareOnly(scan, 'dml')!, /only adapters are software/);
  });

  it("reads macOS's GPUs from system_profiler, and says so when the tool fails", async () => {
    const json = JSON.stringify({ SPDisplaysDataType: [{ _name: 'Apple M2', sppci_model: 'Apple M2', spdisplays_vendor: 'sppci_vendor_Apple', sppci_cores: '10' }] });
    assert.deepEqual(parseMacDisplays(json), [{ name: 'Apple M2', vendor: 'Apple', backend: 'metal', software: false, source: 'system_profiler SPDisplaysDataType' }]);
    const failed = await scanAdapters('darwin', {}, fakeIo({}));
    assert.deepEqual(failed.adapters, []);
    assert.match(failed.notes[0]!, /could not list the Metal GPUs \(system_profiler: system_profiler: not found\)/);
  });
});

describe('GPU candidate refusal', () => {
  const noGpu: AdapterScan = { adapters: [{ name: 'SwiftShader', vendor: 'Google', backend: 'vulkan', software: true, source: 'x' }], hardware: [], deviceNodes: [], notes: [] };
  const env = (scan: AdapterScan, cuda = false): GpuEnvironment => ({ providers: listProviders([{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'cuda', bundled: false }], 'linux', 'x64', cuda), scan });

  it('refuses a software-only WebGPU unless asked for, naming the switch', () => {
    assert.match(refusal('webgpu', env(noGpu), false)!, /slower than the CPU provider.*chimera\.gpu\.allowSoftware/);
    assert.equal(refusal('webgpu', env(noGpu), true), null);
  });

  it('refuses CUDA when it is not installed, or installed with no NVIDIA device', () => {
    assert.match(refusal('cuda', env(noGpu), true)!, /not installed/);
    assert.match(refusal('cuda', env(noGpu, true), true)!, /no NVIDIA device/);
    assert.equal(refusal('cuda', env({ ...noGpu, deviceNodes: ['/dev/nvidia0'] }, true), false), null);
  });

  it('refuses a provider the build does not have', () => {
    assert.match(refusal('dml', env(noGpu), true)!, /not available on/);
  });
});

describe('GPU diagnostics report', () => {
  const report: GpuDiagnostics = {
    platform: { os: 'linux', arch: 'x64', node: '20.20.2', onnxruntime: '1.30.0' },
    request: { device: 'auto', allowSoftware: false },
    providers: [
      { name: 'cpu', present: true, detail: 'always available' },
      { name: 'webgpu', present: true, detail: 'WebGPU over Vulkan' },
    ],
    scan: { adapters: [], hardware: [], deviceNodes: [], notes: ['no GPU device nodes (/dev/dri/*, /dev/nvidia*): no GPU driver is loaded'] },
    chosen: { provider: 'cpu', software: false, reason: 'GPU unavailable (cuda: not installed; webgpu: no adapter); using the CPU' },
    attempts: [
      { provider: 'cuda', outcome: 'refused', reason: 'not installed' },
      { provider: 'webgpu', outcome: 'failed', reason: 'no WebGPU adapter (no Vulkan driver)' },
    ],
    costs: [{ provider: 'cpu', software: false, c1Ms: 1.234 }],
    model: { name: 'demo', path: '/models/demo' },
  };

  it('answers what was chosen, why not each other candidate, and what one token costs', () => {
    const text = formatDiagnostics(report);
    assert.match(text, /Platform +linux x64 · Node 20\.20\.2 · onnxruntime-node 1\.30\.0/);
    assert.match(text, /Chosen +cpu: no GPU candidate was usable \(see below\)/);
    assert.match(text, /1\. cuda +refused +not installed/);
    assert.match(text, /2\. webgpu +failed +no WebGPU adapter/);
    assert.match(text, /Adapters found\n {2}none/);
    assert.match(text, /Findings\n {2}- no GPU device nodes/);
    assert.match(text, /cpu +1\.23 ms/);
    assert.match(text, /software adapters used only when asked for/);
  });

  it('says plainly when no model is loaded and nothing was measured', () => {
    const text = formatDiagnostics({ ...report, chosen: null, costs: [], model: null });
    assert.match(text, /Model +none loaded/);
    assert.match(text, /Chosen +nothing yet \(no model loaded\)/);
    assert.doesNotMatch(text, /c\(1\)/);
  });
});
