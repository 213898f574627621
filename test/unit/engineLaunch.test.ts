/** The engine's launch options: the same on every platform, with no shell and no inherited host flags. */
import * as assert from 'node:assert/strict';
import { engineForkOptions } from '../../src/engine/launch';

describe('engine launch options', () => {
  it('runs Electron as plain Node, whatever the environment says', () => {
    const options = engineForkOptions({ PATH: '/usr/bin', ELECTRON_RUN_AS_NODE: undefined }, { ELECTRON_RUN_AS_NODE: '0', CHIMERA_ALLOW_SOFTWARE_GPU: '1' });
    assert.equal(options.env!.ELECTRON_RUN_AS_NODE, '1');
    assert.equal(options.env!.PATH, '/usr/bin', 'the inherited environment is kept');
    assert.equal(options.env!.CHIMERA_ALLOW_SOFTWARE_GPU, '1', 'configured variables are added');
  });

  it("passes none of the extension host's own flags, and never uses a shell", () => {
    const options = engineForkOptions({});
    assert.deepEqual(options.execArgv, []);
    assert.equal('shell' in options, false);
    assert.deepEqual(options.stdio, ['ignore', 'ignore', 'pipe', 'ipc'], 'the protocol runs over IPC; stderr carries the log');
  });
});
