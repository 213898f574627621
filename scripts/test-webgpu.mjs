// The WebGPU tier: runs test/webgpu on a real WebGPU adapter with no GPU, through SwiftShader (a Vulkan
// driver that renders on the CPU). Debian's chromium package, already a CI dependency, ships it with a
// Vulkan loader beside it. The Vulkan environment has to be in place before the process starts (the
// dynamic linker reads LD_LIBRARY_PATH once), so this script sets it and runs mocha as a child.
//   node scripts/test-webgpu.mjs          (after node scripts/build-tests.mjs webgpu and npm run build)
// CHIMERA_SWIFTSHADER_ICD=path/to/vk_swiftshader_icd.json points at another SwiftShader build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const icd = process.env.CHIMERA_SWIFTSHADER_ICD || '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!existsSync(icd)) {
  console.error(`test-webgpu: no SwiftShader Vulkan driver at ${icd}. Install Debian's chromium (bash .ci/setup does) or set CHIMERA_SWIFTSHADER_ICD.`);
  process.exit(1);
}

// Use the system's Vulkan loader when there is one; otherwise the one shipped beside SwiftShader.
const systemLoader = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) => existsSync(join(d, 'libvulkan.so.1')));
const loaderDir = dirname(icd);
if (!systemLoader && !existsSync(join(loaderDir, 'libvulkan.so.1'))) {
  console.error(`test-webgpu: no Vulkan loader (libvulkan.so.1) on the system or in ${loaderDir}. Install libvulkan1.`);
  process.exit(1);
}
const env = {
  ...process.env,
  VK_ICD_FILENAMES: icd,
  VK_DRIVER_FILES: icd,
  ...(systemLoader ? {} : { LD_LIBRARY_PATH: [loaderDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') }),
  CHIMERA_WEBGPU_TIER: icd,
};
console.log(`test-webgpu: SwiftShader from ${icd}, Vulkan loader from ${systemLoader ? 'the system' : loaderDir}`);
const mocha = join(root, 'node_modules/mocha/bin/mocha.js');
const result = spawnSync(process.execPath, [mocha, '--config', join(root, 'test/webgpu/.mocharc.json'), ...process.argv.slice(2)], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
