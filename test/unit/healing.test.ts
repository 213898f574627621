/** Token healing: golden cursor fixtures (spaces, half an identifier, an opening quote) and the constraint. */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Emitter } from '../../src/core/emitter';
import { HealingConstraint, healingLeft, healPrompt } from '../../src/core/healing';
import type { Manifest } from '../../src/core/manifest';
import { PositionDraws } from '../../src/core/sampling';
import { TemplateRegistry } from '../../src/core/templates';
import { TextTokenizer } from '../../src/core/tokenizer';
import { repoRoot } from '../support/paths';

const FIXTURE = join(repoRoot, 'test/fixtures/tiny-package');
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'chimera.json'), 'utf8')) as Manifest;

/** Cursor positions where the prompt ends inside what the tokenizer would merge with the next text. */
const CURSORS = [
  { name: 'indentation after a new line', prefix: 'def read_lines(path):\n    ', healedEndsWith: ' ' },
  { name: 'half an identifier', prefix: 'def read_lines(path):\n    with open(pa', healedEndsWith: 'pa' },
  { name: 'an opening quote', prefix: 'print("', healedEndsWith: '"' },
];

describe('token healing', () => {
  let tok: TextTokenizer;
  let reg: TemplateRegistry;
  before(async () => {
    tok = await TextTokenizer.load(join(FIXTURE, 'tokenizer.json'), manifest);
    reg = new TemplateRegistry(manifest, tok);
  });

  for (const c of CURSORS) {
    it(`backs a prompt ending in ${c.name} up by one token and keeps its text`, () => {
      const tokens = tok.encode(c.prefix);
      const { tokens: kept, healed } = healPrompt(tokens, tok);
      assert.equal(kept.length, tokens.length - 1);
      assert.equal(healed, tok.decode(tokens.slice(-1)));
      assert.ok(healed.endsWith(c.healedEndsWith), JSON.stringify(healed));
      assert.equal(tok.decode(kept) + healed, c.prefix);
    });

    it(`heals FIM and plain prompts ending in ${c.name}`, () => {
      const fim = reg.fim({ prefix: c.prefix, suffix: '\n\nprint(1)\n' }, 400);
      assert.ok(fim.healed?.endsWith(c.healedEndsWith), JSON.stringify(fim.healed));
      const plain = reg.plain(c.prefix, 400);
      assert.equal(tok.decode(plain.tokens) + plain.healed, c.prefix);
    });
  }

  it('never heals a special token or a lone prompt token', () => {
    const eot = manifest.special_tokens.eot!.id;
    assert.deepEqual(healPrompt([5, 6, eot], tok), { tokens: [5, 6, eot], healed: '' });
    assert.deepEqual(healPrompt([5], tok), { tokens: [5], healed: '' });
  });

  it('tracks how much of the healed text is still to be spelled', () => {
    assert.equal(healingLeft('    ', ''), '    ');
    assert.equal(healingLeft('    ', '  '), '  ');
    assert.equal(healingLeft('    ', '    '), '');
    assert.equal(healingLeft('    ', '     """'), '', 'once past the healed text nothing is constrained');
    assert.equal(healingLeft('', 'x'), '');
  });

  it('allows only tokens that re-spell the healed text or start with all of it', () => {
    const heal = new HealingConstraint(tok);
    const ids = (text: string) => tok.encode(text);
    const [spaceDoc] = ids('    """');
    const fourSpaces = ids('    ')[0]!;
    assert.ok(heal.allows(fourSpaces, '    '));
    if (spaceDoc !== undefined && tok.decode([spaceDoc]).startsWith('    ')) assert.ok(heal.allows(spaceDoc, '    '));
    assert.ok(!heal.allows(ids('x')[0]!, '    '));
    assert.ok(heal.allows(ids(' ')[0]!, '    '), 'a shorter prefix of the healed text leaves the rest for the next token');
  });

  it('takes the best allowed token, not the best token (the 5-space case)', () => {
    const heal = new HealingConstraint(tok);
    const vocab = manifest.model.vocab_size;
    const logits = new Float32Array(vocab).fill(-5);
    const healed = tok.decode(tok.encode('def f():\n    ').slice(-1));
    const fiveSpaces = tok.encode('     ').find((t) => tok.decode([t]).length > healed.length && tok.decode([t]).startsWith(healed));
    const wrong = tok.encode('x')[0]!;
    const right = tok.encode(healed)[0]!;
    logits[wrong] = 9;
    logits[right] = 3;
    if (fiveSpaces !== undefined) logits[fiveSpaces] = 2;
    assert.equal(heal.argmax(logits, 0, vocab, healed), right);
    const greedy = heal.choose(logits, 0, vocab, { temperature: 0, topK: 0, topP: 1 }, new PositionDraws(1), 0, healed);
    assert.equal(greedy, right);
  });

  it('samples only allowed tokens, and falls back to the best allowed one when top-k leaves none', () => {
    const heal = new HealingConstraint(tok);
    const vocab = manifest.model.vocab_size;
    const logits = new Float32Array(vocab).fill(-20);
    const wrong = tok.encode('x')[0]!;
    const a = tok.encode('"')[0]!;
    logits[wrong] = 10;
    logits[a] = 4;
    for (let seed = 1; seed <= 20; seed++) {
      const draws = new PositionDraws(seed);
      assert.equal(heal.choose(logits, 0, vocab, { temperature: 1, topK: 0, topP: 1 }, draws, 0, '"'), a);
      assert.equal(heal.choose(logits, 0, vocab, { temperature: 1, topK: 1, topP: 1 }, draws, 0, '"'), a);
    }
  });

  it('hides the re-spelled text from the stream and the final text', () => {
    const healed = '    ';
    const emitter = new Emitter(tok, [], [], 64, healed.length);
    const answer = tok.encode('    """Read it."""');
    let shown = '';
    for (const t of answer) shown += emitter.push([t]);
    shown += emitter.flush();
    assert.equal(shown, '"""Read it."""');
    assert.equal(emitter.fullText, '"""Read it."""');
    assert.equal(emitter.rawText, '    """Read it."""');
  });
});
