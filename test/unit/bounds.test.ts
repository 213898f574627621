/**
 * The input-bounding policy (core/bounds.ts) through the template registry: text is cut by characters
 * before it is tokenized, instructions and the newest turns are kept, and what was left out is reported.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { answerRoom, concatTokens, fitTurns, keepHead, keepTail, splitContext } from '../../src/core/bounds';
import type { Manifest } from '../../src/core/manifest';
import { TemplateRegistry } from '../../src/core/templates';
import { TextTokenizer } from '../../src/core/tokenizer';
import { repoRoot } from '../support/paths';

const FIXTURE = join(repoRoot, 'test/fixtures/tiny-package');
const manifest = JSON.parse(readFileSync(join(FIXTURE, 'chimera.json'), 'utf8')) as Manifest;

/** The fixture's tokenizer, counting the characters it is asked to encode. */
async function countingRegistry(): Promise<{ reg: TemplateRegistry; tok: TextTokenizer; encoded: () => number }> {
  const tok = await TextTokenizer.load(join(FIXTURE, 'tokenizer.json'), manifest);
  let chars = 0;
  const encode = tok.encode.bind(tok);
  tok.encode = (text: string) => {
    chars += text.length;
    return encode(text);
  };
  return { reg: new TemplateRegistry(manifest, tok), tok, encoded: () => chars };
}

describe('input bounds', () => {
  it('splits the context: the answer up to half, the prompt the rest; a short prompt leaves the answer more room', () => {
    assert.deepEqual(splitContext(1024, 1000), { prompt: 1024 - 512 - 24, answer: 512 });
    assert.deepEqual(splitContext(1024, 64), { prompt: 1024 - 64 - 24, answer: 64 });
    assert.equal(answerRoom(1024, 100, 1000), 1024 - 24 - 100);
    assert.equal(answerRoom(1024, 100, 50), 50);
  });

  it('never cuts inside a surrogate pair, and cuts heads at a line end', () => {
    assert.equal(keepTail('a😀b', 2), 'b');
    assert.equal(keepHead('a😀b', 2), 'a');
    assert.equal(keepHead('one\ntwo\nthree', 9), 'one\ntwo\n');
  });

  it('joins huge token lists without a spread (push(...ids) overflows the stack past ~100k ids)', () => {
    const big = new Array<number>(500_000).fill(7);
    assert.equal(concatTokens([[1], big, [2]]).length, 500_002);
  });

  it('fits a conversation: keeps the system prompt and the newest turn, drops the oldest, reports it', () => {
    const render = (t: string) => Array.from(t, () => 1); // one token per character
    const turn = (role: 'system' | 'user' | 'assistant', text: string) => ({ role, text, render });
    const fitted = fitTurns([turn('system', 'SYS'), turn('user', 'a'.repeat(50)), turn('assistant', 'b'.repeat(50)), turn('user', 'c'.repeat(30))], 90, 1);
    assert.deepEqual(fitted.turns.map((t) => t.length), [3, 50, 30]);
    assert.deepEqual(fitted.trim, { droppedTurns: 1, droppedChars: 50 });
    const cut = fitTurns([turn('system', 'S'.repeat(80)), turn('user', 'q'.repeat(500))], 100, 1);
    assert.deepEqual(cut.turns.map((t) => t.length), [50, 50], 'the system prompt gets at most half, the question the rest');
  });

  it('handles 400 KB of chat and edit content without overflowing the stack, within the budget', async () => {
    const { reg } = await countingRegistry();
    const huge = 'x = 1\n'.repeat(70_000); // 420 KB
    const chat = reg.chat([{ role: 'user', content: huge }], 500);
    assert.ok(chat.tokens.length <= 500, `${chat.tokens.length}`);
    assert.ok(chat.trim && chat.trim.droppedChars > 400_000);
    const edit = reg.edit(huge, 'python', 'Rename x to y', 500);
    assert.ok(edit.tokens.length <= 500, `${edit.tokens.length}`);
  });

  it('keeps the instruction of a refactor whose selection is longer than the context, and says how much code was read', async () => {
    const { reg, tok } = await countingRegistry();
    const code = Array.from({ length: 3000 }, (_, i) => `value_${i} = compute(${i})`).join('\n');
    const p = reg.edit(code, 'python', 'Rename compute to evaluate', 400);
    const text = tok.decode(p.tokens);
    assert.ok(p.tokens.length <= 400, `${p.tokens.length}`);
    assert.match(text, /Rename compute to evaluate/, 'the model reads the instruction');
    assert.match(text, /value_0 = compute\(0\)/, 'and the code from its start');
    const read = p.trim?.codeCharsRead;
    assert.ok(read !== undefined && read > 0 && read < code.length && code[read - 1] === '\n', `read ${read}`);
    assert.ok(text.includes(code.slice(0, read).trimEnd()), 'exactly the reported part of the code');
  });

  it('tokenizes at most a context\'s worth of characters of a 4 MB prompt (it used to encode all of it)', async () => {
    const { reg, tok, encoded } = await countingRegistry();
    const prompt = 'print("hello")\n'.repeat(280_000); // 4.2 MB
    const p = reg.plain(prompt, 488);
    assert.equal(p.tokens.length + 1, 488, 'the last token is healed');
    assert.ok(encoded() <= 488 * tok.maxTokenChars, `encoded ${encoded()} characters`);
    assert.ok((tok.decode(p.tokens) + p.healed).endsWith('print("hello")\n'), 'the end of the prompt is kept');
    assert.ok(p.trim && p.trim.droppedChars > 4_000_000);
  });

  it('reports nothing when everything fits', async () => {
    const { reg } = await countingRegistry();
    assert.equal(reg.chat([{ role: 'user', content: 'hi' }], 100).trim, undefined);
    assert.equal(reg.edit('x = 1', 'python', 'Rename x', 200).trim, undefined);
    assert.equal(reg.plain('x = 1', 100).trim, undefined);
  });
});
