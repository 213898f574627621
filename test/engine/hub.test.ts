/**
 * Downloads from a Hub-shaped server (test/support/fakeHub.ts, serving the Optimum-layout fixture): a
 * whole model that then loads and decodes, resume after a dropped connection (a Range request picks up
 * where the .part file stops), cancellation, a sha256 mismatch, a full disk, and a partial download the
 * engine refuses to load.
 */
import * as assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodingSession } from '../../src/core/decoder';
import { downloadFiles, graphChoices, INCOMPLETE_MARKER, listFiles, supportFiles, type HubError, type HubFile } from '../../src/core/hub';
import { loadModel } from '../../src/core/model';
import { startFakeHub, type FakeHub } from '../support/fakeHub';
import { memoryLog } from '../support/models';
import { repoRoot } from '../support/paths';

const FIXTURE = join(repoRoot, 'test/fixtures/optimum-qwen2');

describe('model downloads from a Hub-shaped server', function () {
  this.timeout(60_000);
  let hub: FakeHub;
  let files: HubFile[];
  let dest: string;
  before(async () => {
    hub = await startFakeHub(FIXTURE);
    const all = await listFiles(hub.url, hub.repo);
    files = [...supportFiles(all), ...graphChoices(all).get('onnx/model.onnx')!];
  });
  after(() => hub.close());
  beforeEach(async () => (dest = await mkdtemp(join(tmpdir(), 'chimera-hub-'))));
  afterEach(() => rm(dest, { recursive: true, force: true }));

  it('lists the repository and offers its graphs with their data files', async () => {
    const all = await listFiles(hub.url, hub.repo);
    assert.deepEqual([...graphChoices(all).keys()], ['onnx/model.onnx']);
    assert.ok(all.find((f) => f.path === 'onnx/model.onnx')!.sha256, 'weights carry their LFS sha256');
    await assert.rejects(listFiles(hub.url, 'not a repo'), /not a repository ID/);
    await assert.rejects(listFiles(hub.url, 'test-org/missing'), (err: HubError) => err.kind === 'not-found');
  });

  it('downloads a model that then loads and completes, reporting progress to the total', async () => {
    const seen: number[] = [];
    await downloadFiles({ hub: hub.url, repo: hub.repo, files, dest, onProgress: (p) => seen.push(p.done / p.total) });
    assert.ok(seen.length > 3 && seen.at(-1)! > 0.99 && seen.every((v, i) => i === 0 || v >= seen[i - 1]!), 'progress rises to the total');
    assert.ok(!(await readdir(dest)).includes(INCOMPLETE_MARKER));
    const model = await loadModel(dest, { device: 'cpu', log: memoryLog().log, costs: 'default' });
    const session = await DecodingSession.create(model);
    try {
      const stream = session.generate({ prompt: [5, 17, 42], maxTokens: 6, mode: 'ngram', stopTokenIds: [] });
      let next = await stream.next();
      while (!next.done) next = await stream.next();
      assert.equal(next.value.tokens.length, 6);
    } finally {
      session.dispose();
      await model.dispose();
    }
  });

  it('resumes a file after a dropped connection with a Range request, and the result checks out', async () => {
    hub.cutAfter.set('onnx/model.onnx', 100_000);
    await assert.rejects(downloadFiles({ hub: hub.url, repo: hub.repo, files, dest }), (err: HubError) => err.kind === 'network' || err.kind === 'integrity');
    const part = await stat(join(dest, 'onnx/model.onnx.part'));
    assert.ok(part.size > 0 && part.size <= 100_000, `kept ${part.size} bytes`);
    await assert.rejects(loadModel(dest, { device: 'cpu', log: memoryLog().log, costs: 'default' }), /download of this model is incomplete/);
    hub.requests.length = 0;
    await downloadFiles({ hub: hub.url, repo: hub.repo, files, dest });
    assert.ok(hub.requests.some((r) => r.startsWith('GET /cdn/onnx%2Fmodel.onnx bytes=')), `resumed with a range: ${hub.requests.join('; ')}`);
    assert.equal((await stat(join(dest, 'onnx/model.onnx'))).size, (await stat(join(FIXTURE, 'onnx/model.onnx'))).size);
    const model = await loadModel(dest, { device: 'cpu', log: memoryLog().log, costs: 'default' });
    await model.dispose();
  });

  it('stops when cancelled, and a later run finishes the same files', async () => {
    hub.delayMs = 20;
    const controller = new AbortController();
    const run = downloadFiles({ hub: hub.url, repo: hub.repo, files, dest, signal: controller.signal, onProgress: (p) => p.done > 50_000 && controller.abort() });
    await assert.rejects(run, (err: HubError) => err.kind === 'cancelled');
    hub.delayMs = 0;
    await downloadFiles({ hub: hub.url, repo: hub.repo, files, dest });
    assert.ok(!(await readdir(dest)).includes(INCOMPLETE_MARKER));
  });

  it('refuses a file whose sha256 does not match the Hub\'s, and removes it', async () => {
    hub.corrupt.add('onnx/model.onnx');
    try {
      await assert.rejects(downloadFiles({ hub: hub.url, repo: hub.repo, files, dest }), (err: HubError) => err.kind === 'integrity' && /sha256/.test(err.message));
      const left = await readdir(join(dest, 'onnx'));
      assert.deepEqual(left, [], 'neither the file nor its .part is kept');
    } finally {
      hub.corrupt.clear();
    }
  });

  it('checks free disk space before writing anything', async () => {
    await assert.rejects(downloadFiles({ hub: hub.url, repo: hub.repo, files, dest, freeBytes: async () => 1000 }), (err: HubError) => err.kind === 'disk' && /not enough disk space/.test(err.message));
    assert.deepEqual(await readdir(dest), []);
  });
});
