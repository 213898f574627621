/** The engine's launch options: the same on every platform, with no shell and no inherited host flags. */
import * as assert from 'node:assert/strict';
import { ENGINE_V8_FLAGS, engineForkOptions, hasEngineSettings, missingEngineFlags } from '../../src/engine/launch';

describe('engine launch options', () => {
  it('runs Electron as plain Node, whatever the environment says', () => {
    const options = engineForkOptions({ PATH: '/usr/bin', ELECTRON_RUN_AS_NODE: undefined }, { ELECTRON_RUN_AS_NODE: '0', CHIMERA_ALLOW_SOFTWARE_GPU: '1' });
    assert.equal(options.env!.ELECTRON_RUN_AS_NODE, '1');
    assert.equal(options.env!.PATH, '/usr/bin', 'the inherited environment is kept');
    assert.equal(options.env!.CHIMERA_ALLOW_SOFTWARE_GPU, '1', 'configured variables are added');
  });

  it('sets a fixed malloc mmap threshold, unless the user set one', () => {
    assert.equal(engineForkOptions({}).env!.MALLOC_MMAP_THRESHOLD_, '1048576');
    assert.equal(engineForkOptions({ MALLOC_MMAP_THRESHOLD_: '65536' }).env!.MALLOC_MMAP_THRESHOLD_, '65536', 'inherited');
    assert.equal(engineForkOptions({}, { MALLOC_MMAP_THRESHOLD_: '0' }).env!.MALLOC_MMAP_THRESHOLD_, '0', 'configured');
  });

  it("passes only the engine's own V8 flags, none of the extension host's, and never uses a shell", () => {
    const options = engineForkOptions({});
    assert.deepEqual(options.execArgv, ['--max-semi-space-size=2']);
    assert.notEqual(options.execArgv, ENGINE_V8_FLAGS, 'a copy: a caller cannot change the constant through it');
    assert.equal('shell' in options, false);
    assert.deepEqual(options.stdio, ['ignore', 'ignore', 'pipe', 'ipc'], 'the protocol runs over IPC; stderr carries the log');
  });

  it('tells whether a process runs with the engine settings (else serve and the benchmark run themselves again)', () => {
    const forked = engineForkOptions({});
    assert.equal(hasEngineSettings(forked.env, forked.execArgv), true, 'what the extension starts');
    assert.equal(hasEngineSettings({ MALLOC_MMAP_THRESHOLD_: '65536' }, ['--max-semi-space-size=2']), true, "the user's own threshold");
    assert.equal(hasEngineSettings({}, ['--max-semi-space-size=2']), false, 'no threshold');
    assert.equal(hasEngineSettings(forked.env, []), false, 'no V8 flags');
    assert.equal(hasEngineSettings(forked.env, ['--max-semi-space-size=8']), true, "the user's own semi-space size");
  });

  it('adds only the V8 flags a process lacks, keeping the ones the user chose', () => {
    assert.deepEqual(missingEngineFlags([]), ['--max-semi-space-size=2']);
    assert.deepEqual(missingEngineFlags(['--inspect', '--max-semi-space-size=8']), []);
    assert.deepEqual(missingEngineFlags(['--max-old-space-size=4096']), ['--max-semi-space-size=2']);
  });
});
