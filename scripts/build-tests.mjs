// Bundles the TypeScript tests into out/test/<tier>/ with esbuild, one bundle per entry file.
//   node scripts/build-tests.mjs [unit] [engine] [vscode]   (no argument: every tier)
// Bundling the tests the same way as the product means they run the same code paths, with no
// second TypeScript toolchain (ts-node etc.) to keep in step. Each tier folder is emptied first,
// so a deleted test can never linger as a stale .js file that mocha still picks up.
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const allTiers = ['unit', 'engine', 'webgpu', 'vscode'];
const requested = process.argv.slice(2);
for (const tier of requested) {
  if (!allTiers.includes(tier)) throw new Error(`unknown test tier '${tier}' (expected ${allTiers.join(', ')})`);
}
const tiers = requested.length > 0 ? requested : allTiers;

/** Entry points besides *.test.ts: the VS Code tier's mocha entry and its two launchers. */
const extraEntries = {
  vscode: ['test/vscode/index.ts', 'test/vscode/runCodeServer.ts', 'test/vscode/runElectron.ts'],
};

function testFiles(dir) {
  return readdirSync(join(root, dir), { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => join(dir, file));
}

for (const tier of tiers) {
  rmSync(join(root, 'out/test', tier), { recursive: true, force: true });
  const entryPoints = [...testFiles(`test/${tier}`), ...(extraEntries[tier] ?? [])];
  if (entryPoints.length === 0) throw new Error(`no test files found under test/${tier}`);
  await esbuild.build({
    absWorkingDir: root,
    entryPoints,
    outbase: 'test',
    outdir: 'out/test',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    // Loaded from node_modules at run time: VS Code's API, native addons, and test tools that
    // locate their own files relative to their package.
    external: ['vscode', 'onnxruntime-node', 'mocha', 'playwright-core', '@vscode/test-electron', 'code-server'],
    logLevel: 'warning',
  });
  console.log(`built ${entryPoints.length} ${tier} test bundle(s) into out/test/${tier}`);
}
