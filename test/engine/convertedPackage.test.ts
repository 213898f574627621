/**
 * A package converted from a Hugging Face checkpoint (test/fixtures/converted-qwen2: a tiny random Qwen2
 * model with grouped-query attention, attention biases and a tied head, converted and given a draft by
 * training/chimera_train; regenerate with `python -m chimera_train fixture-converted`). The model picker's
 * check accepts it, the engine reproduces the converter's reference outputs, builds the family's own
 * prompts, and decodes losslessly with the converted draft.
 */
import * as assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DecodingSession, type DecodingMode } from '../../src/core/decoder';
import { loadModel, type LoadedModel } from '../../src/core/model';
import { loadPackage } from '../../src/core/package';
import { TemplateRegistry } from '../../src/core/templates';
import { parseVerifyCases, verifyModel } from '../../src/core/verify';
import { memoryLog } from '../support/models';
import { repoRoot } from '../support/paths';

const CONVERTED = join(repoRoot, 'test/fixtures/converted-qwen2');

describe('a converted Hugging Face package (Qwen2 family)', function () {
  this.timeout(120_000);
  let model: LoadedModel;
  before(async () => {
    model = await loadModel(CONVERTED, { device: 'cpu', log: memoryLog().log });
  });
  after(async () => model.dispose());

  it('passes the model picker\'s package check and loads with its draft and grouped-query cache', async () => {
    const pkg = await loadPackage(CONVERTED);
    assert.equal(pkg.manifest.family, 'qwen2');
    assert.ok(pkg.draftPath);
    assert.ok(model.draft);
    assert.ok(model.manifest.model.n_kv_heads < model.manifest.model.n_heads);
  });

  it('reproduces the converter\'s reference outputs within 1e-4 (prefill, decode on a cache, tree block)', async () => {
    const path = join(CONVERTED, 'verify.json');
    const report = await verifyModel(model, parseVerifyCases(await readFile(path, 'utf8'), path), 1e-4);
    assert.ok(report.pass, JSON.stringify(report));
    assert.deepEqual(report.cases.map((c) => c.name), ['prefill', 'decode', 'tree']);
  });

  it('builds ChatML and PSM fill-in-the-middle prompts from the manifest', () => {
    const reg = new TemplateRegistry(model.manifest, model.tokenizer);
    const id = (name: string) => model.manifest.special_tokens[name]!.id;
    const chat = reg.chat([{ role: 'user', content: 'hi' }], 100).tokens;
    assert.equal(chat[0], id('im_start'));
    assert.equal(model.tokenizer.decode(chat), 'user\nhi\nassistant\n');
    assert.equal(chat.filter((t) => t === id('im_end')).length, 1);
    const fim = reg.fim({ prefix: 'def f(', suffix: ')\n', path: 'a.py' }, 100).tokens;
    assert.deepEqual([fim[0], fim.indexOf(id('fim_prefix')) > 0, fim.at(-1)], [id('file_sep'), true, id('fim_middle')]);
    assert.deepEqual(reg.stopTokenIds('chat').sort(), [id('eot'), id('im_end')].sort());
  });

  it('decodes chat prompts identically with the Chimera draft and autoregressively', async () => {
    const session = await DecodingSession.create(model);
    const reg = new TemplateRegistry(model.manifest, model.tokenizer);
    try {
      for (const content of ['Write a function that adds two numbers.', 'def parse(text):\n    return', 'import json\n']) {
        const prompt = reg.chat([{ role: 'user', content }], 200).tokens;
        const tokens: Record<string, number[]> = {};
        for (const mode of ['autoregressive', 'chimera'] as DecodingMode[]) {
          await session.clear();
          const stream = session.generate({ prompt, maxTokens: 24, mode, stopTokenIds: [] });
          let next = await stream.next();
          while (!next.done) next = await stream.next();
          tokens[mode] = next.value.tokens;
        }
        assert.deepEqual(tokens.chimera, tokens.autoregressive, content);
      }
    } finally {
      session.dispose();
    }
  });
});

describe('quantized converted packages', function () {
  this.timeout(120_000);
  for (const quant of ['int8', 'int4'] as const) {
    it(`${quant}: the manifest records the quantization, and verify reports agreement instead of pretending a 1e-4 tolerance`, async () => {
      const dir = join(repoRoot, `test/fixtures/converted-qwen2-${quant}`);
      const model = await loadModel(dir, { device: 'cpu', log: memoryLog().log, costs: 'default' });
      try {
        const raw = JSON.parse(await readFile(join(dir, 'chimera.json'), 'utf8')) as { quantization: { bits: number }; model: { dtype: string } };
        assert.equal(raw.quantization.bits, quant === 'int8' ? 8 : 4);
        assert.equal(raw.model.dtype, quant);
        const path = join(dir, 'verify.json');
        const cases = parseVerifyCases(await readFile(path, 'utf8'), path);
        assert.equal(cases.tolerance, null);
        const report = await verifyModel(model, cases, null, cases.min_agreement ?? null);
        assert.equal(report.tolerance, null);
        assert.ok(report.maxLogitDiff > 1e-4, 'a quantized graph is not within fp32 rounding of the reference');
        assert.ok(report.top1Agreement > 0 && report.top1Agreement <= 1);
        if (quant === 'int8') assert.ok(report.top1Agreement >= 0.9, `int8 agreement ${report.top1Agreement}`);
      } finally {
        await model.dispose();
      }
    });
  }
});

