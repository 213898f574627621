/**
 * Standard ONNX exports read without a chimera.json: an Optimum-layout Qwen2 and an onnxruntime-genai-layout
 * Llama (tiny random checkpoints exported by training/chimera_train/graph_standard.py; regenerate with
 * `python -m chimera_train fixture-standard`). The engine reproduces transformers' own greedy output from
 * them, prompt lookup (verified as chains, the graphs have no tree mask) reproduces autoregressive
 * output, and the family's chat and FIM formats come from the tokenizer.
 */
import * as assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DecodingSession, type DecodingMode, type GenerateRequest } from '../../src/core/decoder';
import { loadModel, type LoadedModel } from '../../src/core/model';
import { createTarget } from '../../src/core/target';
import { TemplateRegistry } from '../../src/core/templates';
import { buildShape } from '../../src/core/tree';
import { memoryLog } from '../support/models';
import { repoRoot } from '../support/paths';

interface Reference {
  cases: { prompt: number[]; greedy: number[] }[];
}

async function tokens(session: DecodingSession, req: GenerateRequest): Promise<number[]> {
  const stream = session.generate(req);
  for (;;) {
    const next = await stream.next();
    if (next.done) return next.value.tokens;
  }
}

for (const [name, layout, chatStart] of [
  ['optimum-qwen2', 'optimum', '<|im_start|>'],
  ['genai-llama', 'genai', '<|start_header_id|>'],
] as const) {
  describe(`a standard export without chimera.json: ${name}`, function () {
    this.timeout(120_000);
    const dir = join(repoRoot, 'test/fixtures', name);
    let model: LoadedModel;
    let session: DecodingSession;
    before(async () => {
      model = await loadModel(dir, { device: 'cpu', log: memoryLog().log, costs: 'default' });
      session = await DecodingSession.create(model);
    });
    after(async () => {
      session.dispose();
      await model.dispose();
    });

    it(`is read as the ${layout} layout, with its dimensions from the folder's configuration`, () => {
      assert.equal(model.layout?.kind, layout);
      assert.equal(model.layout?.positionIds, layout === 'optimum');
      assert.equal(model.draft, null);
      assert.ok(model.manifest.model.n_kv_heads < model.manifest.model.n_heads, 'grouped-query attention');
    });

    it('decodes exactly what transformers decodes greedily', async () => {
      const ref = JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')) as Reference;
      for (const c of ref.cases) {
        await session.clear();
        const got = await tokens(session, { prompt: c.prompt, maxTokens: c.greedy.length, mode: 'autoregressive', stopTokenIds: [] });
        assert.deepEqual(got, c.greedy, `prompt ${JSON.stringify(c.prompt.slice(0, 6))}…`);
      }
    });

    it('gives autoregressive output with prompt lookup verified as chains, and reuses a cached prefix', async () => {
      const ref = JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')) as Reference;
      let accepted = 0;
      for (const c of ref.cases) {
        // Long enough for a small random model to fall into a loop, which lookup then copies in chains.
        const prompt = [...c.prompt, ...c.greedy];
        const out: Partial<Record<DecodingMode, number[]>> = {};
        for (const mode of ['autoregressive', 'ngram'] as const) {
          await session.clear();
          const stream = session.generate({ prompt, maxTokens: 96, mode, stopTokenIds: [] });
          for (;;) {
            const next = await stream.next();
            if (next.done) {
              out[mode] = next.value.tokens;
              accepted += next.value.stats.accepted;
              break;
            }
          }
        }
        assert.deepEqual(out.ngram, out.autoregressive);
      }
      console.log(`      ${name}: n-gram equal to autoregressive on ${ref.cases.length} prompts, ${accepted} lookup tokens accepted`);
      const warm = await tokens(session, { prompt: ref.cases[0]!.prompt, maxTokens: 8, mode: 'ngram', stopTokenIds: [] });
      assert.deepEqual(warm, ref.cases[0]!.greedy.slice(0, 8));
    });

    it('verifies a chain in one pass exactly as one token at a time, keeps a prefix of it, and rolls back', async () => {
      const target = await createTarget(model, 64);
      const stepwise = await createTarget(model, 64);
      try {
        const prompt = [5, 17, 42, 99, 7];
        await (await target.forward(prompt, 1)).commit(prompt.map((_, i) => i));
        await (await stepwise.forward(prompt, 1)).commit(prompt.map((_, i) => i));
        const chain = [11, 22, 33, 44];
        const block = await target.forward(chain, chain.length, buildShape([-1, 0, 1, 2]));
        const rows: Float32Array[] = [];
        for (const t of chain) {
          const one = await stepwise.forward([t], 1);
          rows.push(Float32Array.from(one.logits));
          await one.commit([0]);
        }
        rows.forEach((row, i) => {
          const got = block.logits.subarray(i * model.manifest.model.vocab_size, (i + 1) * model.manifest.model.vocab_size);
          const diff = row.reduce((m, v, j) => Math.max(m, Math.abs(v - got[j]!)), 0);
          assert.ok(diff < 1e-4, `row ${i} differs by ${diff}`);
        });
        await block.commit([0, 1]); // the first two verified; the rest rejected
        await stepwise.truncate(prompt.length + 2);
        assert.equal(target.length, prompt.length + 2);
        const [a, b] = [await target.forward([55], 1), await stepwise.forward([55], 1)];
        // The kept rows came from a block on one side and from single steps on the other: equal to ~1e-6.
        const after = a.logits.reduce((m, v, j) => Math.max(m, Math.abs(v - b.logits[j]!)), 0);
        assert.ok(after < 1e-4, `after keeping two of four rows, the next step differs by ${after}`);
        await assert.rejects(target.forward([1, 2, 3], 3, buildShape([-1, 0, 0])), /chains only/);
      } finally {
        target.dispose();
        stepwise.dispose();
      }
    });

    it('takes its chat and fill-in-the-middle formats from the tokenizer', () => {
      const reg = new TemplateRegistry(model.manifest, model.tokenizer);
      const chat = reg.chat([{ role: 'user', content: 'hi' }], 100).tokens;
      assert.ok(chat.includes(model.manifest.special_tokens[chatStart === '<|im_start|>' ? 'im_start' : 'start_header_id']!.id));
      assert.equal(reg.hasFim, layout === 'optimum', 'Qwen2 has FIM tokens; Llama 3 has none');
    });
  });
}
