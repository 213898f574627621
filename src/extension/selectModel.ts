/**
 * `chimera.selectModel`: choose a model package folder (or the bundled default), check it, and switch
 * the engine to it. The check here reads the manifest and verifies every file's sha256; the engine
 * then checks the graphs themselves when it loads them, and reports any mismatch with the file's name.
 */
import * as vscode from 'vscode';
import { loadPackage } from '../core/package';
import { readSettings } from './settings';

const BUNDLED = '$(package) Use the bundled default model';
const BROWSE = '$(folder-opened) Choose a model package folder…';

export async function selectModel(log: vscode.LogOutputChannel, folder?: string): Promise<string | undefined> {
  let chosen = folder;
  if (chosen === undefined) {
    const current = readSettings(log).modelPath || 'the bundled default model';
    const pick = await vscode.window.showQuickPick([BROWSE, BUNDLED], { title: 'Chimera: Select Model', placeHolder: `Now using ${current}` });
    if (pick === undefined) return undefined;
    if (pick === BUNDLED) chosen = '';
    else {
      const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Use this model', title: 'A folder with chimera.json, tokenizer.json, target.onnx (and draft.onnx)' });
      if (!uris?.[0]) return undefined;
      chosen = uris[0].fsPath;
    }
  }
  if (chosen !== '') {
    try {
      const pkg = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Chimera: checking the model package…' }, () => loadPackage(chosen!));
      log.info(`Model package ${pkg.dir} is valid: ${pkg.manifest.name} (${pkg.manifest.family})${pkg.draftPath ? ' with a Chimera draft' : ', no draft (n-gram drafting only)'}.`);
    } catch (err) {
      const message = (err as Error).message;
      log.error(`Model package rejected: ${message}`);
      const again = await vscode.window.showErrorMessage(`Chimera: that is not a usable model package. ${message}`, 'Choose Another…');
      if (again) return selectModel(log);
      return undefined;
    }
  }
  await vscode.workspace.getConfiguration('chimera').update('modelPath', chosen, vscode.ConfigurationTarget.Global);
  void vscode.window.showInformationMessage(chosen === '' ? 'Chimera: using the bundled default model.' : `Chimera: using the model in ${chosen}.`);
  return chosen;
}
