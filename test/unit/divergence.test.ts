import * as assert from 'node:assert/strict';
import { divergence, sameTokens } from '../../src/cli/divergence';

describe('bench divergence report', () => {
  it('finds the first differing token and the reference margin there', () => {
    const d = divergence(3, { tokens: [5, 6, 7, 8] }, { tokens: [5, 6, 9, 8] }, [0.5, 0.4, 0.00003, 2]);
    assert.deepEqual(d, { prompt: 3, token: 2, top2Margin: 0.00003 });
  });

  it('points at the shorter output\'s end when one is a prefix of the other', () => {
    assert.equal(divergence(0, { tokens: [1, 2, 3] }, { tokens: [1, 2] }, [1, 1, 1]).token, 2);
    assert.equal(divergence(0, { tokens: [1] }, { tokens: [1, 2] }, [1]).top2Margin, null);
  });

  it('calls outputs identical only when every token and the length agree', () => {
    assert.ok(sameTokens([1, 2], [1, 2]));
    assert.ok(!sameTokens([1, 2], [1, 2, 3]));
    assert.ok(!sameTokens([1, 2], [1, 3]));
  });
});
