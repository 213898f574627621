// Builds the four shipped bundles with esbuild.
//   node scripts/build.mjs               development build (sourcemaps)
//   node scripts/build.mjs --production  minified, no sourcemaps (what the VSIX ships)
//   node scripts/build.mjs --watch       rebuild on change
// Each process gets its own bundle so the engine and CLI never pull in `vscode`, and the
// extension host never loads onnxruntime-node (inference blocks the thread it runs on).
import * as esbuild from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** @type {import('esbuild').BuildOptions} */
const common = {
  absWorkingDir: root,
  bundle: true,
  minify: production,
  sourcemap: production ? false : 'linked',
  sourcesContent: false,
  logLevel: 'info',
  legalComments: production ? 'none' : 'inline',
};

const node = { ...common, platform: 'node', format: 'cjs', target: 'node20' };

/** Makes the CLI bundle executable after every (re)build, so `./dist/cli.js` and `npm link` work. */
const chmodCli = {
  name: 'chmod-cli',
  setup(build) {
    build.onEnd((result) => {
      if (result.errors.length === 0) chmodSync(join(root, 'dist/cli.js'), 0o755);
    });
  },
};

/** @type {import('esbuild').BuildOptions[]} */
const bundles = [
  {
    ...node,
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
  },
  {
    ...node,
    entryPoints: ['src/engine/main.ts'],
    outfile: 'dist/engine.js',
    external: ['onnxruntime-node'],
  },
  {
    ...node,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    external: ['onnxruntime-node'],
    banner: { js: '#!/usr/bin/env node' },
    plugins: [chmodCli],
  },
  {
    ...common,
    entryPoints: ['src/webview/chat.ts'],
    outfile: 'media/build/chat.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];

/**
 * The tree-sitter runtime and the grammars the inline syntax check uses (src/core/inline/syntax.ts), next
 * to the extension bundle: about 3.5 MB, where all of @vscode/tree-sitter-wasm's grammars would be 22 MB.
 */
const TREE_SITTER_FILES = ['tree-sitter.wasm', 'tree-sitter-python.wasm', 'tree-sitter-typescript.wasm', 'tree-sitter-tsx.wasm', 'tree-sitter-javascript.wasm', 'tree-sitter-go.wasm'];
mkdirSync(join(root, 'dist/tree-sitter'), { recursive: true });
for (const file of TREE_SITTER_FILES) copyFileSync(join(root, 'node_modules/@vscode/tree-sitter-wasm/wasm', file), join(root, 'dist/tree-sitter', file));

if (watch) {
  for (const options of bundles) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  }
  console.log('watching for changes…');
} else {
  await Promise.all(bundles.map((options) => esbuild.build(options)));
}
