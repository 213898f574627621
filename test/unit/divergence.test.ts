import * as assert from 'node:assert/strict';
import { divergence, NEAR_TIE, nearTieMargin, QUANTIZED_NEAR_TIE, sameTokens } from '../../src/cli/divergence';

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

  it('takes int8 activation rounding as a near-tie only for quantized packages', () => {
    assert.equal(nearTieMargin({}), NEAR_TIE);
    assert.equal(nearTieMargin({ quantization: { bits: 8, block_size: 128 } }), QUANTIZED_NEAR_TIE);
    assert.ok(QUANTIZED_NEAR_TIE > 0.09, 'the measured flips reach 0.09');
  });
});
