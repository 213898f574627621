/** Bad packages and devices fail at load with a message naming the file or the device, and why. */
import * as assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceError, PackageError } from '../../src/core/errors';
import { loadModel } from '../../src/core/model';
import { sha256File } from '../../src/core/fileHash';
import { loadPackage } from '../../src/core/package';
import { FileVerifiedStore, stampOf, type VerifiedStore } from '../../src/core/verified';
import { fixtureDir, memoryLog } from '../support/models';
import { repoRoot } from '../support/paths';

describe('model package loading', function () {
  this.timeout(60_000);
  let dir = '';
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'chimera-pkg-')), 'pkg');
    cpSync(fixtureDir, dir, { recursive: true });
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  const load = () => loadModel(dir, { device: 'cpu', log: memoryLog().log });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke arbitrary manifest fields
  const editManifest = (change: (m: Record<string, any>) => void) => {
    const path = join(dir, 'chimera.json');
    const m = JSON.parse(readFileSync(path, 'utf8'));
    change(m);
    writeFileSync(path, JSON.stringify(m));
  };
  async function rejectsWith(pattern: RegExp, file: string) {
    await assert.rejects(load(), (err: unknown) => {
      assert.ok(err instanceof PackageError, String(err));
      assert.equal(err.file, join(dir, file));
      assert.match(err.message, pattern);
      return true;
    });
  }

  it('loads the fixture and reports the device and why', async () => {
    const { log, lines } = memoryLog();
    const model = await loadModel(fixtureDir, { device: 'cpu', log });
    assert.equal(model.device.kind, 'cpu');
    assert.ok(model.draft);
    assert.ok(lines.some((l) => /device: cpu .*requested/.test(l)), lines.join('\n'));
    await model.dispose();
  });

  it('names a missing folder', async () => {
    await assert.rejects(loadModel(join(dir, 'nope'), { device: 'cpu', log: memoryLog().log }), /nope: model package folder not found/);
  });

  it('names a missing manifest', async () => {
    unlinkSync(join(dir, 'chimera.json'));
    await rejectsWith(/missing; a model folder needs a chimera\.json manifest \(a Chimera package\), or config\.json/, 'chimera.json');
  });

  it('names a manifest that is not JSON', async () => {
    writeFileSync(join(dir, 'chimera.json'), '{ not json');
    await rejectsWith(/not valid JSON/, 'chimera.json');
  });

  it('names a missing weights file', async () => {
    unlinkSync(join(dir, 'draft.onnx'));
    await rejectsWith(/missing \(draft file listed in chimera\.json\)/, 'draft.onnx');
  });

  it('names a corrupt weights file by its checksum', async () => {
    const bytes = readFileSync(join(dir, 'target.onnx'));
    bytes[bytes.length >> 1] ^= 0xff;
    writeFileSync(join(dir, 'target.onnx'), bytes);
    await rejectsWith(/sha256 mismatch/, 'target.onnx');
  });

  it('names a graph that takes embeddings when the manifest says nowhere to read them from', async () => {
    rmSync(dir, { recursive: true, force: true });
    cpSync(join(repoRoot, 'test/fixtures/converted-qwen2-int8'), dir, { recursive: true });
    const model = await load();
    assert.ok(model.embeddings, 'the int8 fixture takes inputs_embeds from the engine');
    await model.dispose();
    editManifest((m) => delete m.quantization.embedding_lookup);
    await rejectsWith(/takes inputs_embeds, but chimera\.json has no quantization\.embedding_lookup to read them from/, 'target.onnx');
  });

  describe('files already verified', () => {
    /** A store in the test's folder that counts what it answered. */
    function countingStore() {
      const inner = new FileVerifiedStore(join(dir, '..', 'cache'));
      const counts = { hits: 0, misses: 0, records: 0 };
      const store: VerifiedStore = {
        lookup: async (path, stamp) => {
          const sha = await inner.lookup(path, stamp);
          counts[sha === null ? 'misses' : 'hits']++;
          return sha;
        },
        record: async (path, stamp, sha) => {
          counts.records++;
          await inner.record(path, stamp, sha);
        },
      };
      return { store, counts };
    }

    it('are not hashed again while unchanged, and are hashed again once changed', async () => {
      const { store, counts } = countingStore();
      await loadPackage(dir, { verified: store });
      assert.deepEqual(counts, { hits: 0, misses: 3, records: 3 }); // tokenizer, target, draft
      await loadPackage(dir, { verified: store });
      assert.deepEqual(counts, { hits: 3, misses: 3, records: 3 });
      // The same size, one byte flipped, and the modification time put back: the change time still differs.
      const path = join(dir, 'target.onnx');
      const { mtime, atime } = statSync(path);
      const bytes = readFileSync(path);
      bytes[bytes.length >> 1] ^= 0xff;
      writeFileSync(path, bytes);
      utimesSync(path, atime, mtime);
      await assert.rejects(loadPackage(dir, { verified: store }), /target\.onnx: sha256 mismatch/);
      assert.equal(counts.hits, 5);
    });

    it('are hashed when the store knows another checksum for them than the manifest', async () => {
      const { store, counts } = countingStore();
      const path = join(dir, 'target.onnx');
      await store.record(path, await stampOf(path), 'f'.repeat(64));
      await loadPackage(dir, { verified: store });
      assert.equal(counts.records, 4); // the wrong answer is replaced by the file's real checksum
      assert.equal(await store.lookup(path, await stampOf(path)), await sha256File(path));
    });
  });

  it('names a truncated graph whose checksum was updated to match', async () => {
    writeFileSync(join(dir, 'target.onnx'), readFileSync(join(dir, 'target.onnx')).subarray(0, 5000));
    const sha = await sha256File(join(dir, 'target.onnx'));
    editManifest((m) => {
      m.files.target.sha256 = sha;
      m.files.target.bytes = 5000;
    });
    await rejectsWith(/onnxruntime cannot load it/, 'target.onnx');
  });

  it('names a file whose size disagrees with the manifest, before hashing it', async () => {
    writeFileSync(join(dir, 'target.onnx'), readFileSync(join(dir, 'target.onnx')).subarray(0, 5000));
    await rejectsWith(/is 5000 bytes, the manifest says \d+ \(truncated or replaced\)/, 'target.onnx');
  });

  it('names graph inputs that disagree with the manifest', async () => {
    editManifest((m) => (m.io.target.inputs[1] = 'positions'));
    await rejectsWith(/inputs disagree with chimera\.json: missing \[positions\], unexpected \[position_ids\]/, 'target.onnx');
  });

  it('names dimensions that disagree with the manifest', async () => {
    editManifest((m) => (m.model.vocab_size = 9000));
    await rejectsWith(/logits vocabulary dimension is 8192 in the graph but 9000/, 'target.onnx');
    editManifest((m) => {
      m.model.vocab_size = 8192;
      m.model.head_dim = 4;
    });
    await rejectsWith(/past_key_values\.0\.key head size \(model\.head_dim\) is 8 in the graph but 4/, 'target.onnx');
    editManifest((m) => {
      m.model.head_dim = 8;
      m.draft.n_heads = 4;
    });
    await rejectsWith(/past_context\.key heads \(draft\.n_heads\) is 2 in the graph but 4/, 'draft.onnx');
  });

  it('names a manifest vocabulary smaller than the tokenizer\'s', async () => {
    editManifest((m) => {
      m.model.vocab_size = 1234;
      m.draft.shortlist_size = 1234;
    });
    await rejectsWith(/has token id 8191, but the model's vocabulary \(model\.vocab_size in chimera\.json\) has 1234 entries/, 'tokenizer.json');
  });

  // Each of these used to be trusted: memory grew without bound, "Invalid typed array length" named no
  // file, the output was silently empty, or a garbage tree passed. Now each is refused at once, naming the field.
  const badNumbers: [string, (m: Record<string, any>) => void, RegExp][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
    ['n_layers 1e6', (m) => (m.model.n_layers = 1e6), /"model\.n_layers" must be an integer from 1 to 1024 \(got 1000000\)/],
    ['n_layers + 1', (m) => (m.model.n_layers = 3), /"model\.n_layers" is 3, but "io\.target" names caches for 2 layers/],
    ['n_layers - 1', (m) => (m.model.n_layers = 1), /"model\.n_layers" is 1, but "io\.target" names caches for 2 layers/],
    ['max_context -1', (m) => (m.model.max_context = -1), /"model\.max_context" must be an integer from 64 to 1048576 \(got -1\)/],
    ['max_context 1e8', (m) => (m.model.max_context = 1e8), /"model\.max_context" must be an integer from 64/],
    ['max_context 0', (m) => (m.model.max_context = 0), /"model\.max_context" must be an integer from 64/],
    ['max_context 2', (m) => (m.model.max_context = 2), /"model\.max_context" must be an integer from 64/],
    ['vocab_size "big"', (m) => (m.model.vocab_size = 'big'), /"model\.vocab_size" must be an integer/],
    ['n_kv_heads 3', (m) => (m.model.n_kv_heads = 3), /"model\.n_kv_heads" \(3\) must divide "model\.n_heads" \(2\)/],
    ['tree rank 9', (m) => (m.tree.paths = [[0], [9]]), /"tree\.paths\[1\]" \(\[9\]\) uses rank 9; ranks run from 0 to 3/],
    ['tree too deep', (m) => (m.tree.paths = [[0], [0, 0], [0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0, 0]]), /"tree\.paths\[4\]" must list 1 to 4 ranks/],
    ['tree orphan', (m) => (m.tree.paths = [[0], [1, 2]]), /"tree\.paths\[1\]" \(\[1,2\]\) has no parent path \[1\]/],
    ['tree garbage', (m) => (m.tree.paths = 'garbage'), /"tree\.paths" must be a list/],
    ['draft top_k 0', (m) => (m.draft.top_k = 0), /"draft\.top_k" must be an integer from 1 to 64/],
    ['special id out of range', (m) => (m.special_tokens.eot.id = 9000), /"special_tokens\.eot\.id" must be an integer from 0 to 8191/],
    ['stop id out of range', (m) => (m.stop_token_ids = [0, -1]), /"stop_token_ids\[1\]" must be an integer from 0 to 8191/],
    ['path escapes', (m) => (m.files.tokenizer.path = '../../../../etc/passwd'), /"files\.tokenizer\.path" \("\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd"\) goes up with "\.\."/],
    ['absolute path', (m) => (m.files.target.path = '/etc/passwd'), /"files\.target\.path" \("\/etc\/passwd"\) is absolute/],
    ['bad sha256', (m) => (m.files.target.sha256 = 'abc'), /"files\.target\.sha256" must be 64 hexadecimal digits/],
  ];
  for (const [name, change, message] of badNumbers) {
    it(`refuses a manifest with ${name}, naming chimera.json and the field`, async () => {
      editManifest(change);
      await rejectsWith(message, 'chimera.json');
    });
  }

  it('names special tokens the tokenizer does not have', async () => {
    editManifest((m) => (m.special_tokens.eot.id = 77));
    await rejectsWith(/special token eot "<\|endoftext\|>" has id 0, the manifest says 77/, 'tokenizer.json');
  });

  it('rejects an unsupported format version', async () => {
    editManifest((m) => (m.format_version = 9));
    await rejectsWith(/unsupported format "chimera-package" version 9/, 'chimera.json');
  });
});

describe('device selection without a GPU', function () {
  this.timeout(60_000);

  it('gpu: fails loudly and says how to fall back', async () => {
    await assert.rejects(loadModel(fixtureDir, { device: 'gpu', log: memoryLog().log }), (err: unknown) => {
      assert.ok(err instanceof DeviceError);
      assert.match(err.message, /no usable GPU: .*Set chimera\.device to "auto" or "cpu"/);
      return true;
    });
  });

  it('auto: falls back to the CPU and logs why', async () => {
    const { log, lines } = memoryLog();
    const model = await loadModel(fixtureDir, { device: 'auto', log });
    assert.equal(model.device.kind, 'cpu');
    assert.match(model.device.reason, /GPU unavailable/);
    assert.ok(lines.some((l) => l.startsWith('warn: device: GPU unavailable')), lines.join('\n'));
    await model.dispose();
  });
});
