/**
 * Packages the extension with `npm run package` (so the check can never look at a stale VSIX): one VSIX
 * per platform. Each is checked for what ships: the bundles, media and models are in; sources, tests
 * and the training toolkit are out; onnxruntime-node carries its own platform's binaries and no other's,
 * and the manifest names the platform. The linux-x64 package still runs a model from its unpacked files.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { addModel, runAddModelScript } from '../support/onnxModel';
import { repoRoot } from '../support/paths';
import { describeResult, run } from '../support/process';
import { ZipFile } from '../support/zip';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const vsixPath = (target: string) => join(repoRoot, `dist-vsix/chimera-code-${target}.vsix`);

/** Each vsce target, the folder of its onnxruntime binaries, and the files a session needs there. */
const TARGETS = [
  { target: 'win32-x64', bin: 'win32/x64', needs: ['onnxruntime_binding.node', 'onnxruntime.dll', 'DirectML.dll'] },
  { target: 'win32-arm64', bin: 'win32/arm64', needs: ['onnxruntime_binding.node', 'onnxruntime.dll', 'DirectML.dll'] },
  { target: 'darwin-arm64', bin: 'darwin/arm64', needs: ['onnxruntime_binding.node', 'libonnxruntime.1.dylib'] },
  { target: 'linux-x64', bin: 'linux/x64', needs: ['onnxruntime_binding.node', 'libonnxruntime.so.1'] },
  { target: 'linux-arm64', bin: 'linux/arm64', needs: ['onnxruntime_binding.node', 'libonnxruntime.so.1'] },
] as const;

describe('VSIX packages, one per platform', () => {
  before(async function () {
    this.timeout(600_000);
    for (const { target } of TARGETS) rmSync(vsixPath(target), { force: true });
    const result = await run(npm, ['run', 'package'], { cwd: repoRoot });
    assert.equal(result.code, 0, describeResult(result));
  });

  for (const { target, bin, needs } of TARGETS) {
    describe(`VSIX package (${target})`, () => {
      let zip: ZipFile;
      let names: string[];

      before(() => {
        zip = new ZipFile(vsixPath(target));
        names = zip.names;
      });

      it('names its platform in the manifest, so the Marketplace serves it to that platform only', () => {
        const manifest = zip.read(zip.entries.find((e) => e.name === 'extension.vsixmanifest')!).toString('utf8');
        assert.match(manifest, new RegExp(`<Identity [^>]*TargetPlatform="${target}"`));
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
          'extension/media/icon.png',
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

      it(`carries onnxruntime-node's ${target} binaries and no other platform's`, () => {
        const binaries = names.filter((n) => n.startsWith('extension/node_modules/onnxruntime-node/bin/'));
        const own = `extension/node_modules/onnxruntime-node/bin/napi-v6/${bin}/`;
        assert.deepEqual(binaries.filter((n) => !n.startsWith(own)), []);
        for (const file of needs) assert.ok(binaries.includes(own + file), `missing ${own + file}`);
      });

      const host = target === `${process.platform}-${process.arch}`;
      (host ? it : it.skip)('runs a model with the onnxruntime-node unpacked from the VSIX, on this machine', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'chimera-vsix-'));
        try {
          for (const entry of zip.entries.filter((e) => e.name.startsWith('extension/node_modules/'))) {
            const file = join(dir, entry.name);
            mkdirSync(dirname(file), { recursive: true });
            writeFileSync(file, zip.read(entry));
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
  }
});
