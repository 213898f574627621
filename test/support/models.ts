/** The model packages the engine tier runs: the tiny random fixture and, once built, the default model. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/core/session';
import { repoRoot } from './paths';

export const fixtureDir = join(repoRoot, 'test/fixtures/tiny-package');
export const defaultModelDir = join(repoRoot, 'models/default');
export const hasDefaultModel = existsSync(join(defaultModelDir, 'chimera.json'));

/** Collects log lines so tests can assert on what the core said and why. */
export function memoryLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (level, message) => lines.push(`${level}: ${message}`) };
}

/**
 * Varied code prompts: lines from the project's own TypeScript sources and short synthetic snippets,
 * cut at different points. Deterministic, so failures reproduce.
 */
export function codePrompts(count: number): string[] {
  const files = readdirSync(join(repoRoot, 'src/core')).filter((f) => f.endsWith('.ts')).sort();
  const prompts: string[] = [];
  for (let i = 0; prompts.length < count; i++) {
    const text = readFileSync(join(repoRoot, 'src/core', files[i % files.length]!), 'utf8');
    const lines = text.split('\n');
    const start = (i * 37) % Math.max(1, lines.length - 12);
    const snippet = lines.slice(start, start + 3 + (i % 9)).join('\n');
    const cut = Math.max(8, Math.floor(snippet.length * (0.4 + ((i * 13) % 50) / 100)));
    prompts.push(snippet.slice(0, cut));
  }
  return prompts;
}
