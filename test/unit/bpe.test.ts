/**
 * CompactBpe must encode exactly as the library's BPE model does. Random merge tables (duplicate merges,
 * merges whose result or parts the vocabulary lacks, both merge formats) and random words (repeated
 * pairs, characters the vocabulary lacks, characters outside the BMP) exercise the merge order and every
 * way a piece leaves the model: as itself, as byte tokens, as the unknown token, or dropped.
 */
import * as assert from 'node:assert/strict';
import { BPE } from '@huggingface/tokenizers';
import { CompactBpe } from '../../src/core/bpe';
import { summarizeTokenizer } from '../../src/core/tokenizerFile';

interface BpeConfig {
  type: string;
  vocab: Record<string, number>;
  merges: (string | [string, string])[];
  unk_token?: string | null;
  byte_fallback?: boolean;
  ignore_merges?: boolean;
  end_of_word_suffix?: string | null;
  continuing_subword_suffix?: string | null;
}

/** CompactBpe as the tokenizer builds it: from the summary of a tokenizer.json holding `model`. */
function compactFrom(model: BpeConfig): CompactBpe {
  const tables = summarizeTokenizer({ model }).bpe;
  assert.ok(tables, 'the configuration is left to the library');
  return new CompactBpe(tables);
}

function random(seed: number): (n: number) => number {
  let s = seed;
  return (n) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s % n);
}

const ALPHABET = ['a', 'b', 'c', 'é', '🙂', ' '];
const UNKNOWN = ['z', '字'];

interface Options {
  seed: number;
  unk?: boolean;
  byteFallback?: boolean;
  ignoreMerges?: boolean;
  stringMerges?: boolean;
}

/** A vocabulary grown by random merges, as training would, with the oddities real files sometimes have. */
function randomConfig(o: Options): BpeConfig {
  const next = random(o.seed);
  const vocab: Record<string, number> = {};
  const symbols = [...ALPHABET];
  let id = 0;
  for (const s of symbols) vocab[s] = id++;
  if (o.unk) vocab['<unk>'] = id++;
  if (o.byteFallback) for (const b of [0x7a, 0xe5, 0xad, 0x97]) vocab[`<0x${b.toString(16).toUpperCase()}>`] = id++;
  const merges: [string, string][] = [];
  for (let i = 0; i < 120; i++) {
    const a = symbols[next(symbols.length)]!;
    const b = symbols[next(symbols.length)]!;
    if (a.includes(' ') || b.includes(' ')) continue; // string-format merges split on the space
    merges.push([a, b]);
    if (next(10) > 0 && vocab[a + b] === undefined) vocab[a + b] = id++; // now and then the result is missing
    symbols.push(a + b);
    if (next(15) === 0) merges.push(merges[next(merges.length)]!); // a duplicate: the later rank counts
  }
  return {
    type: 'BPE',
    vocab,
    merges: o.stringMerges ? merges.map(([a, b]) => `${a} ${b}`) : merges,
    unk_token: o.unk ? '<unk>' : null,
    byte_fallback: o.byteFallback ?? false,
    ignore_merges: o.ignoreMerges ?? false,
  };
}

function randomWords(seed: number, count: number): string[] {
  const next = random(seed);
  const chars = [...ALPHABET.filter((c) => c !== ' '), ...UNKNOWN];
  return Array.from({ length: count }, () => {
    const length = 1 + next(next(4) === 0 ? 300 : 24);
    // Runs of one character test the leftmost-first rule among equal pairs.
    return Array.from({ length }, () => (next(6) === 0 ? 'a' : chars[next(chars.length)]!)).join('');
  });
}

describe('CompactBpe', () => {
  const cases: [string, Omit<Options, 'seed'>][] = [
    ['plain', {}],
    ['merges as "a b" strings', { stringMerges: true }],
    ['an unknown token', { unk: true }],
    ['byte fallback', { byteFallback: true, unk: true }],
    ['byte fallback without an unknown token', { byteFallback: true }],
    ['ignore_merges', { ignoreMerges: true }],
  ];
  for (const [name, options] of cases) {
    it(`encodes as the library's BPE model does: ${name}`, () => {
      for (let seed = 1; seed <= 8; seed++) {
        const config = randomConfig({ seed, ...options });
        const library = new BPE(structuredClone(config) as never);
        const compact = compactFrom(config);
        const words = randomWords(seed * 31, 150);
        // Twice: the second pass answers from the cache.
        for (let pass = 0; pass < 2; pass++) {
          assert.deepEqual(compact(words), library(words), `seed ${seed}, pass ${pass}`);
        }
        for (const word of words) assert.deepEqual(compact([word]), library([word]), `seed ${seed}, word ${JSON.stringify(word)}`);
      }
    });
  }

  it('keeps the vocabulary the library tokenizer looks ids up in', () => {
    const config = randomConfig({ seed: 3, unk: true });
    const compact = compactFrom(config);
    for (const [token, id] of Object.entries(config.vocab)) {
      assert.equal(compact.tokens_to_ids.get(token), id);
      assert.equal(compact.tokens_to_ids.has(token), true);
      assert.equal(compact.vocab[id], token);
    }
    assert.equal(compact.unk_token_id, config.vocab['<unk>']);
    const ids = Object.values(config.vocab);
    assert.equal(compact.vocab.length, Math.max(...ids) + 1);
    for (const absent of ['', 'not-a-token', ...randomWords(5, 200)]) {
      if (Object.hasOwn(config.vocab, absent)) continue;
      assert.equal(compact.tokens_to_ids.get(absent), undefined, JSON.stringify(absent));
      assert.equal(compact.tokens_to_ids.has(absent), false);
    }
    assert.equal(compact.vocab[-1], undefined);
    const byName = compact.vocab as unknown as Record<string, unknown>;
    assert.equal(byName[' '], undefined, 'not read as id 0');
    assert.equal(byName['00'], undefined, 'not read as id 0');
    assert.equal(compact.vocab[compact.vocab.length], undefined);
  });

  it('answers ids with gaps, and symbols only merges name, as absent from the vocabulary', () => {
    const compact = compactFrom({ type: 'BPE', vocab: { a: 0, b: 5, abc: 9 }, merges: [['a', 'b'], ['ab', 'c']] });
    assert.deepEqual([0, 1, 5, 8, 9].map((id) => compact.vocab[id]), ['a', undefined, 'b', undefined, 'abc']);
    assert.equal(compact.vocab.length, 10);
    assert.equal(compact.tokens_to_ids.get('ab'), undefined, "a merge's result the vocabulary lacks");
    assert.equal(compact.tokens_to_ids.get('c'), undefined);
  });

  it('names a vocabulary entry whose id is shared or not an integer', () => {
    assert.throws(() => compactFrom({ type: 'BPE', vocab: { a: 0, b: 0 }, merges: [] }), /"a" and "b" share id 0/);
    assert.throws(() => compactFrom({ type: 'BPE', vocab: { a: 1.5 }, merges: [] }), /"a" has id 1.5/);
    assert.throws(() => compactFrom({ type: 'BPE', vocab: { a: 0 }, merges: [['a'] as never] }), /merge 0 is not a pair/);
  });

  it('summarizes a tokenizer.json: its longest entry, highest id, and the rest of it without the tables', () => {
    const summary = summarizeTokenizer({
      model: { type: 'BPE', vocab: { ab: 0, a: 1, b: 2 }, merges: ['a b'], unk_token: null },
      added_tokens: [{ id: 7, content: '<|x|>' }],
      decoder: { type: 'ByteLevel' },
    });
    assert.equal(summary.longest, 2);
    assert.equal(summary.highest, 7);
    assert.deepEqual(summary.json, { model: { type: 'BPE', unk_token: null }, added_tokens: [{ id: 7, content: '<|x|>' }], decoder: { type: 'ByteLevel' } });
    assert.deepEqual([...summary.bpe!.merges], [1, 2, 0]);
    const unigram = summarizeTokenizer({ model: { type: 'Unigram', vocab: [['▁x', -1], ['y', -2]] } });
    assert.equal(unigram.bpe, null);
    assert.equal(unigram.highest, 1);
    assert.equal(unigram.longest, 2);
  });

  it('leaves configurations with word suffixes, and other models, to the library', () => {
    const base = randomConfig({ seed: 1 });
    const tables = (model: unknown) => summarizeTokenizer({ model }).bpe;
    assert.notEqual(tables(base), null);
    assert.equal(tables({ ...base, end_of_word_suffix: '</w>' }), null);
    assert.equal(tables({ ...base, continuing_subword_suffix: '##' }), null);
    assert.notEqual(tables({ ...base, end_of_word_suffix: '', continuing_subword_suffix: null }), null);
    assert.equal(tables({ type: 'WordPiece', vocab: {} }), null);
    assert.equal(tables({ type: 'BPE', vocab: [['a', 0]], merges: [] }), null);
  });
});
