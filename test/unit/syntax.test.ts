/** The inline syntax check (tree-sitter): golden cursor fixtures in Python, TypeScript, JavaScript and Go. */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { contextWindow, grammarFor, SyntaxChecker, type SyntaxInput, type SyntaxOutcome } from '../../src/core/inline/syntax';
import { repoRoot } from '../support/paths';

const WASM = join(repoRoot, 'node_modules/@vscode/tree-sitter-wasm/wasm');

interface Fixture extends SyntaxInput {
  name: string;
  outcome: SyntaxOutcome;
  /** The suggestion after the check, when it differs from `suggestion`. */
  expect?: string;
}

const PY_AFTER = '\n\ndef main():\n    print(read_lines("a.txt"))\n';
const TS_AFTER = '\n}\n\nexport const x = add(1, 2);\n';

const FIXTURES: Fixture[] = [
  {
    name: 'python: a docstring and body at the block\'s indentation are kept',
    languageId: 'python', prefix: 'import os\n\ndef read_lines(path):\n    ', suffix: PY_AFTER,
    suggestion: '"""Read the lines of a file."""\n    with open(path) as f:\n        return f.readlines()', outcome: 'kept',
  },
  {
    name: 'python: the 5-space docstring is cut before the line whose dedent matches no block',
    languageId: 'python', prefix: 'import os\n\ndef read_lines(path):\n    ', suffix: PY_AFTER,
    suggestion: ' """Read the lines of a file."""\n    with open(path) as f:\n        return f.readlines()', outcome: 'cut',
    expect: ' """Read the lines of a file."""',
  },
  {
    name: 'python: an unterminated docstring in an empty function body is dropped (the VS Code case)',
    languageId: 'python', prefix: 'import os\n\n\ndef read_lines(path):\n    ', suffix: '',
    suggestion: '"""Read a list of lines.\n\n    This is a list of lines that are not a list of lines.', outcome: 'dropped',
  },
  {
    name: 'python: an unbalanced bracket is dropped',
    languageId: 'python', prefix: 'def total(xs):\n    return ', suffix: PY_AFTER,
    suggestion: 'sum([x * 2 for x in xs)', outcome: 'dropped',
  },
  {
    name: 'python: a block header with no body is cut off a multi-line suggestion',
    languageId: 'python', prefix: 'def total(xs):\n    ', suffix: PY_AFTER,
    suggestion: 'result = 0\n    for x in xs:\n    return result', outcome: 'cut', expect: 'result = 0',
  },
  {
    name: 'python: a one-line suggestion may finish a block header (the body is what the user writes next)',
    languageId: 'python', prefix: 'import os\n\ndef read_lines(pa', suffix: PY_AFTER,
    suggestion: 'th, encoding="utf-8"):', outcome: 'kept',
  },
  {
    name: 'python: an error that was already in the file does not count against the suggestion',
    languageId: 'python', prefix: 'def broken(:\n    pass\n\ndef total(xs):\n    return ', suffix: PY_AFTER,
    suggestion: 'sum(xs)', outcome: 'kept',
  },
  {
    name: 'python: the rest of a half-typed line, with a body, is kept (the file had an error there before)',
    languageId: 'python', prefix: 'def total(xs):\n    result = 0\n    for x in ', suffix: '\n    return result\n' + PY_AFTER,
    suggestion: 'xs:\n        result += x', outcome: 'kept',
  },
  {
    name: 'python: a statement between siblings at the same indentation is kept',
    languageId: 'python', prefix: 'class Box:\n    def __init__(self, items):\n        self.items = items\n        ', suffix: '\n\n    def size(self):\n        return len(self.items)\n',
    suggestion: 'self.count = len(items)', outcome: 'kept',
  },
  {
    name: 'typescript: an arrow function inside an object literal is kept',
    languageId: 'typescript', prefix: 'const handlers = {\n  onClick: ', suffix: ',\n  onKey: () => undefined,\n};\n',
    suggestion: '(event: MouseEvent) => {\n    console.log(event.x);\n  }', outcome: 'kept',
  },
  {
    name: 'typescript: a statement that completes the body is kept',
    languageId: 'typescript', prefix: 'export function add(a: number, b: number): number {\n  ', suffix: TS_AFTER,
    suggestion: 'return a + b;', outcome: 'kept',
  },
  {
    name: 'typescript: a brace that closes the function a second time is cut',
    languageId: 'typescript', prefix: 'export function max(a: number, b: number): number {\n  ', suffix: TS_AFTER,
    suggestion: 'if (a > b) {\n    return a;\n  }\n  return b;\n}', outcome: 'cut', expect: 'if (a > b) {\n    return a;\n  }\n  return b;',
  },
  {
    name: 'typescript: an unclosed call is dropped',
    languageId: 'typescript', prefix: 'export function add(a: number, b: number): number {\n  ', suffix: TS_AFTER,
    suggestion: 'return Math.max(a, b;', outcome: 'dropped',
  },
  {
    name: 'typescript: a mid-line completion that the closing text after the cursor completes is kept',
    languageId: 'typescript', prefix: 'const total = items.reduce(', suffix: ');\n',
    suggestion: '(sum, item) => sum + item.price, 0', outcome: 'kept',
  },
  {
    name: 'javascript (react): JSX is parsed',
    languageId: 'javascriptreact', prefix: 'export function App() {\n  return ', suffix: ';\n}\n',
    suggestion: '<div className="app">Hello</div>', outcome: 'kept',
  },
  {
    name: 'go: a return statement is kept',
    languageId: 'go', prefix: 'package main\n\nfunc add(a, b int) int {\n\t', suffix: '\n}\n',
    suggestion: 'return a + b', outcome: 'kept',
  },
  {
    name: 'go: an unbalanced parenthesis is dropped',
    languageId: 'go', prefix: 'package main\n\nfunc add(a, b int) int {\n\t', suffix: '\n}\n',
    suggestion: 'return (a + b', outcome: 'dropped',
  },
  {
    name: 'a language without a grammar is not checked',
    languageId: 'markdown', prefix: '# Title\n', suffix: '', suggestion: '(unbalanced', outcome: 'unchecked',
  },
];

describe('inline syntax check (tree-sitter)', function () {
  this.timeout(20_000);
  const checker = new SyntaxChecker(WASM);

  for (const f of FIXTURES) {
    it(f.name, async () => {
      const verdict = await checker.check(f);
      assert.equal(verdict.outcome, f.outcome, JSON.stringify(verdict));
      const expected = f.outcome === 'dropped' ? '' : (f.expect ?? f.suggestion);
      assert.equal(verdict.text, expected);
    });
  }

  it('gives up cutting when its time budget is spent, dropping a suggestion it knows breaks the file', async () => {
    const hurried = new SyntaxChecker(WASM, { windowLines: 120, budgetMs: 0 });
    const cut = FIXTURES.find((x) => x.outcome === 'cut')!;
    assert.deepEqual(await hurried.check(cut).then((v) => [v.outcome, v.text]), ['dropped', '']);
    const fine = FIXTURES.find((x) => x.outcome === 'kept')!;
    assert.deepEqual(await hurried.check(fine).then((v) => [v.outcome, v.text]), ['kept', fine.suggestion], 'a suggestion that fits needs no search');
  });

  it('maps VS Code language ids to grammars', () => {
    assert.deepEqual(['python', 'typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'go', 'rust'].map(grammarFor), ['python', 'typescript', 'tsx', 'javascript', 'javascript', 'go', null]);
  });

  it('parses a window that starts at the left margin, so a Python block is never cut in half', () => {
    const prefix = ['import os', 'class A:', ...Array.from({ length: 200 }, (_, i) => `    x${i} = ${i}`), '    def f(self):', '        '].join('\n');
    const { before, after } = contextWindow(prefix, 'tail\n'.repeat(300), 50);
    assert.ok(before.startsWith('class A:'), before.slice(0, 30));
    assert.equal(after.split('\n').length, 50);
  });
});
