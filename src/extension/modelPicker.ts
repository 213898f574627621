/**
 * The items and hint of the Select Model picker, from what the engine actually did rather than what the
 * setting says: after a bad path, the setting may still name it while another model runs. Pure (no
 * vscode) for unit tests; selectModel.ts shows them.
 */
import { modelLabel } from './engineView';

export interface ModelFacts {
  /** The model running now, and the model setting that loaded it ('' for the bundled one). */
  loaded: { name: string; path: string; setting: string } | null;
  /** The last model setting that failed to load, until it loads. */
  failed: { path: string; reason: string } | null;
  /** A start or switch under way, by its model's label. */
  loading: string | null;
}

export type PickerChoice = { kind: 'browse' } | { kind: 'setting'; path: string };

export interface PickerItem {
  label: string;
  description?: string;
  detail?: string;
  choice: PickerChoice;
}

export const BROWSE_LABEL = '$(folder-opened) Choose a model package folder…';
export const BUNDLED_LABEL = '$(package) Use the bundled default model';

/** Long engine errors (a stack of file names) would crowd the picker; the log has them whole. */
const MAX_REASON = 160;

export function pickerPlaceholder(facts: ModelFacts): string {
  if (facts.loading !== null) return `Loading ${facts.loading}…`;
  const { loaded, failed } = facts;
  if (loaded) return `Loaded now: ${loaded.name} (${loaded.setting === '' ? 'the bundled default model' : loaded.path})`;
  if (failed) return `No model is loaded: ${modelLabel(failed.path)} failed to load`;
  return 'No model is loaded yet';
}

/** Browse, the loaded model (to reload it), the bundled model, and the one that failed (to retry it). */
export function pickerItems(facts: ModelFacts): PickerItem[] {
  const { loaded, failed } = facts;
  const items: PickerItem[] = [{ label: BROWSE_LABEL, choice: { kind: 'browse' } }];
  if (loaded && loaded.setting !== '') {
    items.push({ label: `$(check) ${loaded.name}`, description: 'loaded now', detail: loaded.path, choice: { kind: 'setting', path: loaded.setting } });
  }
  const bundledState = loaded?.setting === '' ? 'loaded now' : failed?.path === '' ? 'failed to load' : undefined;
  items.push({ label: BUNDLED_LABEL, description: bundledState, choice: { kind: 'setting', path: '' } });
  if (failed && failed.path !== '' && failed.path !== loaded?.setting) {
    items.push({ label: `$(error) ${modelLabel(failed.path)}`, description: 'failed to load; choose it to try again', detail: `${failed.path}: ${shorten(failed.reason)}`, choice: { kind: 'setting', path: failed.path } });
  }
  return items;
}

function shorten(text: string): string {
  return text.length <= MAX_REASON ? text : `${text.slice(0, MAX_REASON - 1)}…`;
}
