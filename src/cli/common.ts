/** Pieces the CLI commands share: the default model location, a stderr logger, loading with clear errors. */
import { join } from 'node:path';
import { loadModel, type DraftPlacement, type LoadedModel } from '../core/model';
import { defaultCacheDir, FileCostStore } from '../core/profile';
import type { DeviceRequest, Logger } from '../core/session';

/** The package bundled with the extension: `models/default` next to the `dist` folder holding this bundle. */
export function defaultModelDir(): string {
  return join(__dirname, '..', 'models', 'default');
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Logs to stderr at or above CHIMERA_LOG (default warn), so stdout carries only the command's output. */
export function stderrLogger(): Logger {
  const min = Math.max(0, LEVELS.indexOf((process.env.CHIMERA_LOG ?? 'warn') as (typeof LEVELS)[number]));
  return (level, message) => {
    if (LEVELS.indexOf(level) >= min) process.stderr.write(`chimera: ${level}: ${message}\n`);
  };
}

/** Loads a package; its cost profile is measured once and kept in the engine's cache folder. */
export async function openModel(model: string | undefined, device: DeviceRequest, maxContext?: number, draftOn?: DraftPlacement): Promise<LoadedModel> {
  return loadModel(model ?? defaultModelDir(), { device, log: stderrLogger(), costStore: new FileCostStore(defaultCacheDir()), maxContext, draftOn });
}

/** Reads a file given on the command line, naming it in the error. */
export async function readArgFile(path: string, what: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
