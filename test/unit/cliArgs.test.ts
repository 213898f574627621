import * as assert from 'node:assert/strict';
import { HELP_TEXT, parseArgs } from '../../src/cli/args';

function error(argv: string[]): string {
  const action = parseArgs(argv);
  assert.equal(action.kind, 'usage-error', JSON.stringify(action));
  return action.kind === 'usage-error' ? action.message : '';
}

describe('cli argument parsing', () => {
  it('recognises the version and help flags', () => {
    for (const flag of ['--version', '-v']) assert.deepEqual(parseArgs([flag]), { kind: 'version' });
    for (const flag of ['--help', '-h', 'help']) assert.deepEqual(parseArgs([flag]), { kind: 'help' });
  });

  it('parses generate with defaults', () => {
    const action = parseArgs(['generate', '--prompt', 'def f(', '--max-tokens', '12', '--json']);
    assert.deepEqual(action, {
      kind: 'generate',
      args: { model: undefined, prompt: 'def f(', promptFile: undefined, suffixFile: undefined, chat: false, maxTokens: 12, mode: 'chimera', temperature: 0, seed: 0, device: 'auto', json: true },
    });
  });

  it('parses bench mode lists and --flag=value', () => {
    const action = parseArgs(['bench', '--prompts=p.jsonl', '--modes', 'autoregressive,ngram', '--device', 'cpu']);
    assert.equal(action.kind, 'bench');
    if (action.kind === 'bench') {
      assert.deepEqual(action.args.modes, ['autoregressive', 'ngram']);
      assert.equal(action.args.prompts, 'p.jsonl');
      assert.equal(action.args.maxTokens, 128);
      assert.equal(action.args.draftOn, 'cpu');
    }
    const onTarget = parseArgs(['bench', '--prompts', 'p', '--draft-on', 'target']);
    assert.equal(onTarget.kind === 'bench' && onTarget.args.draftOn, 'target');
  });

  it('explains bad arguments', () => {
    assert.equal(error([]), 'no command given.');
    assert.equal(error(['frobnicate']), "unknown command 'frobnicate'.");
    assert.equal(error(['--frobnicate']), "unknown option '--frobnicate'.");
    assert.match(error(['generate']), /exactly one of --prompt/);
    assert.match(error(['generate', '--prompt', 'x', '--prompt-file', 'y']), /exactly one of --prompt/);
    assert.match(error(['generate', '--prompt', 'x', '--mode', 'fast']), /--mode must be one of autoregressive, chimera, ngram \(got 'fast'\)/);
    assert.match(error(['generate', '--prompt', 'x', '--max-tokens', '-3']), /--max-tokens must be a positive integer/);
    assert.match(error(['generate', '--prompt', 'x', '--temperature', 'hot']), /--temperature must be between 0 and 2/);
    assert.match(error(['generate', '--prompt', 'x', '--frob', '1']), /unknown option --frob for 'generate'/);
    assert.match(error(['generate', '--prompt']), /--prompt needs a value/);
    assert.match(error(['bench']), /bench needs --prompts/);
    assert.match(error(['bench', '--prompts', 'p', '--modes', 'chimera,turbo']), /got 'turbo'/);
    assert.match(error(['bench', '--prompts', 'p', '--draft-on', 'gpu']), /--draft-on must be one of cpu, target \(got 'gpu'\)/);
    assert.match(error(['serve', '--port', '70000']), /--port must be a port number/);
  });

  it('parses verify, defaulting to the package\'s own cases', () => {
    assert.deepEqual(parseArgs(['verify', '--model', 'pkg', '--json']), { kind: 'verify', args: { model: 'pkg', cases: undefined, tolerance: undefined, device: 'auto', json: true } });
    const action = parseArgs(['verify', '--cases', 'c.json', '--tolerance', '1e-3', '--device', 'cpu']);
    assert.equal(action.kind === 'verify' && action.args.tolerance, 1e-3);
    assert.match(error(['verify', '--tolerance', 'tight']), /--tolerance must be a non-negative number \(got 'tight'\)/);
  });

  it('parses serve with its access and queue limits', () => {
    assert.deepEqual(parseArgs(['serve']), { kind: 'serve', args: { model: undefined, port: 8012, device: 'auto', token: undefined, maxQueue: 8 } });
    const action = parseArgs(['serve', '--token', 's3cret', '--max-queue', '2']);
    assert.equal(action.kind === 'serve' && action.args.token, 's3cret');
    assert.equal(action.kind === 'serve' && action.args.maxQueue, 2);
    assert.match(error(['serve', '--token', ' ']), /--token must not be empty/);
    const fromFile = parseArgs(['serve', '--token-file', '/run/secrets/chimera']);
    assert.equal(fromFile.kind === 'serve' && fromFile.args.tokenFile, '/run/secrets/chimera');
    assert.match(error(['serve', '--token', 'a', '--token-file', 'f']), /--token or --token-file, not both/);
    assert.match(error(['serve', '--max-queue', '0']), /--max-queue must be a positive integer/);
  });

  it('documents every command in the help text', () => {
    for (const command of ['generate', 'bench', 'serve', 'verify']) assert.match(HELP_TEXT, new RegExp(`^  ${command}\\b`, 'm'));
  });
});
