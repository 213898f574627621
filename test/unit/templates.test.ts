import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../src/core/manifest';
import { keepFirstLines, keepLastLines, TemplateRegistry } from '../../src/core/templates';
import { StreamingDecoder, TextTokenizer } from '../../src/core/tokenizer';
import { repoRoot } from '../support/paths';

const FIXTURE = join(repoRoot, 'test/fixtures/tiny-package');
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'chimera.json'), 'utf8')) as Manifest;
const id = (name: string) => manifest.special_tokens[name]!.id;

describe('tokenizer wrapper and template registry', () => {
  let tok: TextTokenizer;
  let reg: TemplateRegistry;
  before(async () => {
    tok = await TextTokenizer.load(join(FIXTURE, 'tokenizer.json'), manifest);
    reg = new TemplateRegistry(manifest, tok);
  });

  it('encodes special-token strings in user text as ordinary text', () => {
    const ids = tok.encode('a<|endoftext|>b');
    assert.ok(!ids.includes(id('eot')));
    assert.equal(tok.decode(ids), 'a<|endoftext|>b');
  });

  it('streams text without half characters and reassembles it exactly', () => {
    const text = 'naïve café — 中文 🚀 ok\n\tdone';
    const ids = tok.encode(text);
    const decoder = new StreamingDecoder(tok);
    const deltas = ids.map((t) => decoder.push([t]));
    deltas.push(decoder.flush());
    assert.ok(deltas.every((d) => !d.includes('\uFFFD')), JSON.stringify(deltas));
    assert.equal(deltas.join(''), text);
  });

  it('builds FIM prompts in suffix-prefix-middle order with a file header', () => {
    const p = reg.fim({ prefix: 'def f(x):\n    return ', suffix: '\n\nprint(f(2))\n', path: 'src/a.py' }, 500);
    const t = p.tokens;
    assert.equal(t[0], id('file'));
    const iPre = t.indexOf(id('fim_prefix'));
    const iSuf = t.indexOf(id('fim_suffix'));
    const iMid = t.indexOf(id('fim_middle'));
    assert.ok(iPre + 1 === iSuf && iSuf < iMid);
    assert.equal(tok.decode(t.slice(1, iPre)), 'src/a.py\n');
    assert.equal(tok.decode(t.slice(iSuf + 1, iMid)), '\n\nprint(f(2))\n');
    // The prompt ends in the text before the cursor, whose last token is healed: the answer re-spells it.
    assert.ok(p.healed && p.healed.length > 0);
    assert.equal(tok.decode(t.slice(iMid + 1)) + p.healed, 'def f(x):\n    return ');
    assert.deepEqual(reg.stopTokenIds('fim').sort(), [id('eot'), id('file'), id('fim_prefix')].sort());
  });

  it('keeps FIM prompts within budget by dropping far-away lines', () => {
    const prefix = Array.from({ length: 400 }, (_, i) => `line_${i} = ${i}`).join('\n');
    const suffix = Array.from({ length: 400 }, (_, i) => `tail_${i} = ${i}`).join('\n');
    const p = reg.fim({ prefix, suffix }, 300);
    assert.ok(p.tokens.length <= 300, `${p.tokens.length}`);
    const text = tok.decode(p.tokens) + (p.healed ?? '');
    assert.ok(text.endsWith('line_399 = 399') && text.includes('tail_0 = 0'));
  });

  it('cuts lines in blocks, so typing on the last line keeps the same cut', () => {
    const base = Array.from({ length: 300 }, (_, i) => `x${i}`).join('\n');
    const a = keepLastLines(base + '\nfoo', 1000);
    const b = keepLastLines(base + '\nfoo(bar', 1000);
    assert.equal(a.split('\n')[0], b.split('\n')[0]);
    assert.ok(keepFirstLines(base, 50).length <= 50);
  });

  it('renders chat turns and drops the oldest turns to fit', () => {
    const p = reg.chat([{ role: 'user', content: 'hi' }], 100);
    assert.deepEqual(p.tokens.slice(0, 1), [id('user')]);
    assert.equal(p.tokens.at(-2), id('assistant'));
    const long = Array.from({ length: 30 }, (_, i) => ({ role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant', content: `message number ${i} `.repeat(10) }));
    const fitted = reg.chat(long, 200);
    assert.ok(fitted.tokens.length <= 200);
    assert.match(tok.decode(fitted.tokens), /message number 29/);
    assert.doesNotMatch(tok.decode(fitted.tokens), /message number 0 /);
  });

  it('builds edit prompts that open a code fence and stop at its close', () => {
    const p = reg.edit('x = 1', 'python', 'Rename `x` to `y`', 500);
    assert.equal(p.replyPrefix, '```python\n');
    assert.deepEqual(p.stopStrings, ['\n```']);
    assert.ok(tok.decode(p.tokens).endsWith('```python\n'));
  });
});
