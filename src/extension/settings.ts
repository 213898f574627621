/** VS Code side of the settings module: reads `chimera.*` and hands it to the pure parser. */
import * as vscode from 'vscode';
import { parseSettings, type ChimeraSettings, type SettingKey } from '../core/settings';

export const SECTION = 'chimera';

/** Reads the current settings; invalid values fall back to defaults and are logged, not ignored. */
export function readSettings(log: vscode.LogOutputChannel): ChimeraSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  const { settings, problems } = parseSettings((key: SettingKey) => config.get<unknown>(key));
  for (const problem of problems) log.warn(`Setting ${SECTION}.${problem.key}: ${problem.message}`);
  return settings;
}

/** Calls `listener` with fresh settings whenever any `chimera.*` setting changes. */
export function onDidChangeSettings(
  log: vscode.LogOutputChannel,
  listener: (settings: ChimeraSettings) => void,
): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(SECTION)) listener(readSettings(log));
  });
}

/** Writes `chimera.inline.enabled` for the user (global), so it holds in every workspace. */
export async function setInlineEnabled(enabled: boolean): Promise<void> {
  const key: SettingKey = 'inline.enabled';
  await vscode.workspace.getConfiguration(SECTION).update(key, enabled, vscode.ConfigurationTarget.Global);
}
