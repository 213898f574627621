import * as assert from 'node:assert/strict';
import { argmax, distribution, PositionDraws, Rng, sample, top2Margin } from '../../src/core/sampling';
import { acceptSampled } from '../../src/core/step';
import { buildShape, TokenTree } from '../../src/core/tree';

/** Pearson's chi-square statistic of observed counts against expected probabilities. */
function chiSquare(counts: number[], probs: number[], n: number): number {
  return counts.reduce((s, c, i) => (probs[i]! > 0 ? s + (c - n * probs[i]!) ** 2 / (n * probs[i]!) : s + (c > 0 ? Infinity : 0)), 0);
}

// 99.9th percentile of chi-square with 4 degrees of freedom: a correct sampler fails 1 run in 1000.
const CHI2_4DOF_999 = 18.47;

describe('token choice', () => {
  it('finds the argmax and the top-2 margin within a row', () => {
    const logits = Float32Array.from([0, 1, 5, 4.5, 9, 2, 3, 8.75]);
    assert.equal(argmax(logits, 4, 4), 0);
    assert.equal(argmax(logits), 4);
    assert.equal(top2Margin(logits, 4, 4), 9 - 8.75);
  });

  it('applies temperature, top-k and top-p', () => {
    const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    const p = distribution(logits, 0, 4, { temperature: 1, topK: 0, topP: 1 });
    assert.deepEqual([...p].map((x) => +x.toFixed(3)), [0.5, 0.3, 0.15, 0.05]);
    const k2 = distribution(logits, 0, 4, { temperature: 1, topK: 2, topP: 1 });
    assert.deepEqual([...k2].map((x) => +x.toFixed(3)), [0.625, 0.375, 0, 0]);
    const p75 = distribution(logits, 0, 4, { temperature: 1, topK: 0, topP: 0.75 });
    assert.deepEqual([...p75].map((x) => +x.toFixed(3)), [0.625, 0.375, 0, 0]);
    const cold = distribution(logits, 0, 4, { temperature: 0.25, topK: 0, topP: 1 });
    assert.ok(cold[0]! > 0.85);
  });

  it('reproduces a seeded sequence', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 5 }, () => a.next());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => new Rng(43).next()));
  });
});

describe('lossless speculative sampling', () => {
  const p = [0.1, 0.4, 0.05, 0.3, 0.15];
  const n = 40000;
  const logits = Float32Array.from(p.map((x) => Math.log(x)));
  const params = { temperature: 1, topK: 0, topP: 1 };

  function tally(draw: (seed: number) => number): number[] {
    const counts = new Array(p.length).fill(0);
    for (let i = 0; i < n; i++) counts[draw(i)]++;
    return counts;
  }

  /** The first token a sampled verification step emits after a root with these proposals as children. */
  function firstToken(children: number[], seed: number): number {
    const tree = new TokenTree(9);
    for (const c of children) tree.add(0, c, 'draft');
    const { path, bonus } = acceptSampled(tree, buildShape(tree.parents), logits, p.length, params, new PositionDraws(seed), 0);
    return path.length > 1 ? tree.tokens[path[1]!]! : bonus;
  }

  it('plain sampling matches the distribution (control)', () => {
    const rng = new Rng(7);
    const counts = tally(() => sample(Float32Array.from(p), rng));
    assert.ok(chiSquare(counts, p, n) < CHI2_4DOF_999, `chi2 ${chiSquare(counts, p, n)}`);
  });

  it('preserves the target distribution with no proposals, one, or several (one-hot, as the engine drafts)', () => {
    for (const children of [[], [3], [3, 0], [2, 4, 1]]) {
      const counts = tally((seed) => firstToken(children, seed));
      assert.ok(chiSquare(counts, p, n) < CHI2_4DOF_999, `children ${children}: chi2 ${chiSquare(counts, p, n)} counts ${counts}`);
    }
  });

  it('accepts a proposal exactly as often as the target would have chosen it', () => {
    let accepted = 0;
    tally((seed) => {
      const token = firstToken([3], seed);
      if (token === 3) accepted++;
      return token;
    });
    assert.ok(Math.abs(accepted / n - 0.3) < 0.01, `acceptance ${accepted / n}`);
  });

  it('a biased verifier is caught by the same test (the test has power)', () => {
    // accepting a one-hot candidate outright half the time would over-sample token 3
    const rng = new Rng(11);
    const counts = tally((seed) => (rng.next() < 0.5 ? 3 : firstToken([], seed)));
    assert.ok(chiSquare(counts, p, n) > CHI2_4DOF_999);
  });
});

describe('sampled verification of a token tree', () => {
  // Two positions, vocabulary of 4. Root's row and child rows: the walk draws each position from its row.
  const vocab = 4;
  const rows = [
    [0.1, 0.6, 0.2, 0.1], // after the root
    [0.25, 0.25, 0.25, 0.25], // after child token 1
    [0.7, 0.1, 0.1, 0.1], // after child token 2
  ];
  const logits = Float32Array.from(rows.flatMap((r) => r.map((p) => Math.log(p))));
  const tree = new TokenTree(9);
  tree.add(0, 1, 'draft');
  tree.add(0, 2, 'ngram');
  const shape = buildShape(tree.parents);
  const params = { temperature: 1, topK: 0, topP: 1 };

  it('draws every position from the target distribution, whatever was proposed', () => {
    const first = [0, 0, 0, 0];
    const second = new Map<string, number>();
    const n = 40000;
    for (let seed = 0; seed < n; seed++) {
      const { path, bonus } = acceptSampled(tree, shape, logits, vocab, params, new PositionDraws(seed), 5);
      const out = [...path.slice(1).map((node) => tree.tokens[node]!), bonus];
      first[out[0]!]! += 1;
      if (out.length > 1) second.set(`${out[0]}${out[1]}`, (second.get(`${out[0]}${out[1]}`) ?? 0) + 1);
    }
    rows[0]!.forEach((p, t) => assert.ok(Math.abs(first[t]! / n - p) < 0.01, `token ${t}: ${first[t]! / n} vs ${p}`));
    // After an accepted child, the next token follows that child's row.
    assert.ok(Math.abs(second.get('20')! / first[2]! - 0.7) < 0.02);
    assert.ok(Math.abs(second.get('13')! / first[1]! - 0.25) < 0.02);
  });

  it('gives the same tokens for a seed with or without proposals', () => {
    const bare = new TokenTree(9);
    for (let seed = 0; seed < 200; seed++) {
      const withTree = acceptSampled(tree, shape, logits, vocab, params, new PositionDraws(seed), 5);
      const alone = acceptSampled(bare, buildShape(bare.parents), logits, vocab, params, new PositionDraws(seed), 5);
      const firstWith = withTree.path.length > 1 ? tree.tokens[withTree.path[1]!] : withTree.bonus;
      assert.equal(firstWith, alone.bonus);
    }
  });
});

