// Packages the extension as dist-vsix/chimera-code-linux-x64.vsix.
// vsce runs the `vscode:prepublish` script first (a fresh production build), includes the
// production dependencies (onnxruntime-node must ship: it is a native addon that esbuild cannot
// bundle), and filters files through .vscodeignore, which trims onnxruntime-node to linux-x64.
import { createVSIX } from '@vscode/vsce';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = 'linux-x64';
const packagePath = join(root, 'dist-vsix', `chimera-code-${target}.vsix`);

mkdirSync(dirname(packagePath), { recursive: true });
await createVSIX({
  cwd: root,
  packagePath,
  target,
  // The project has no public repository yet; without this vsce stops to ask interactively.
  allowMissingRepository: true,
  // Without a repository URL vsce cannot turn the README's relative links and screenshots into absolute
  // ones, and refuses to package; left relative, they work wherever the repository is browsed. (VS Code's
  // extension page shows only https images, so once the project has a public repository, set
  // `repository` in package.json and drop this line.)
  rewriteRelativeLinks: false,
});
console.log(packagePath);
