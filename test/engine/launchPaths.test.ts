/**
 * The engine fork from awkward places: an extension folder and a model folder whose paths hold spaces,
 * quotes and backslashes (legal in Linux file names, and what Windows paths are made of). Nothing is
 * passed through a shell, so nothing needs quoting; this shows it with the real engine and model.
 */
import * as assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeClient } from '../support/engine';
import { fixtureDir } from '../support/models';
import { repoRoot } from '../support/paths';

describe('engine launch from paths with spaces and backslashes', function () {
  this.timeout(120_000);
  // Inside the repository, so the copied bundle still finds node_modules the way an installed one does.
  const root = join(repoRoot, 'out', "launch test 'Ana María'");
  const engineDir = join(root, 'extensions\\chimera code 0.1.0', 'dist');
  const modelDir = join(root, 'My Models\\tiny (copy)');

  before(() => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(engineDir, { recursive: true });
    copyFileSync(join(repoRoot, 'dist/engine.js'), join(engineDir, 'engine.js'));
    cpSync(fixtureDir, modelDir, { recursive: true });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('starts, loads the model and answers', async () => {
    const { client } = makeClient({ enginePath: join(engineDir, 'engine.js'), modelPath: modelDir });
    try {
      await client.start();
      assert.equal(client.info?.model.path, modelDir);
      const answer = await client.complete({ prefix: 'def add(a, b):\n    return', suffix: '', languageId: 'python', maxTokens: 4, temperature: 0 }).result;
      assert.equal(answer.stats.generatedTokens, 4);
    } finally {
      await client.stop();
    }
  });
});
