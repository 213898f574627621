/**
 * Manifest fields of converted Hugging Face packages (training/chimera_train/families.py): a model without
 * FIM tokens (`templates.fim: null`), a BOS token prepended to prompts, per-role chat turns, and extra
 * listed files (external weights).
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CapabilityError, PackageError } from '../../src/core/errors';
import { parseManifest, type Manifest } from '../../src/core/manifest';
import { TemplateRegistry } from '../../src/core/templates';
import { TextTokenizer } from '../../src/core/tokenizer';
import { repoRoot } from '../support/paths';

const FIXTURE = join(repoRoot, 'test/fixtures/tiny-package');
const base = readFileSync(join(FIXTURE, 'chimera.json'), 'utf8');

/** The fixture's manifest with `change` applied, parsed the way the engine parses it. */
function manifestWith(change: (m: Record<string, any>) => void): Manifest { // eslint-disable-line @typescript-eslint/no-explicit-any -- tests poke arbitrary fields
  const raw = JSON.parse(base) as Record<string, unknown>;
  change(raw);
  return parseManifest(JSON.stringify(raw), 'chimera.json');
}

async function registry(manifest: Manifest): Promise<{ reg: TemplateRegistry; tok: TextTokenizer }> {
  const tok = await TextTokenizer.load(join(FIXTURE, 'tokenizer.json'), manifest);
  return { reg: new TemplateRegistry(manifest, tok), tok };
}

describe('converted-package manifests and templates', () => {
  it('accepts a model without FIM and refuses completion requests with a clear error', async () => {
    const manifest = manifestWith((m) => (m.templates.fim = null));
    const { reg } = await registry(manifest);
    assert.equal(reg.hasFim, false);
    assert.throws(() => reg.fim({ prefix: 'a', suffix: 'b' }, 100), (err: unknown) => err instanceof CapabilityError && /has no fill-in-the-middle template .*cannot complete code inline/.test(err.message));
    assert.deepEqual(reg.stopTokenIds('fim'), manifest.stop_token_ids);
    assert.ok(reg.chat([{ role: 'user', content: 'hi' }], 100).tokens.length > 0);
  });

  it('prepends the BOS token to chat and FIM prompts when the family needs it, within the budget', async () => {
    const manifest = manifestWith((m) => {
      m.add_bos_token = true;
      m.special_tokens.bos = { ...m.special_tokens.pad };
    });
    const { reg } = await registry(manifest);
    const bos = manifest.special_tokens.bos!.id;
    const chat = reg.chat([{ role: 'user', content: 'hi' }], 100).tokens;
    assert.equal(chat[0], bos);
    assert.equal(chat[1], manifest.special_tokens.user!.id);
    assert.equal(reg.fim({ prefix: 'x', suffix: 'y' }, 100).tokens[0], bos);
    const long = Array.from({ length: 40 }, (_, i) => ({ role: 'user' as const, content: `message ${i} `.repeat(8) }));
    assert.ok(reg.chat(long, 120).tokens.length <= 120);
  });

  it('renders per-role turns where the family has them (Mistral-style [INST] format)', async () => {
    const manifest = manifestWith((m) => {
      m.templates.chat.turn = '[INST] {content} [/INST]';
      m.templates.chat.turns = { assistant: '{content}<|endoftext|>' };
      m.templates.chat.generation_prompt = '';
    });
    const { reg, tok } = await registry(manifest);
    const tokens = reg.chat([{ role: 'user', content: 'Q' }, { role: 'assistant', content: 'A' }, { role: 'user', content: 'R' }], 200).tokens;
    const eot = manifest.special_tokens.eot!.id;
    assert.equal(tok.decode(tokens.slice(0, tokens.indexOf(eot))), '[INST] Q [/INST]A');
    assert.equal(tok.decode(tokens.slice(tokens.indexOf(eot) + 1)), '[INST] R [/INST]');
  });

  it('names the field when a converted manifest is malformed', () => {
    const bad = (change: (m: Record<string, any>) => void, pattern: RegExp) => // eslint-disable-line @typescript-eslint/no-explicit-any -- as above
      assert.throws(() => manifestWith(change), (err: unknown) => err instanceof PackageError && pattern.test(err.message));
    bad((m) => (m.add_bos_token = true), /special_tokens\.bos \(add_bos_token is set\)/);
    bad((m) => (m.templates.fim = 'psm'), /templates\.fim \(an object, or null/);
    bad((m) => (m.files.target_data = { path: 'target.onnx.data' }), /files\.target_data\.sha256/);
    bad((m) => (m.templates.chat.turns = 'x'), /templates\.chat\.turns/);
  });
});
