import * as assert from 'node:assert/strict';
import { lookupContinuation } from '../../src/core/ngram';

describe('prompt lookup', () => {
  const opts = { maxNgram: 3, minNgram: 2, maxTokens: 4 };

  it('proposes what followed the most recent earlier occurrence of the last tokens', () => {
    //            0  1  2  3  4  5  6  7  8  9
    const hist = [1, 2, 3, 4, 5, 9, 2, 3, 7, 2, 3];
    assert.deepEqual(lookupContinuation(hist, opts), [7, 2, 3]);
  });

  it('prefers the longest matching suffix', () => {
    const hist = [5, 2, 3, 8, 8, 1, 2, 3, 6, 6, 1, 2, 3];
    // the 3-gram [1,2,3] occurred at 5..7 (followed by 6, 6); the 2-gram [2,3] more recently too
    assert.deepEqual(lookupContinuation(hist, opts), [6, 6, 1, 2]);
  });

  it('returns nothing without a match of at least minNgram tokens', () => {
    assert.deepEqual(lookupContinuation([1, 2, 3, 4, 5], opts), []);
    assert.deepEqual(lookupContinuation([1], opts), []);
  });
});
