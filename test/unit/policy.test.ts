import * as assert from 'node:assert/strict';
import { AcceptanceStats } from '../../src/core/acceptance';
import { CostModel, parseProfile, PROFILE_SIZES, type CostProfile } from '../../src/core/cost';
import { TreePolicy } from '../../src/core/policy';
import type { DraftProposal } from '../../src/core/runner';

/** c(T) = base + slope * (T - 1) at the profiled sizes. */
function linearProfile(base: number, slope: number, draftMs = 0.2): CostProfile {
  return { targetMs: PROFILE_SIZES.map((t) => base + slope * (t - 1)), draftMs, contextTokens: 64, key: 'test', measuredAt: '' };
}

/** A draft proposal whose chain is `chain` (first choices) with log-probability `logp` each. */
function proposal(chain: number[], logp: number, topK = 2): DraftProposal {
  const tokens = new Int32Array(chain.length * topK);
  const logprobs = new Float32Array(chain.length * topK);
  chain.forEach((t, step) => {
    tokens[step * topK] = t;
    logprobs[step * topK] = logp;
    for (let r = 1; r < topK; r++) {
      tokens[step * topK + r] = 1000 + step * 10 + r;
      logprobs[step * topK + r] = Math.log(0.01);
    }
  });
  return { tokens, logprobs, steps: chain.length, topK };
}

describe('cost model', () => {
  it('interpolates between profiled sizes and extrapolates past the last', () => {
    const costs = new CostModel(linearProfile(1, 0.1));
    assert.equal(costs.target(1), 1);
    assert.ok(Math.abs(costs.target(3) - 1.2) < 1e-9);
    assert.ok(Math.abs(costs.target(40) - (1 + 0.1 * 39)) < 1e-9);
  });

  it('moves towards observed step times: every size with the machine, the observed size most', () => {
    const costs = new CostModel(linearProfile(1, 0));
    for (let i = 0; i < 300; i++) costs.observeTarget(8, 2);
    assert.ok(Math.abs(costs.target(8) - 2) < 0.05, `c(8) learned ${costs.target(8)}`);
    assert.ok(costs.target(1) > 1.2 && costs.target(1) < costs.target(8), `c(1) ${costs.target(1)}`);
    assert.equal(costs.target(1), costs.target(32), 'unobserved sizes keep their profiled proportions');
  });

  it('keeps the profiled shape when only one size is ever observed (so other sizes still get tried)', () => {
    const costs = new CostModel(linearProfile(1, 0.04));
    for (let i = 0; i < 300; i++) costs.observeTarget(1, 0.3);
    const relative = costs.target(4) / costs.target(1);
    assert.ok(relative < 1.5, `c(4)/c(1) became ${relative} (profiled 1.12); it must not look several times dearer`);
  });

  it('ignores nonsense observations and rejects incomplete profiles', () => {
    const costs = new CostModel(linearProfile(1, 0.1));
    costs.observeTarget(4, Number.NaN);
    costs.observeTarget(4, -3);
    costs.observeDraft(Number.POSITIVE_INFINITY);
    assert.ok(Math.abs(costs.target(4) - 1.3) < 1e-9);
    assert.equal(costs.draft, 0.2);
    assert.throws(() => new CostModel({ ...linearProfile(1, 0), targetMs: [1, 2] }), /positive time for every profiled size/);
  });
});

describe('cost profiles from files', () => {
  it('reads the cache format and the --profile report, and a frozen model learns nothing', () => {
    const report = parseProfile(JSON.stringify({ targetMs: { 1: 2, 2: 2.1, 4: 2.2, 8: 2.5, 16: 3, 32: 4 }, draftMsPerCall: 0.3 }), 'r.json');
    assert.deepEqual(report.targetMs, [2, 2.1, 2.2, 2.5, 3, 4]);
    assert.equal(report.draftMs, 0.3);
    const cached = parseProfile(JSON.stringify(linearProfile(1, 0.1)), 'c.json');
    assert.equal(cached.targetMs[5], 1 + 0.1 * 31);
    const frozen = new CostModel(report, true);
    for (let i = 0; i < 50; i++) frozen.observeTarget(8, 10);
    assert.equal(frozen.target(8), 2.5);
  });

  it('names what is wrong with a bad profile', () => {
    assert.throws(() => parseProfile('{', 'p.json'), /p\.json: not valid JSON/);
    assert.throws(() => parseProfile(JSON.stringify({ targetMs: { 1: 1, 2: 1 } }), 'p.json'), /p\.json: needs "targetMs"/);
    assert.throws(() => parseProfile(JSON.stringify({ targetMs: [1, 2, 3, 4, 5, -6] }), 'p.json'), /positive time/);
  });
});

describe('acceptance estimates', () => {
  it('start from the prior and follow the evidence', () => {
    const stats = new AcceptanceStats();
    const key = { kind: 'lookup', matched: 4, index: 0 } as const;
    assert.equal(stats.estimate(key), 0.6);
    for (let i = 0; i < 100; i++) stats.record(key, i % 10 === 0);
    assert.ok(stats.estimate(key) < 0.15, `after 10% acceptance: ${stats.estimate(key)}`);
    assert.equal(stats.estimate({ kind: 'lookup', matched: 2, index: 0 }), 0.4, 'other bins are untouched');
  });

  it('trust a draft token as much as the draft does, until told otherwise', () => {
    const stats = new AcceptanceStats();
    assert.ok(Math.abs(stats.estimate({ kind: 'draft', probability: 0.93, onChain: true }) - 0.95) < 1e-9);
    assert.ok(stats.estimate({ kind: 'draft', probability: 0.93, onChain: false }) < 0.5);
  });
});

describe('tree policy', () => {
  const lookup = (tokens: number[], matched = 4) => ({ tokens, matched });

  it('verifies the root alone in autoregressive mode, and never drafts', () => {
    const policy = new TreePolicy({ tree: 'cost', maxNodes: 32 }, new CostModel(linearProfile(1, 0)));
    const plan = policy.plan('autoregressive', 7, lookup([1, 2, 3]), 100);
    assert.equal(plan.runDraft, false);
    assert.deepEqual(policy.choose(plan, null).tree.tokens, [7]);
  });

  it('keeps a long lookup run when verification is flat, and cuts it when it is steep', () => {
    const run = [11, 12, 13, 14, 15, 16, 17, 18];
    const flat = new TreePolicy({ tree: 'cost', maxNodes: 32 }, new CostModel(linearProfile(1, 0.001)));
    assert.equal(flat.choose(flat.plan('ngram', 7, lookup(run), 100), null).tree.size, 9);
    const steep = new TreePolicy({ tree: 'cost', maxNodes: 32 }, new CostModel(linearProfile(1, 0.5)));
    const size = steep.choose(steep.plan('ngram', 7, lookup(run), 100), null).tree.size;
    assert.ok(size >= 2 && size <= 3, `steep costs keep ${size} nodes`);
  });

  it('learns that a lookup run is wrong and stops verifying it', () => {
    const policy = new TreePolicy({ tree: 'cost', maxNodes: 32 }, new CostModel(linearProfile(1, 0.2)));
    for (let i = 0; i < 60; i++) {
      const choice = policy.choose(policy.plan('ngram', 7, lookup([11, 12, 13], 2), 100), null);
      policy.learn(choice, [0]); // the target never takes the copied token
    }
    assert.equal(policy.choose(policy.plan('ngram', 7, lookup([11, 12, 13], 2), 100), null).tree.size, 1);
  });

  it('respects the room left in the cache', () => {
    const policy = new TreePolicy({ tree: 'cost', maxNodes: 32 }, new CostModel(linearProfile(1, 0)));
    assert.equal(policy.choose(policy.plan('ngram', 7, lookup([1, 2, 3, 4, 5]), 3), null).tree.size, 3);
  });

  it('merges a draft chain with the lookup run and builds parents before children', () => {
    const policy = new TreePolicy({ tree: 'cost', maxNodes: 32 }, new CostModel(linearProfile(1, 0.001, 0.01)));
    const plan = policy.plan('chimera', 7, lookup([11, 12]), 100);
    assert.equal(plan.runDraft, true, 'an optimistic start tries the draft');
    const choice = policy.choose(plan, proposal([11, 21, 22], Math.log(0.9)));
    const { tree } = choice;
    tree.parents.forEach((p, i) => assert.ok(p < i, `node ${i} comes after its parent ${p}`));
    const eleven = tree.tokens.indexOf(11);
    assert.equal(tree.tokens.filter((t) => t === 11).length, 1, 'one node for a token both sources propose');
    assert.equal(choice.keys[eleven]!.length, 2, 'and it learns for both');
    assert.ok(tree.tokens.includes(21) && tree.tokens.includes(12), 'the draft chain and the lookup run branch apart');
  });

  it('verifies chains only where the device computes trees wrongly: the likeliest path, no siblings', () => {
    const options = { tree: 'cost' as const, maxNodes: 32 };
    const costs = new CostModel(linearProfile(1, 0.001, 0.01));
    const branching = new TreePolicy(options, costs).choose(new TreePolicy(options, costs).plan('chimera', 7, lookup([11, 12]), 100), proposal([11, 21, 22], Math.log(0.9)));
    assert.ok(branching.tree.parents.some((p, i) => i > 0 && p !== i - 1), 'with sound trees the draft and lookup branch apart');
    const policy = new TreePolicy({ ...options, chains: true }, costs);
    const plan = policy.plan('chimera', 7, lookup([11, 12]), 100);
    const { tree } = policy.choose(plan, proposal([11, 21, 22], Math.log(0.9)));
    tree.parents.forEach((p, i) => assert.equal(p, i - 1, `node ${i} follows the one before it`));
    assert.equal(tree.tokens[1], 11, 'the token both sources propose comes first');
    assert.ok(tree.size >= 3, `a chain, not just the root: ${tree.tokens.join(',')}`);
  });

  it('cuts the static tree to its first path where the device verifies chains only', () => {
    const draftTree = { slots: [{ parent: 0, step: 0, rank: 0 }, { parent: 0, step: 0, rank: 1 }, { parent: 1, step: 1, rank: 0 }] };
    const policy = new TreePolicy({ tree: 'static', maxNodes: 16, draftTree, chains: true }, new CostModel(linearProfile(1, 0)));
    const { tree } = policy.choose(policy.plan('chimera', 7, null, 100), proposal([21, 22], Math.log(0.5)));
    assert.deepEqual(tree.tokens, [7, 21, 22]);
    assert.deepEqual(tree.parents, [-1, 0, 1]);
  });

  it('stops calling a draft that does not pay, but keeps trying it now and then', () => {
    const costs = new CostModel(linearProfile(1, 0.05, 5)); // a draft five times a target step
    const policy = new TreePolicy({ tree: 'cost', maxNodes: 32 }, costs);
    let calls = 0;
    for (let step = 0; step < 200; step++) {
      const plan = policy.plan('chimera', 7, null, 100);
      if (!plan.runDraft) {
        policy.learn(policy.choose(plan, null), [0]);
        continue;
      }
      calls++;
      const choice = policy.choose(plan, proposal([21, 22], Math.log(0.3)));
      policy.learn(choice, [0]);
    }
    assert.ok(calls >= 5 && calls <= 30, `draft calls: ${calls} of 200`);
    assert.ok(policy.draftGains()[0]! < 1);
  });
});
