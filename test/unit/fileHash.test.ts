/** File hashing through one reused buffer: the same digests as hashing the bytes at once. */
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFileInto, sha256File } from '../../src/core/fileHash';

describe('file hashing', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'chimera-hash-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  it('gives the sha256 of the whole file, empty, smaller than one read, or spanning several', async () => {
    for (const size of [0, 1, 4096, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 17]) {
      const bytes = randomBytes(size);
      const path = join(dir, `f${size}`);
      writeFileSync(path, bytes);
      assert.equal(await sha256File(path), sha(bytes), `${size} bytes`);
    }
  });

  it('continues a hash across files, as a resumed download hashes its parts', async () => {
    const [a, b] = [randomBytes((1 << 20) + 5), randomBytes(1000)];
    writeFileSync(join(dir, 'a'), a);
    writeFileSync(join(dir, 'b'), b);
    const hash = await hashFileInto(createHash('sha256'), join(dir, 'a'));
    assert.equal((await hashFileInto(hash, join(dir, 'b'))).digest('hex'), sha(Buffer.concat([a, b])));
  });

  it('names a missing file', async () => {
    await assert.rejects(sha256File(join(dir, 'missing')), /ENOENT/);
  });
});
