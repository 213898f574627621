/**
 * `chimera.selectModel`: choose a model package folder (or the bundled default), check it, and switch
 * the engine to it. The check here reads the manifest and verifies every file's sha256; the engine
 * then checks the graphs themselves when it loads them, and reports any mismatch with the file's name.
 * The picker marks what is loaded and what failed from the engine's own account (modelPicker.ts).
 */
import * as vscode from 'vscode';
import { loadPackage } from '../core/package';
import { defaultCacheDir, FileVerifiedStore } from '../core/verified';
import { pickerItems, pickerPlaceholder, type ModelFacts, type PickerItem } from './modelPicker';

const NO_FACTS: ModelFacts = { loaded: null, failed: null, loading: null };

export async function selectModel(log: vscode.LogOutputChannel, folder?: string, facts: () => ModelFacts = () => NO_FACTS): Promise<string | undefined> {
  const chosen = folder ?? (await pick(facts()));
  if (chosen === undefined) return undefined;
  if (chosen !== '') {
    try {
      const pkg = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Chimera: checking the model package…' }, () => loadPackage(chosen, { verified: new FileVerifiedStore(defaultCacheDir()) }));
      log.info(`Model package ${pkg.dir} is valid: ${pkg.manifest.name} (${pkg.manifest.family})${pkg.draftPath ? ' with a Chimera draft' : ', no draft (n-gram drafting only)'}.`);
    } catch (err) {
      const message = (err as Error).message;
      log.error(`Model package rejected: ${message}`);
      const again = await vscode.window.showErrorMessage(`Chimera: that is not a usable model package. ${message}`, 'Choose Another…');
      if (again) return selectModel(log, undefined, facts);
      return undefined;
    }
  }
  await vscode.workspace.getConfiguration('chimera').update('modelPath', chosen, vscode.ConfigurationTarget.Global);
  // "Loading", not "using": the engine has yet to load it, and may still refuse it.
  void vscode.window.showInformationMessage(chosen === '' ? 'Chimera: loading the bundled default model.' : `Chimera: loading the model in ${chosen}.`);
  return chosen;
}

/** Shows the picker; resolves with the chosen model setting ('' for the bundled one), or undefined. */
async function pick(facts: ModelFacts): Promise<string | undefined> {
  const picked = await vscode.window.showQuickPick<PickerItem>(pickerItems(facts), { title: 'Chimera: Select Model', placeHolder: pickerPlaceholder(facts) });
  if (picked === undefined) return undefined;
  if (picked.choice.kind === 'setting') return picked.choice.path;
  const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Use this model', title: 'A folder with chimera.json, tokenizer.json, target.onnx (and draft.onnx)' });
  return uris?.[0]?.fsPath;
}
