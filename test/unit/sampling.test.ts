import * as assert from 'node:assert/strict';
import { argmax, distribution, Rng, sample, top2Margin, verifyCandidates, type Candidate } from '../../src/core/sampling';

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

  function tally(draw: (rng: Rng) => number): number[] {
    const rng = new Rng(7);
    const counts = new Array(p.length).fill(0);
    for (let i = 0; i < n; i++) counts[draw(rng)]++;
    return counts;
  }

  it('plain sampling matches the distribution (control)', () => {
    const counts = tally((rng) => sample(Float32Array.from(p), rng));
    assert.ok(chiSquare(counts, p, n) < CHI2_4DOF_999, `chi2 ${chiSquare(counts, p, n)}`);
  });

  it('preserves the target distribution with a fixed sampled draft q', () => {
    const q = Float32Array.from([0.5, 0.1, 0.2, 0.1, 0.1]); // deliberately unlike p
    let accepted = 0;
    const counts = tally((rng) => {
      const candidate: Candidate = { token: sample(q, rng), q };
      const r = verifyCandidates(Float32Array.from(p), [candidate], rng);
      if (r.accepted === 0) accepted++;
      return r.token;
    });
    assert.ok(chiSquare(counts, p, n) < CHI2_4DOF_999, `chi2 ${chiSquare(counts, p, n)} counts ${counts}`);
    // acceptance rate of speculative sampling is sum(min(p, q)) = 0.1+0.1+0.05+0.1+0.1
    assert.ok(Math.abs(accepted / n - 0.45) < 0.02, `acceptance ${accepted / n}`);
  });

  it('preserves it with two i.i.d. draft candidates', () => {
    const q = Float32Array.from([0.2, 0.2, 0.2, 0.2, 0.2]);
    const counts = tally((rng) => verifyCandidates(Float32Array.from(p), [{ token: sample(q, rng), q }, { token: sample(q, rng), q }], rng).token);
    assert.ok(chiSquare(counts, p, n) < CHI2_4DOF_999, `chi2 ${chiSquare(counts, p, n)}`);
  });

  it('preserves it with deterministic (one-hot) top-k candidates, as the engine drafts', () => {
    const counts = tally((rng) => verifyCandidates(Float32Array.from(p), [{ token: 3, q: null }, { token: 0, q: null }], rng).token);
    assert.ok(chiSquare(counts, p, n) < CHI2_4DOF_999, `chi2 ${chiSquare(counts, p, n)}`);
  });

  it('a biased verifier is caught by the same test (the test has power)', () => {
    // accepting a one-hot candidate outright would over-sample token 3
    const counts = tally((rng) => (rng.next() < 0.5 ? 3 : sample(Float32Array.from(p), rng)));
    assert.ok(chiSquare(counts, p, n) > CHI2_4DOF_999);
  });
});
