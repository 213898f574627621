import * as assert from 'node:assert/strict';
import { buildShape, draftTreeFromPaths, ShapeCache, TokenTree } from '../../src/core/tree';

const NEG = -Infinity;

describe('verification tree shapes', () => {
  // root 0 -> 1, 2; 1 -> 3; 3 -> 4
  const shape = buildShape([-1, 0, 0, 1, 3]);

  it('computes depths, children and leaf paths', () => {
    assert.deepEqual([...shape.depths], [0, 1, 1, 2, 3]);
    assert.deepEqual(shape.children, [[1, 2], [3], [], [4], []]);
    assert.deepEqual(shape.leafPaths, [[0, 2], [0, 1, 3, 4]]);
  });

  it('lets each node see exactly itself and its ancestors', () => {
    const rows = [];
    for (let i = 0; i < 5; i++) rows.push([...shape.mask.subarray(i * 5, i * 5 + 5)]);
    assert.deepEqual(rows, [
      [0, NEG, NEG, NEG, NEG],
      [0, 0, NEG, NEG, NEG],
      [0, NEG, 0, NEG, NEG],
      [0, 0, NEG, 0, NEG],
      [0, 0, NEG, 0, 0],
    ]);
  });

  it('rejects parents that come after their children', () => {
    assert.throws(() => buildShape([-1, 2, 0]), /parents must come first/);
    assert.throws(() => buildShape([0]), /starts with its root/);
  });

  it('caches shapes by parent array', () => {
    const cache = new ShapeCache();
    assert.equal(cache.get([-1, 0, 1]), cache.get([-1, 0, 1]));
    assert.notEqual(cache.get([-1, 0, 1]), cache.get([-1, 0, 0]));
  });
});

describe('draft trees from rank paths', () => {
  it('orders paths parents-first and maps them to (step, rank, parent) slots', () => {
    const tree = draftTreeFromPaths([[0, 0], [1], [0], [0, 1], [0, 0, 0]], 4, 4);
    assert.deepEqual(tree.slots, [
      { step: 0, rank: 0, parent: 0 },
      { step: 0, rank: 1, parent: 0 },
      { step: 1, rank: 0, parent: 1 },
      { step: 1, rank: 1, parent: 1 },
      { step: 2, rank: 0, parent: 3 },
    ]);
  });

  it('rejects paths the draft cannot fill or without a parent', () => {
    assert.throws(() => draftTreeFromPaths([[0, 0, 0, 0, 0]], 4, 4), /1\.\.4 ranks/);
    assert.throws(() => draftTreeFromPaths([[5]], 4, 4), /rank outside/);
    assert.throws(() => draftTreeFromPaths([[1, 0]], 4, 4), /no parent path/);
  });
});

describe('token trees', () => {
  it('fills the draft tree and merges a lookup chain as a trie', () => {
    const draft = draftTreeFromPaths([[0], [1], [0, 0]], 2, 2);
    const tree = new TokenTree(100);
    // step 0 candidates: 7, 8; step 1 candidates: 9, 10
    tree.addDraft(draft, [7, 8, 9, 10], 2, 16);
    assert.deepEqual(tree.tokens, [100, 7, 8, 9]);
    assert.deepEqual(tree.parents, [-1, 0, 0, 1]);
    tree.addChain([7, 9, 11, 12], 16); // shares 7 -> 9, then extends
    assert.deepEqual(tree.tokens, [100, 7, 8, 9, 11, 12]);
    assert.deepEqual(tree.parents, [-1, 0, 0, 1, 3, 4]);
    assert.deepEqual(tree.sources, ['root', 'draft', 'draft', 'draft', 'ngram', 'ngram']);
  });

  it('never grows past its budget', () => {
    const tree = new TokenTree(1);
    tree.addChain([2, 3, 4, 5, 6], 3);
    assert.equal(tree.size, 3);
  });
});
