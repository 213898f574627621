/** Locations the tests need, found from the bundle's own path so they do not depend on the cwd. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'chimera-code') return dir;
    if (dirname(dir) === dir) throw new Error(`no chimera-code package.json above ${start}`);
  }
}

/** The repository (and extension) root. */
export const repoRoot = findRepoRoot(__dirname);

export function readManifest(): PackageManifest {
  return JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as PackageManifest;
}

/** The parts of package.json the tests look at. */
export interface PackageManifest {
  name: string;
  publisher: string;
  version: string;
  main: string;
  engines: { vscode: string };
  devDependencies: Record<string, string>;
  contributes: {
    commands: { command: string; title: string; category?: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    viewsContainers: { activitybar: { id: string; title: string; icon: string }[] };
    views: Record<string, { id: string; type?: string; name: string }[]>;
    configuration: { properties: Record<string, ConfigurationProperty> };
  };
}

export interface ConfigurationProperty {
  type: string;
  default: unknown;
  description?: string;
  markdownDescription?: string;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  scope?: string;
}
