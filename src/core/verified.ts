/**
 * Which package files have already passed their sha256 check, as they were then.
 *
 * Hashing every file at every load costs a second per half gigabyte (0.5B int8: 1.3 s of a 2.5 s load; a
 * 7B model would spend 15-20 s each time the engine starts). Like git's index, a file whose size, inode,
 * modification and change times are as they were when it last hashed right is taken as unchanged. The
 * change time (ctime) cannot be set back by a program, so replacing a file and restoring its mtime does
 * not get through; only a change below the file system (bit rot on the disk) would, and `chimera verify`
 * always hashes in full.
 */
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the engine keeps caches (cost profiles, verified files): CHIMERA_CACHE_DIR, else the XDG cache folder. */
export function defaultCacheDir(): string {
  return process.env.CHIMERA_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'chimera-code');
}

export interface FileStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
}

export interface VerifiedStore {
  /** The sha256 a file with exactly this stamp was found to have, or null. */
  lookup(path: string, stamp: FileStamp): Promise<string | null>;
  record(path: string, stamp: FileStamp, sha256: string): Promise<void>;
}

/** The stamp of a file already stat'ed. */
export function stampFrom(s: Stats): FileStamp {
  return { size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino, dev: s.dev };
}

export async function stampOf(path: string): Promise<FileStamp> {
  return stampFrom(await stat(path));
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino && a.dev === b.dev;
}

interface VerifiedRecord {
  path: string;
  stamp: FileStamp;
  sha256: string;
}

/** One small JSON file per package file, so engines started side by side never write the same file. */
export class FileVerifiedStore implements VerifiedStore {
  constructor(private readonly dir: string) {}

  private file(path: string): string {
    return join(this.dir, `verified-${createHash('sha256').update(path).digest('hex').slice(0, 24)}.json`);
  }

  async lookup(path: string, stamp: FileStamp): Promise<string | null> {
    try {
      const r = JSON.parse(await readFile(this.file(path), 'utf8')) as VerifiedRecord;
      return r.path === path && typeof r.sha256 === 'string' && sameStamp(r.stamp, stamp) ? r.sha256 : null;
    } catch {
      return null;
    }
  }

  async record(path: string, stamp: FileStamp, sha256: string): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
      const file = this.file(path);
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify({ path, stamp, sha256 } satisfies VerifiedRecord));
      await rename(tmp, file);
    } catch {
      // A cache that cannot be written only means hashing again next time.
    }
  }
}
