/** Bad packages and devices fail at load with a message naming the file or the device, and why. */
import * as assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceError, PackageError } from '../../src/core/errors';
import { loadModel } from '../../src/core/model';
import { sha256File } from '../../src/core/package';
import { fixtureDir, memoryLog } from '../support/models';

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
    await rejectsWith(/missing; a Chimera model package needs a chimera\.json/, 'chimera.json');
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

  it('names a truncated graph whose checksum was updated to match', async () => {
    writeFileSync(join(dir, 'target.onnx'), readFileSync(join(dir, 'target.onnx')).subarray(0, 5000));
    const sha = await sha256File(join(dir, 'target.onnx'));
    editManifest((m) => (m.files.target.sha256 = sha));
    await rejectsWith(/onnxruntime cannot load it/, 'target.onnx');
  });

  it('names graph inputs that disagree with the manifest', async () => {
    editManifest((m) => (m.io.target.inputs[1] = 'positions'));
    await rejectsWith(/inputs disagree with chimera\.json: missing \[positions\], unexpected \[position_ids\]/, 'target.onnx');
  });

  it('names dimensions that disagree with the manifest', async () => {
    editManifest((m) => (m.model.vocab_size = 1234));
    await rejectsWith(/logits vocabulary dimension is 8192 in the graph but 1234/, 'target.onnx');
  });

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
