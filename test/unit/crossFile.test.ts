/** Cross-file context for inline completion: what is gathered, the budget, and prefix reuse while typing. */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { candidatePaths, definitionOf, gatherContext, importsOf, type ContextSources } from '../../src/core/inline/crossFile';
import { completionContext } from '../../src/core/inline/context';
import type { Manifest } from '../../src/core/manifest';
import { TemplateRegistry } from '../../src/core/templates';
import { TextTokenizer } from '../../src/core/tokenizer';
import { contextSnippetsParam } from '../../src/protocol/validate';
import { repoRoot } from '../support/paths';

const UTIL_PY = [
  'import os',
  '',
  'def parse_row(line, sep=","):',
  '    """Split one CSV line into fields."""',
  '    return [f.strip() for f in line.split(sep)]',
  '',
  'class Table:',
  '    def __init__(self, rows):',
  '        self.rows = rows',
  '',
  'LIMIT = 100',
].join('\n');

const UTIL_TS = [
  "import { readFile } from 'node:fs/promises';",
  '',
  'export interface Row {',
  '  id: number;',
  '  name: string;',
  '}',
  '',
  'export async function loadRows(path: string): Promise<Row[]> {',
  "  const text = await readFile(path, 'utf8');",
  '  return JSON.parse(text) as Row[];',
  '}',
].join('\n');

describe('cross-file context', () => {
  it('reads the names a file imports, per language', () => {
    assert.deepEqual(importsOf('from .util import parse_row, Table as T\nimport os\nfrom pkg.sub import (a, b)\n', 'python'), [
      { module: '.util', names: ['parse_row', 'Table'] },
      { module: 'pkg.sub', names: ['a', 'b'] },
    ]);
    assert.deepEqual(importsOf("import { loadRows, type Row } from './util';\nimport * as fs from 'fs';\nimport React, { useState } from 'react';\n", 'typescript'), [
      { module: './util', names: ['loadRows', 'Row'] },
      { module: 'react', names: ['useState'] },
    ]);
    assert.deepEqual(importsOf('import (\n\t"fmt"\n\t"./store"\n)\n\nfunc main() { store.Open(); store.Close(); fmt.Println() }\n', 'go'), [{ module: './store', names: ['Close', 'Open'] }]);
  });

  it('resolves imports to workspace paths: relative, Python packages, index files; bare packages to none', () => {
    assert.deepEqual(candidatePaths('.util', 'app/main.py', 'python'), ['app/util.py', 'app/util/__init__.py']);
    assert.deepEqual(candidatePaths('..util', 'app/sub/main.py', 'python'), ['app/util.py', 'app/util/__init__.py']);
    assert.deepEqual(candidatePaths('pkg.sub', 'app/main.py', 'python'), ['pkg/sub.py', 'pkg/sub/__init__.py']);
    assert.deepEqual(candidatePaths('./util.js', 'src/a/main.ts', 'typescript').slice(0, 2), ['src/a/util.ts', 'src/a/util.tsx']);
    assert.deepEqual(candidatePaths('../lib', 'src/a/main.ts', 'typescript').at(-1), 'src/lib/index.js');
    assert.deepEqual(candidatePaths('react', 'src/main.ts', 'typescript'), []);
  });

  it('finds a definition and takes its signature and the start of its body', () => {
    assert.equal(definitionOf(UTIL_PY, 'parse_row', 'python'), UTIL_PY.split('\n').slice(2, 5).join('\n'));
    assert.equal(definitionOf(UTIL_PY, 'LIMIT', 'python'), 'LIMIT = 100');
    assert.equal(definitionOf(UTIL_TS, 'Row', 'typescript'), UTIL_TS.split('\n').slice(2, 6).join('\n'));
    assert.equal(definitionOf(UTIL_TS, 'loadRows', 'typescript'), UTIL_TS.split('\n').slice(7, 11).join('\n'));
    assert.equal(definitionOf(UTIL_TS, 'missing', 'typescript'), null);
  });

  it('orders snippets by kind, keeps within the budget, and drops repeats', () => {
    const sources: ContextSources = {
      above: 'def total(rows):\n    for row in rows:\n        fields = parse_row(row)\n',
      definitions: [{ path: 'util.py', text: definitionOf(UTIL_PY, 'parse_row', 'python')! }],
      recentEdits: [{ path: 'notes.py', text: 'a = 1\nb = 2\nc = 3\n', line: 1 }],
      openFiles: [
        { path: 'other.py', text: 'def unrelated():\n    return 42\n' },
        { path: 'rows.py', text: 'def count(rows):\n    for row in rows:\n        fields = parse_row(row)\n        yield len(fields)\n' },
      ],
    };
    const all = gatherContext(sources);
    assert.deepEqual(all.map((s) => s.path), ['util.py', 'notes.py', 'rows.py'], 'the unrelated open file is not similar enough');
    assert.deepEqual(gatherContext(sources), all, 'the same inputs give the same snippets');
    const small = gatherContext(sources, { totalChars: 120, snippetChars: 800 });
    assert.ok(small.reduce((n, s) => n + s.text.length, 0) <= 120);
    const doubled = gatherContext({ ...sources, definitions: [...sources.definitions, ...sources.definitions] });
    assert.equal(doubled.filter((s) => s.path === 'util.py').length, 1);
  });

  it('is checked at the protocol: an array of at most 16 path/text snippets', () => {
    assert.deepEqual(contextSnippetsParam([{ path: 'a.py', text: 'x = 1' }]), [{ path: 'a.py', text: 'x = 1' }]);
    assert.throws(() => contextSnippetsParam([{ path: 'a.py' }]), /context\[0\]\.text/);
    assert.throws(() => contextSnippetsParam(Array.from({ length: 17 }, () => ({ path: 'a', text: 'b' }))), /at most 16/);
    assert.throws(() => contextSnippetsParam([{ path: 'a', text: 'x'.repeat(9000) }]), /at most 8192 characters/);
  });

  describe('in the FIM prompt', () => {
    const FIXTURE = join(repoRoot, 'test/fixtures/tiny-package');
    const manifest = JSON.parse(readFileSync(join(FIXTURE, 'chimera.json'), 'utf8')) as Manifest;
    let tok: TextTokenizer;
    let reg: TemplateRegistry;
    before(async () => {
      tok = await TextTokenizer.load(join(FIXTURE, 'tokenizer.json'), manifest);
      reg = new TemplateRegistry(manifest, tok);
    });

    it('comes before the file, each snippet under a file header, the most relevant nearest the file', () => {
      const context = [{ path: 'util.py', text: 'def parse_row(line):\n    pass' }, { path: 'rows.py', text: 'def count(rows):\n    pass' }];
      const p = reg.fim({ prefix: 'def main():\n    ', suffix: '\n', path: 'main.py', context }, 500);
      const text = tok.decode(p.tokens.filter((t) => !tok.isSpecial(t) || t === manifest.special_tokens.file!.id));
      const rows = text.indexOf('rows.py');
      const util = text.indexOf('util.py');
      const main = text.indexOf('main.py');
      assert.ok(rows >= 0 && rows < util && util < main, text);
    });

    it('takes at most a quarter of the budget, and none without a file header in the template', () => {
      const context = Array.from({ length: 10 }, (_, i) => ({ path: `f${i}.py`, text: `def f${i}(x):\n    return x * ${i} + ${'1'.repeat(40)}` }));
      const bare = reg.fim({ prefix: 'x = ', suffix: '', path: 'main.py' }, 400);
      const withContext = reg.fim({ prefix: 'x = ', suffix: '', path: 'main.py', context }, 400);
      assert.ok(withContext.tokens.length - bare.tokens.length <= 100, `${withContext.tokens.length - bare.tokens.length} tokens of context`);
      assert.ok(withContext.tokens.length > bare.tokens.length);
      const noHeader = new TemplateRegistry({ ...manifest, templates: { ...manifest.templates, fim: { ...manifest.templates.fim!, file_header: '' } } }, tok);
      assert.deepEqual(noHeader.fim({ prefix: 'x = ', suffix: '', path: 'main.py', context }, 400).tokens, noHeader.fim({ prefix: 'x = ', suffix: '', path: 'main.py' }, 400).tokens);
    });

    it('keeps the prompt prefix while the user types on one line, so the engine reuses it', () => {
      const file = 'from .util import parse_row\n\ndef total(rows):\n    for row in rows:\n        ';
      const typed = 'fields = parse_row(row)';
      const others: ContextSources['openFiles'] = [{ path: 'rows.py', text: 'def count(rows):\n    for row in rows:\n        yield len(parse_row(row))\n' }];
      let previous: number[] | null = null;
      for (let i = 0; i <= typed.length; i++) {
        const doc = file + typed.slice(0, i) + '\n\nprint(total([]))\n';
        const offset = file.length + i;
        const ctx = completionContext(doc, offset);
        const above = doc.slice(0, doc.lastIndexOf('\n', offset - 1) + 1);
        const context = gatherContext({ above, definitions: [{ path: 'util.py', text: definitionOf(UTIL_PY, 'parse_row', 'python')! }], recentEdits: [], openFiles: others });
        assert.equal(context.length, 2);
        const tokens = reg.fim({ prefix: ctx.prefix, suffix: ctx.suffix, path: 'main.py', context }, 600).tokens;
        if (previous) {
          let common = 0;
          while (common < previous.length && previous[common] === tokens[common]) common++;
          // Only the last word of the line (re-tokenised as it grows, and healed) may change.
          assert.ok(common >= previous.length - 3, `keystroke ${i}: ${common} of ${previous.length} tokens shared`);
        }
        previous = tokens;
      }
    });
  });
});
