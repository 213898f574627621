/**
 * Hashing files without garbage: a read stream hands out a new 64 KB buffer per chunk, and V8 collects
 * those only once 64 MB of them have built up, which a 500 MB weights file left in the engine's
 * first-start peak. One buffer, reused, holds every read.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Bytes read at a time. */
const READ_BYTES = 1 << 20;

/** Feeds the whole of `path` to `hash` and returns it (for hashes continued across files or parts). */
export async function hashFileInto(hash: Hash, path: string): Promise<Hash> {
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  const file = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return hash;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
}

/** The file's sha256, in hex. */
export async function sha256File(path: string): Promise<string> {
  return (await hashFileInto(createHash('sha256'), path)).digest('hex');
}
