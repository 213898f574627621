/** The shipped Node bundles, run as real processes the way a user or the extension runs them. */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { readManifest, repoRoot } from '../support/paths';
import { describeResult, run } from '../support/process';

const cli = join(repoRoot, 'dist/cli.js');
const engine = join(repoRoot, 'dist/engine.js');

describe('chimera CLI (dist/cli.js)', () => {
  it('prints the package version', async () => {
    const result = await run(process.execPath, [cli, '--version']);
    assert.equal(result.code, 0, describeResult(result));
    assert.equal(result.stdout, `${readManifest().version}\n`);
  });

  it('runs directly through its shebang, as the npm bin does', async () => {
    const result = await run(cli, ['-v']);
    assert.equal(result.code, 0, describeResult(result));
    assert.equal(result.stdout.trim(), readManifest().version);
  });

  it('prints usage with --help', async () => {
    const result = await run(process.execPath, [cli, '--help']);
    assert.equal(result.code, 0, describeResult(result));
    assert.match(result.stdout, /^Usage: chimera <command>/);
    assert.equal(result.stderr, '');
  });

  for (const args of [['generate', '--prompt', 'def f('], ['bench'], ['serve'], ['frobnicate'], []]) {
    it(`rejects \`chimera ${args.join(' ')}\` on stderr with exit code 2`, async () => {
      const result = await run(process.execPath, [cli, ...args]);
      assert.equal(result.code, 2, describeResult(result));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^chimera: error: .+\nRun 'chimera --help' for usage\.\n$/);
    });
  }
});

describe('engine process (dist/engine.js)', () => {
  it('fails loudly instead of pretending to serve while it is not implemented', async () => {
    const result = await run(process.execPath, [engine]);
    assert.notEqual(result.code, 0, describeResult(result));
    assert.match(result.stderr, /engine: not implemented in this build/);
  });
});
