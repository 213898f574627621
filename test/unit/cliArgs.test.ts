import * as assert from 'node:assert/strict';
import { HELP_TEXT, parseArgs, PLANNED_COMMANDS } from '../../src/cli/args';

describe('cli argument parsing', () => {
  it('recognises the version and help flags', () => {
    for (const flag of ['--version', '-v']) assert.deepEqual(parseArgs([flag]), { kind: 'version' });
    for (const flag of ['--help', '-h', 'help']) assert.deepEqual(parseArgs([flag]), { kind: 'help' });
  });

  it('treats a missing command as a usage error', () => {
    assert.equal(parseArgs([]).kind, 'usage-error');
  });

  it('says that planned commands are not built yet instead of pretending to run them', () => {
    for (const command of ['generate', 'bench', 'serve']) {
      const action = parseArgs([command, '--prompt', 'x']);
      assert.equal(action.kind, 'usage-error');
      assert.match(action.kind === 'usage-error' ? action.message : '', new RegExp(`'${command}' is not available yet`));
    }
  });

  it('names unknown commands and options in the error', () => {
    const command = parseArgs(['frobnicate']);
    assert.deepEqual(command, { kind: 'usage-error', message: "unknown command 'frobnicate'." });
    const option = parseArgs(['--frobnicate']);
    assert.deepEqual(option, { kind: 'usage-error', message: "unknown option '--frobnicate'." });
  });

  it('documents every planned command in the help text', () => {
    for (const command of Object.keys(PLANNED_COMMANDS)) assert.match(HELP_TEXT, new RegExp(`^  ${command}\\b`, 'm'));
  });
});
