// Packages the extension once per platform: dist-vsix/chimera-code-<target>.vsix for each vsce target.
//   node scripts/package.mjs                      all five targets
//   node scripts/package.mjs linux-x64 win32-x64  only these
// Each VSIX holds only its own platform's onnxruntime-node binaries (the native addon esbuild cannot
// bundle): all of them together would add about 245 MB to every download. VS Code's Marketplace and
// Open VSX pick the package that matches the user's platform from the target recorded in it.
// vsce runs the `vscode:prepublish` script first (a fresh production build) and filters files through an
// ignore file; here that is .vscodeignore with its onnxruntime binary line pointed at the target.
import { createVSIX } from '@vscode/vsce';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** vsce targets and where onnxruntime-node keeps their binaries (bin/napi-v6/<os>/<arch>). */
const TARGETS = {
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
  'darwin-arm64': 'darwin/arm64',
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
};

const BINARY_LINE = /^!node_modules\/onnxruntime-node\/bin\/napi-v6\/[a-z0-9]+\/[a-z0-9]+\/\*$/m;

function ignoreFileFor(target) {
  const base = readFileSync(join(root, '.vscodeignore'), 'utf8');
  if (!BINARY_LINE.test(base)) throw new Error('.vscodeignore has no "!node_modules/onnxruntime-node/bin/napi-v6/<os>/<arch>/*" line to point at the target');
  const path = join(root, 'dist-vsix', `.vscodeignore-${target}`);
  writeFileSync(path, base.replace(BINARY_LINE, `!node_modules/onnxruntime-node/bin/napi-v6/${TARGETS[target]}/*`));
  return path;
}

const requested = process.argv.slice(2);
const unknown = requested.filter((t) => !(t in TARGETS));
if (unknown.length > 0) {
  console.error(`package: unknown target ${unknown.join(', ')} (expected ${Object.keys(TARGETS).join(', ')})`);
  process.exit(2);
}
mkdirSync(join(root, 'dist-vsix'), { recursive: true });
for (const target of requested.length > 0 ? requested : Object.keys(TARGETS)) {
  const packagePath = join(root, 'dist-vsix', `chimera-code-${target}.vsix`);
  const ignoreFile = ignoreFileFor(target);
  try {
    await createVSIX({
      cwd: root,
      packagePath,
      target,
      ignoreFile,
      // The project has no public repository yet; without this vsce stops to ask interactively.
      allowMissingRepository: true,
      // Without a repository URL vsce cannot turn the README's relative links and screenshots into absolute
      // ones, and refuses to package; left relative, they work wherever the repository is browsed. (VS Code's
      // extension page shows only https images, so once the project has a public repository, set
      // `repository` in package.json and drop this line.)
      rewriteRelativeLinks: false,
    });
  } finally {
    rmSync(ignoreFile, { force: true });
  }
  console.log(packagePath);
}
