/** Checks package.json's contributions against the product's rules (see issue 2). */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, repoRoot } from '../support/paths';

const manifest = readManifest();
const { contributes } = manifest;

function minorVersion(version: string): [number, number] {
  const match = /(\d+)\.(\d+)/.exec(version);
  assert.ok(match, `no version in ${version}`);
  return [Number(match[1]), Number(match[2])];
}

describe('package.json manifest', () => {
  it('contributes exactly the Chimera commands, the refactor decision pair among them, each titled in the Chimera category', () => {
    const ids = contributes.commands.map((c) => c.command).sort();
    assert.deepEqual(ids, [
      'chimera.acceptRefactor',
      'chimera.downloadModel',
      'chimera.explain',
      'chimera.openChat',
      'chimera.refactor',
      'chimera.rejectRefactor',
      'chimera.restartEngine',
      'chimera.selectModel',
      'chimera.setServerApiKey',
      'chimera.showGpuDiagnostics',
      'chimera.showLog',
      'chimera.toggleInline',
    ]);
    for (const command of contributes.commands) {
      assert.equal(command.category, 'Chimera', command.command);
      assert.ok(command.title.length > 0, command.command);
    }
  });

  it('offers Accept/Reject only while a refactoring waits for a decision', () => {
    const title = contributes.menus['editor/title'] ?? [];
    for (const id of ['chimera.acceptRefactor', 'chimera.rejectRefactor']) {
      assert.match(title.find((entry) => entry.command === id)?.when ?? '', /chimera\.refactorPending && resourceScheme == chimera-refactor/, id);
      assert.equal(contributes.menus.commandPalette?.find((entry) => entry.command === id)?.when, 'chimera.refactorPending', id);
    }
  });

  it('offers Explain and Refactor in the editor context menu only when there is a selection', () => {
    const context = contributes.menus['editor/context'] ?? [];
    for (const id of ['chimera.explain', 'chimera.refactor']) {
      const item = context.find((entry) => entry.command === id);
      assert.equal(item?.when, 'editorHasSelection', id);
    }
  });

  it('only puts contributed commands in menus', () => {
    const known = new Set(contributes.commands.map((c) => c.command));
    for (const [menu, items] of Object.entries(contributes.menus)) {
      for (const item of items) assert.ok(known.has(item.command), `${menu} names unknown ${item.command}`);
    }
  });

  it('puts the chat webview in its own activity-bar container with a themeable SVG icon', () => {
    const container = contributes.viewsContainers.activitybar.find((c) => c.id === 'chimera');
    assert.ok(container, 'no chimera activity-bar container');
    assert.deepEqual(contributes.views['chimera'], [{ type: 'webview', id: 'chimera.chat', name: 'Chat' }]);
    const svg = readFileSync(join(repoRoot, container.icon), 'utf8');
    assert.match(svg, /<svg\b/);
    // VS Code tints activity-bar icons; a fixed colour would fight the theme.
    assert.doesNotMatch(svg, /(fill|stroke)="#/);
  });

  it('has an icon for the extension page: a PNG of at least 128 × 128 pixels (VS Code shows no SVG there)', () => {
    const icon = (manifest as { icon?: string }).icon;
    assert.equal(icon, 'media/icon.png');
    const png = readFileSync(join(repoRoot, icon));
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    assert.ok(width >= 128 && height >= 128, `the icon is ${width} × ${height}`);
  });

  it('keeps engines.vscode within what code-server 4.100.3 (VS Code 1.100) can run', () => {
    const [major, minor] = minorVersion(manifest.engines.vscode);
    assert.ok(major === 1 && minor <= 100, `engines.vscode ${manifest.engines.vscode} is newer than 1.100`);
  });

  it('types the API no newer than engines.vscode, so no unavailable API can be used by accident', () => {
    const [typesMajor, typesMinor] = minorVersion(manifest.devDependencies['@types/vscode'] ?? '');
    const [engineMajor, engineMinor] = minorVersion(manifest.engines.vscode);
    assert.ok(typesMajor === engineMajor && typesMinor <= engineMinor);
  });

  it('has no telemetry dependency', () => {
    const raw = readFileSync(join(repoRoot, 'package.json'), 'utf8');
    assert.doesNotMatch(raw, /telemetry|applicationinsights/i);
  });
});
