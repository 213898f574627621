/**
 * Packages the extension with `npm run package` (so the check can never look at a stale VSIX),
 * then checks what ships: the bundles, media and models are in; sources, tests and the training
 * toolkit are out; onnxruntime-node is trimmed to linux-x64 and still runs a model from the
 * unpacked package.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { addModel, runAddModelScript } from '../support/onnxModel';
import { repoRoot } from '../support/paths';
import { describeResult, run } from '../support/process';
import { ZipFile } from '../support/zip';

const vsixPath = join(repoRoot, 'dist-vsix/chimera-code-linux-x64.vsix');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('VSIX package (linux-x64)', () => {
  let zip: ZipFile;
  let names: string[];

  before(async function () {
    this.timeout(300_000);
    rmSync(vsixPath, { force: true });
    const result = await run(npm, ['run', 'package'], { cwd: repoRoot });
    assert.equal(result.code, 0, describeResult(result));
    zip = new ZipFile(vsixPath);
    names = zip.names;
  });

  it('contains the manifest, the four bundles, the tree-sitter grammars, media, models, readme and licence', () => {
    for (const file of [
      'extension/package.json',
      'extension/dist/extension.js',
      'extension/dist/engine.js',
      'extension/dist/cli.js',
      'extension/dist/tree-sitter/tree-sitter.wasm',
      'extension/dist/tree-sitter/tree-sitter-python.wasm',
      'extension/dist/tree-sitter/tree-sitter-typescript.wasm',
      'extension/dist/tree-sitter/tree-sitter-go.wasm',
      'extension/media/build/chat.js',
      'extension/media/chat.css',
      'extension/media/chimera.svg',
      'extension/media/walkthrough/features.md',
      'extension/media/walkthrough/model.md',
      'extension/media/walkthrough/better-model.md',
      'extension/media/walkthrough/privacy.md',
      'extension/media/screenshots/explain.png',
      'extension/models/README.md',
      'extension/LICENSE.txt',
      'extension/readme.md',
    ]) {
      assert.ok(names.includes(file), `missing ${file}`);
    }
  });

  it('contains no sources, tests, training toolkit, developer docs, build tooling or source maps', () => {
    const forbidden = names.filter(
      (name) =>
        /^extension\/(src|test|out|training|scripts|docs|\.ci)\//.test(name) ||
        /\.(ts|map)$/.test(name) ||
        /(^|\/)(tsconfig\.json|eslint\.config\.mjs|package-lock\.json|\.npmrc)$/.test(name),
    );
    assert.deepEqual(forbidden, []);
  });

  it('ships only onnxruntime-node and onnxruntime-common from node_modules', () => {
    const packages = new Set(
      names.filter((n) => n.startsWith('extension/node_modules/')).map((n) => n.split('/')[2]),
    );
    assert.deepEqual([...packages].sort(), ['onnxruntime-common', 'onnxruntime-node']);
  });

  it('trims onnxruntime-node native binaries to linux-x64', () => {
    const binaries = names.filter((n) => n.startsWith('extension/node_modules/onnxruntime-node/bin/'));
    assert.ok(binaries.length > 0, 'no onnxruntime-node binaries at all');
    const otherPlatforms = binaries.filter((n) => !n.startsWith('extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/'));
    assert.deepEqual(otherPlatforms, []);
    assert.ok(binaries.includes('extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node'));
  });

  it('runs a model with the onnxruntime-node unpacked from the VSIX', async function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'chimera-vsix-'));
    try {
      for (const entry of zip.entries.filter((e) => e.name.startsWith('extension/node_modules/'))) {
        const target = join(dir, entry.name);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, zip.read(entry));
      }
      writeFileSync(join(dir, 'add.onnx'), addModel());
      const ortPath = join(dir, 'extension/node_modules/onnxruntime-node');
      const result = await run(process.execPath, ['-e', runAddModelScript(ortPath, join(dir, 'add.onnx'))], { cwd: dir });
      assert.equal(result.code, 0, describeResult(result));
      assert.deepEqual((JSON.parse(result.stdout) as { y: number[] }).y, [11, 22, 33]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
