/** Helpers shared by the VS Code suites. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ChimeraApi } from '../../../src/extension/extension';

export const EXTENSION_ID = 'chimera.chimera-code';

/** Waits for an event-driven promise, failing with a useful message instead of hanging the suite. */
export function within<T>(promise: Thenable<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

export async function activatedApi(): Promise<ChimeraApi> {
  const extension = vscode.extensions.getExtension<ChimeraApi>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not installed in this VS Code`);
  return extension.activate();
}

/** Resolves with the next value of a VS Code event. */
export function nextEvent<T>(event: vscode.Event<T>): Promise<T> {
  return new Promise((resolve) => {
    const sub = event((value) => {
      sub.dispose();
      resolve(value);
    });
  });
}

/** Opens a new untitled document with `content` in an editor and returns the editor. */
export async function openDocument(content: string, language: string): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument({ content, language });
  return vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
}
