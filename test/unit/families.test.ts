import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { familyTemplates, tokenName } from '../../src/core/formats/families';
import { repoRoot } from '../support/paths';

function added(dir: string): Map<string, number> {
  const tok = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures', dir, 'tokenizer.json'), 'utf8')) as { added_tokens: { content: string; id: number }[] };
  return new Map(tok.added_tokens.map((t) => [t.content, t.id]));
}

describe('model family formats from a tokenizer (the TypeScript side of the converter\'s families.py)', () => {
  it('gives a Qwen2 tokenizer exactly the templates, special tokens and stop ids the converter wrote', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/converted-qwen2/chimera.json'), 'utf8')) as Record<string, unknown>;
    const family = familyTemplates('qwen2', added('converted-qwen2'));
    assert.equal(family.chatFormat, 'chatml');
    assert.deepEqual(family.special, manifest.special_tokens);
    assert.deepEqual(family.stopIds, manifest.stop_token_ids);
    const { fim, chat, prompts } = manifest.templates as Record<string, Record<string, unknown>>;
    assert.deepEqual(family.templates.chat, chat);
    assert.deepEqual(family.templates.prompts, prompts);
    const { order: _order, ...fimWithoutOrder } = fim!;
    assert.deepEqual(family.templates.fim, fimWithoutOrder);
  });

  it('recognises Llama 3 by its header tokens: BOS, no FIM, and end ids from the generation config', () => {
    const family = familyTemplates('llama', added('genai-llama'), [9999]);
    assert.equal(family.chatFormat, 'llama3');
    assert.equal(family.addBos, true);
    assert.equal(family.templates.fim, null);
    assert.ok(family.stopIds.includes(9999));
  });

  it('names a missing end-of-text token', () => {
    assert.throws(() => familyTemplates('mistral', new Map([['[INST]', 1]])), /end-of-text tokens \["<\/s>"\]/);
    assert.equal(familyTemplates('qwen2', new Map([['<|im_start|>', 1], ['<|im_end|>', 2], ['<|endoftext|>', 0]])).special.eot!.id, 0);
  });

  it('names special tokens as the converter does', () => {
    assert.deepEqual(['<|im_start|>', '[/INST]', '<｜fim▁begin｜>'].map(tokenName), ['im_start', 'end_inst', 'fim_begin']);
  });
});
