/**
 * Enforces the layering rule without ESLint: only src/extension may import `vscode`. The engine,
 * CLI and core run in plain Node processes (where `vscode` does not exist) and the webview runs in
 * a browser, so an import there would only fail at run time, far from the change that caused it.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../support/paths';

const HOST_INDEPENDENT = ['src/core', 'src/engine', 'src/protocol', 'src/backend', 'src/cli', 'src/webview'];

/** Matches static imports, re-exports, dynamic import() and require() of the `vscode` module. */
const VSCODE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]vscode['"]/;

function sourceFiles(dir: string): string[] {
  const abs = join(repoRoot, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true })
    .map(String)
    .filter((file) => /\.(ts|tsx|js|mjs|cjs)$/.test(file))
    .map((file) => join(abs, file));
}

describe('layering', () => {
  it('recognises every form of vscode import (so the scan below cannot pass vacuously)', () => {
    const offending = [
      "import * as vscode from 'vscode';",
      'import { window } from "vscode";',
      "import type { Uri } from 'vscode';",
      "export { commands } from 'vscode';",
      "import 'vscode';",
      "const v = require('vscode');",
      "const v = await import('vscode');",
    ];
    for (const line of offending) assert.match(line, VSCODE_IMPORT, line);
    const harmless = ["import { x } from './vscodeish';", "const s = 'vscode is an editor';", "from '@types/vscode'"];
    for (const line of harmless) assert.doesNotMatch(line, VSCODE_IMPORT, line);
  });

  it('keeps vscode out of core, engine, protocol, backend, cli and webview', () => {
    const files = HOST_INDEPENDENT.flatMap(sourceFiles);
    assert.ok(files.length >= 5, `expected to scan the host-independent sources, found ${files.length} files`);
    const offenders = files
      .filter((file) => VSCODE_IMPORT.test(readFileSync(file, 'utf8')))
      .map((file) => relative(repoRoot, file));
    assert.deepEqual(offenders, [], `these files import vscode: ${offenders.join(', ')}`);
  });
});
