/** Pieces the CLI commands share: the default model location, a stderr logger, loading with clear errors. */
import { join } from 'node:path';
import { loadModel, type DraftPlacement, type LoadedModel } from '../core/model';
import { FileCostStore } from '../core/profile';
import { minorCollector } from '../core/reclaim';
import type { DeviceRequest, Logger } from '../core/session';
import { defaultCacheDir, FileVerifiedStore } from '../core/verified';

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

export interface OpenOptions {
  device: DeviceRequest;
  maxContext?: number;
  draftOn?: DraftPlacement;
  /** Hash every package file, even those the cache says are unchanged since they last hashed right. */
  hashAll?: boolean;
}

/**
 * Loads a package the way the engine does: its cost profile is measured once and kept in the engine's
 * cache folder, and files that hashed right before are not hashed again unless `hashAll`.
 */
export async function openModel(model: string | undefined, options: OpenOptions): Promise<LoadedModel> {
  const cache = defaultCacheDir();
  const { device, maxContext, draftOn } = options;
  const verifiedStore = options.hashAll ? null : new FileVerifiedStore(cache);
  return loadModel(model ?? defaultModelDir(), { device, log: stderrLogger(), costStore: new FileCostStore(cache), verifiedStore, maxContext, draftOn, collector: minorCollector() });
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
