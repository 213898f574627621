/**
 * Inline completion logic with golden cursor-marker fixtures: `█` marks the cursor in a document, `raw`
 * is what the model produced there, `shown` is the suggestion the user should see.
 */
import * as assert from 'node:assert/strict';
import { SuggestionCache } from '../../src/core/inline/cache';
import { completionContext, skipReason } from '../../src/core/inline/context';
import { AdaptiveDebounce, wait } from '../../src/core/inline/debounce';
import { collectSuggestion, settledSuggestion, trimCompletion } from '../../src/core/inline/trim';

const CURSOR = '█';

function at(doc: string) {
  const offset = doc.indexOf(CURSOR);
  assert.ok(offset !== -1, 'fixture without a cursor marker');
  const text = doc.replace(CURSOR, '');
  return { text, offset, ctx: completionContext(text, offset) };
}

const GOLDEN: { name: string; doc: string; raw: string; shown: string }[] = [
  {
    name: 'mid-line completion stays on its line',
    doc: 'result = compute(█)\nprint(result)\n',
    raw: 'a, b)\nprint(result)\nmore()',
    shown: 'a, b',
  },
  {
    name: 'a function body ends where the block dedents',
    doc: 'def area(w, h):\n    █\n\nprint(area(2, 3))\n',
    raw: 'result = w * h\n    return result\n\ndef other():\n    pass',
    shown: 'result = w * h\n    return result',
  },
  {
    name: 'a block opened by the suggestion includes its closing brace',
    doc: 'class A {\n  █\n}\n',
    raw: 'run() {\n    return 1;\n  }\n  stop() {}\n}',
    shown: 'run() {\n    return 1;\n  }',
  },
  {
    name: 'a brace that closes code before the cursor is not repeated',
    doc: 'function f(x) {\n  const y = x * 2;\n  █\n}\n',
    raw: 'return y;\n}\n\nf(1);',
    shown: 'return y;',
  },
  {
    name: 'never repeats the closing text after the cursor',
    doc: 'items.push(█);\n',
    raw: 'value);',
    shown: 'value',
  },
  {
    name: 'stops before a line that already follows the cursor',
    doc: 'for x in xs:\n    █\n    print(x)\n',
    raw: 'x = x + 1\n    print(x)\n',
    shown: 'x = x + 1',
  },
  {
    name: 'a statement may be followed by siblings at the same indentation',
    doc: 'def f():\n    a = 1\n    █\n',
    raw: 'b = 2\n    c = a + b\n    return c\nprint(f())',
    shown: 'b = 2\n    c = a + b\n    return c',
  },
  {
    name: 'a suggestion opening a Python block ends after its body',
    doc: 'import os\n\n█\n',
    raw: 'def main():\n    print(os.getcwd())\n\nmain()\n',
    shown: 'def main():\n    print(os.getcwd())',
  },
  {
    name: 'two blank lines end a suggestion, trailing space is dropped',
    doc: 'x = 1\n█',
    raw: 'y = 2   \n\n\nz = 3',
    shown: 'y = 2',
  },
  {
    name: 'a looping suggestion stops before the first repeated statement',
    doc: 'for name in names:\n    █\n',
    raw: 'p = base(name)\n    if p:\n        p = base(name)\n        p = base(name)\n        p = base(name)',
    shown: 'p = base(name)\n    if p:\n        p = base(name)',
  },
  {
    name: 'repeated closing brackets are not a loop',
    doc: 'function f() {\n  █\n',
    raw: 'if (a) {\n    if (b) {\n      go();\n    }\n  }\n}',
    shown: 'if (a) {\n    if (b) {\n      go();\n    }\n  }',
  },
  {
    name: 'at most maxLines lines',
    doc: 'nums = [\n    █\n',
    raw: Array.from({ length: 20 }, (_, i) => `${i},`).join('\n    '),
    shown: Array.from({ length: 8 }, (_, i) => `${i},`).join('\n    '),
  },
];

describe('inline completion trimming (golden cursor fixtures)', () => {
  for (const g of GOLDEN) {
    it(g.name, () => {
      const { ctx } = at(g.doc);
      assert.equal(trimCompletion(g.raw, ctx.trim), g.shown);
    });
  }
});

describe('settled suggestions (stop generating once trimming has decided)', () => {
  for (const g of GOLDEN) {
    it(`${g.name}: every early answer equals the answer for the whole text`, () => {
      const { ctx } = at(g.doc);
      for (let cut = 0; cut <= g.raw.length; cut++) {
        const early = settledSuggestion(g.raw.slice(0, cut), ctx.trim);
        if (early !== null) assert.equal(early, g.shown, `settled wrongly after ${cut} characters`);
      }
    });
  }

  it('settles a block as soon as the dedented line after it is complete', () => {
    const { ctx } = at('def area(w, h):\n    █\n');
    const raw = 'result = w * h\n    return result\ndef other():\n';
    assert.equal(settledSuggestion(raw.slice(0, raw.indexOf('def other')), ctx.trim), null);
    assert.equal(settledSuggestion(raw, ctx.trim), 'result = w * h\n    return result');
  });

  it('settles a mid-line completion at its first newline', () => {
    const { ctx } = at('x = f(█) + g\n');
    assert.equal(settledSuggestion('a, b', ctx.trim), null);
    assert.equal(settledSuggestion('a, b) + g\nmore', ctx.trim), 'a, b');
  });

  it('collectSuggestion stops the stream once settled, and trims a stream that simply ends', async () => {
    const { ctx } = at('for x in xs:\n    █\n');
    let pulled = 0;
    async function* deltas(pieces: string[]) {
      for (const p of pieces) {
        pulled++;
        yield p;
      }
    }
    let stops = 0;
    const settled = await collectSuggestion(deltas(['y = x', ' + 1\n', 'print(y)\n', 'never read']), ctx.trim, () => stops++);
    assert.deepEqual({ settled, pulled, stops }, { settled: 'y = x + 1', pulled: 3, stops: 1 });
    assert.equal(await collectSuggestion(deltas(['y = 1  ']), ctx.trim, () => stops++), 'y = 1');
    assert.equal(stops, 1);
  });
});

describe('inline completion context', () => {
  it('splits the document at the cursor and describes the cursor line', () => {
    const { ctx } = at('a = 1\nb = fo█o(2)\nc = 3\n');
    assert.equal(ctx.prefix, 'a = 1\nb = fo');
    assert.equal(ctx.suffix, 'o(2)\nc = 3\n');
    assert.deepEqual(ctx.trim.linePrefix, 'b = fo');
    assert.deepEqual(ctx.trim.lineSuffix, 'o(2)');
    assert.deepEqual(ctx.trim.followingLines, ['c = 3', '']);
  });

  it('keeps long prefixes stable while the user types on the last line', () => {
    const body = Array.from({ length: 2000 }, (_, i) => `line_${i} = ${i}`).join('\n');
    const a = completionContext(body + '\nfoo', body.length + 4);
    const b = completionContext(body + '\nfoo(ba', body.length + 7);
    assert.ok(a.prefix.length <= 6000);
    assert.equal(a.prefix.slice(0, 50), b.prefix.slice(0, 50));
  });

  it('skips huge and binary documents', () => {
    assert.equal(skipReason('x'.repeat(3_000_000)), 'too-large');
    assert.equal(skipReason('PK\u0003\u0004\u0000\u0000binary'), 'binary');
    assert.equal(skipReason('def f(): pass\n'), null);
  });
});

describe('suggestion cache', () => {
  it('returns exact hits and serves typing through a suggestion', () => {
    const cache = new SuggestionCache();
    cache.put('file:///a.py', { prefix: 'x = comp', suffix: '\n', text: 'ute(1, 2)' });
    assert.equal(cache.get('file:///a.py', 'x = comp', '\n'), 'ute(1, 2)');
    assert.equal(cache.get('file:///a.py', 'x = compu', '\n'), 'te(1, 2)');
    assert.equal(cache.get('file:///a.py', 'x = compute(1', '\n'), ', 2)');
    assert.equal(cache.get('file:///a.py', 'x = compX', '\n'), undefined, 'typed something else');
    assert.equal(cache.get('file:///a.py', 'x = compute(1, 2)', '\n'), undefined, 'typed all of it');
    assert.equal(cache.get('file:///b.py', 'x = comp', '\n'), undefined, 'another document');
  });

  it('evicts the least recently used entry', () => {
    const cache = new SuggestionCache(2);
    cache.put('d', { prefix: 'a', suffix: '', text: '1' });
    cache.put('d', { prefix: 'b', suffix: '', text: '2' });
    cache.get('d', 'a', '');
    cache.put('d', { prefix: 'c', suffix: '', text: '3' });
    assert.equal(cache.get('d', 'b', ''), undefined);
    assert.equal(cache.get('d', 'a', ''), '1');
    assert.equal(cache.size, 2);
  });
});

describe('adaptive debounce', () => {
  it('starts at the base delay and follows the rhythm of typing within bounds', () => {
    const d = new AdaptiveDebounce(150);
    assert.equal(d.delayFor(1000), 150);
    let t = 1000;
    for (let i = 0; i < 6; i++) d.delayFor((t += 40)); // fast typing: 40 ms apart
    assert.equal(d.delayFor((t += 40)), 75, 'never below half the base');
    for (let i = 0; i < 8; i++) d.delayFor((t += 300)); // slow typing
    assert.equal(d.delayFor((t += 300)), 450, 'never above three times the base');
  });

  it('waits longer when the engine is slow', () => {
    const d = new AdaptiveDebounce(100);
    d.recordLatency(400);
    assert.equal(d.delayFor(5000), 200);
  });

  it('zero base means no delay', () => {
    assert.equal(new AdaptiveDebounce(0).delayFor(1), 0);
  });

  it('a superseded wait ends early and says so (latest wins)', async () => {
    const controller = new AbortController();
    const pending = wait(10_000, controller.signal);
    controller.abort();
    assert.equal(await pending, false);
    assert.equal(await wait(1, new AbortController().signal), true);
  });
});
