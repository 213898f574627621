/** The manifest's field rules (core/manifestRules.ts) and tree check, without loading any graph. */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackageError } from '../../src/core/errors';
import { checkTreePaths, parseManifest } from '../../src/core/manifest';
import { unsafePath } from '../../src/core/manifestRules';
import { repoRoot } from '../support/paths';

const base = readFileSync(join(repoRoot, 'test/fixtures/tiny-package/chimera.json'), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke arbitrary fields
const parsed = (change: (m: Record<string, any>) => void) => {
  const raw = JSON.parse(base) as Record<string, unknown>;
  change(raw);
  return () => parseManifest(JSON.stringify(raw), 'chimera.json');
};
const refuses = (f: () => unknown, message: RegExp) => assert.throws(f, (err: unknown) => err instanceof PackageError && err.file === 'chimera.json' && message.test(err.message), String(message));

describe('manifest rules', () => {
  it('keeps file paths inside the package folder', () => {
    for (const path of ['target.onnx', 'weights/target.onnx.data', 'a..b.onnx', '.hidden']) assert.equal(unsafePath(path), null, path);
    for (const path of ['../x', 'a/../../x', '..\\x', '/etc/passwd', '\\\\server\\share', 'C:\\x', 'c:x', 'a\0b']) assert.notEqual(unsafePath(path), null, path);
  });

  it('accepts the shipped packages as they are', () => {
    for (const dir of ['test/fixtures/tiny-package', 'test/fixtures/converted-qwen2', 'models/default']) {
      const file = join(repoRoot, dir, 'chimera.json');
      assert.doesNotThrow(() => parseManifest(readFileSync(file, 'utf8'), file), dir);
    }
  });

  it('checks tree paths against the draft: ranks, depth, parents, duplicates', () => {
    assert.doesNotThrow(() => checkTreePaths([[0], [1], [0, 0], [0, 0, 3]], 4, 4, 'f'));
    assert.throws(() => checkTreePaths([[0], [0]], 4, 4, 'f'), /listed twice/);
    assert.throws(() => checkTreePaths([[0.5]], 4, 4, 'f'), /uses rank 0\.5/);
    assert.throws(() => checkTreePaths([], 4, 4, 'f'), /list of 1 to 256 rank paths/);
    assert.throws(() => checkTreePaths([[]], 4, 4, 'f'), /must list 1 to 4 ranks/);
  });

  it('names the field and its range for every number it refuses', () => {
    refuses(parsed((m) => (m.model.head_dim = 0)), /"model\.head_dim" must be an integer from 1 to 4096 \(got 0\)/);
    refuses(parsed((m) => (m.model.d_model = 1.5)), /"model\.d_model" must be an integer/);
    refuses(parsed((m) => (m.draft.n_steps = 99)), /"draft\.n_steps" must be an integer from 1 to 16/);
    refuses(parsed((m) => (m.draft.shortlist_size = 9000)), /"draft\.shortlist_size" \(9000\) is larger than "model\.vocab_size"/);
    refuses(
      parsed((m) => {
        m.model.max_context = 1 << 20;
        m.model.head_dim = 4096;
      }),
      /"model\.max_context" \(1048576\) is too large for this model's cache: one layer's keys would need 32\.0 GiB/,
    );
    refuses(parsed((m) => (m.files.draft.bytes = -1)), /"files\.draft\.bytes" must be an integer from 0/);
    refuses(parsed((m) => (m.add_bos_token = 'yes')), /"add_bos_token" must be true or false/);
    refuses(parsed((m) => delete m.io.draft), /"io\.draft" must be an object/);
  });

  it('leaves room for optional fields a newer toolkit adds', () => {
    assert.doesNotThrow(parsed((m) => (m.draft.cost_profile = { anything: true })));
    assert.doesNotThrow(parsed((m) => delete m.model.dtype));
  });
});
