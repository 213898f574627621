import * as assert from 'node:assert/strict';
import { Emitter } from '../../src/core/emitter';

/** Ids map to text pieces; id 9 and 10 are the two halves of one multi-byte character. */
const PIECES: Record<number, string> = { 1: 'hello', 2: ' world', 3: '\n```', 4: ' done', 5: '\n', 6: '``', 7: 'x' };
const fake = {
  decode(ids: readonly number[]): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === 9) out += ids[i + 1] === 10 ? (i++, 'é') : '\uFFFD';
      else out += PIECES[ids[i]!] ?? '';
    }
    return out;
  },
};

function drive(emitter: Emitter, tokens: number[]): string[] {
  const deltas = tokens.map((t) => emitter.push([t]));
  deltas.push(emitter.flush());
  return deltas;
}

describe('emitter', () => {
  it('streams text and stops at a stop token without showing it', () => {
    const e = new Emitter(fake, [0], [], 100);
    assert.deepEqual(drive(e, [1, 2, 0, 4]), ['hello', ' world', '', '', '']);
    assert.equal(e.finish, 'stop');
    assert.deepEqual(e.tokens, [1, 2]);
  });

  it('never shows a stop string, even its first characters while it may be forming', () => {
    const e = new Emitter(fake, [0], ['\n```'], 100);
    const deltas = drive(e, [1, 5, 6, 7]);
    assert.deepEqual(deltas.slice(0, 2), ['hello', '']); // '\n' might start '\n```': held
    assert.equal(deltas.join(''), 'hello\n``x');
    const stopped = new Emitter(fake, [0], ['\n```'], 100);
    assert.equal(drive(stopped, [1, 3, 4]).join(''), 'hello');
    assert.equal(stopped.finish, 'stop');
  });

  it('stops at the token limit', () => {
    const e = new Emitter(fake, [0], [], 2);
    assert.equal(drive(e, [1, 2, 4]).join(''), 'hello world');
    assert.equal(e.finish, 'length');
  });

  it('holds half a character until the rest arrives', () => {
    const e = new Emitter(fake, [0], [], 100);
    assert.deepEqual(drive(e, [1, 9, 10]), ['hello', '', 'é', '']);
  });
});
