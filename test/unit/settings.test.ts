import * as assert from 'node:assert/strict';
import {
  defaultSettings,
  parseSettings,
  SETTINGS_SCHEMA,
  type ChimeraSettings,
  type SettingKey,
} from '../../src/core/settings';
import { readManifest } from '../support/paths';

function parse(values: Partial<Record<SettingKey, unknown>>) {
  return parseSettings((key) => values[key]);
}

describe('settings', () => {
  it('uses the documented defaults when nothing is set', () => {
    const expected: ChimeraSettings = {
      modelPath: '',
      device: 'auto',
      inline: { enabled: true, debounceMs: 150, maxTokens: 64 },
      chat: { maxTokens: 512 },
      decoding: { mode: 'chimera' },
      temperature: 0,
      maxContext: 8192,
      hub: { url: 'https://huggingface.co' },
      // A software GPU adapter is slower than the CPU provider: used only when asked for.
      gpu: { allowSoftware: false },
      // Nothing is sent anywhere by default: the local engine answers, and no server is configured.
      backend: 'local',
      server: { url: '', model: '', fimFormat: 'auto', timeoutMs: 30000 },
    };
    assert.deepEqual(defaultSettings(), expected);
    assert.deepEqual(parse({}).problems, []);
  });

  it('passes valid values through unchanged', () => {
    const { settings, problems } = parse({
      modelPath: '  /models/big  ',
      device: 'cpu',
      'inline.enabled': false,
      'inline.debounceMs': 0,
      'inline.maxTokens': 128,
      'chat.maxTokens': 2048,
      'decoding.mode': 'ngram',
      temperature: 0.7,
      maxContext: 32768,
      'hub.url': 'http://mirror.local',
      'gpu.allowSoftware': true,
      backend: 'openai-compatible',
      'server.url': ' http://gpu-box:8000/v1 ',
      'server.model': 'Qwen/Qwen2.5-Coder-7B',
      'server.fimFormat': 'qwen2.5-coder',
      'server.timeoutMs': 5000,
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(settings, {
      modelPath: '/models/big',
      device: 'cpu',
      inline: { enabled: false, debounceMs: 0, maxTokens: 128 },
      chat: { maxTokens: 2048 },
      decoding: { mode: 'ngram' },
      temperature: 0.7,
      maxContext: 32768,
      hub: { url: 'http://mirror.local' },
      gpu: { allowSoftware: true },
      backend: 'openai-compatible',
      server: { url: 'http://gpu-box:8000/v1', model: 'Qwen/Qwen2.5-Coder-7B', fimFormat: 'qwen2.5-coder', timeoutMs: 5000 },
    });
  });

  it('replaces values of the wrong type with the default and reports each one', () => {
    const { settings, problems } = parse({
      device: 'tpu',
      'inline.enabled': 'yes',
      'chat.maxTokens': '512',
      'decoding.mode': 42,
      modelPath: ['a'],
      temperature: Number.NaN,
    });
    assert.equal(settings.device, 'auto');
    assert.equal(settings.inline.enabled, true);
    assert.equal(settings.chat.maxTokens, 512);
    assert.equal(settings.decoding.mode, 'chimera');
    assert.equal(settings.modelPath, '');
    assert.equal(settings.temperature, 0);
    assert.deepEqual(
      problems.map((p) => p.key).sort(),
      ['chat.maxTokens', 'decoding.mode', 'device', 'inline.enabled', 'modelPath', 'temperature'],
    );
    assert.match(problems.find((p) => p.key === 'device')!.message, /auto, gpu, cpu.*"tpu"/);
  });

  it('clamps numbers to their range and rounds integer settings', () => {
    const { settings, problems } = parse({
      'inline.debounceMs': -5,
      'inline.maxTokens': 10_000,
      'chat.maxTokens': 99.6,
      temperature: 3,
    });
    assert.equal(settings.inline.debounceMs, 0);
    assert.equal(settings.inline.maxTokens, 1024);
    assert.equal(settings.chat.maxTokens, 100);
    assert.equal(settings.temperature, 2);
    assert.equal(problems.length, 4);
  });

  it('keeps fractional temperatures (not an integer setting)', () => {
    const { settings, problems } = parse({ temperature: 1.25 });
    assert.equal(settings.temperature, 1.25);
    assert.deepEqual(problems, []);
  });

  describe('matches package.json contributes.configuration', () => {
    const properties = readManifest().contributes.configuration.properties;

    it('declares exactly the keys the settings module reads', () => {
      const declared = Object.keys(properties).sort();
      const read = Object.keys(SETTINGS_SCHEMA).map((key) => `chimera.${key}`).sort();
      assert.deepEqual(declared, read);
    });

    for (const [key, spec] of Object.entries(SETTINGS_SCHEMA)) {
      it(`chimera.${key} has the same type, default and limits`, () => {
        const property = properties[`chimera.${key}`];
        assert.ok(property, `package.json lacks chimera.${key}`);
        assert.ok(property.description ?? property.markdownDescription, 'every setting needs a description');
        assert.deepEqual(property.default, spec.default);
        switch (spec.type) {
          case 'enum':
            assert.equal(property.type, 'string');
            assert.deepEqual(property.enum, [...spec.values]);
            break;
          case 'number':
            assert.equal(property.type, spec.integer ? 'integer' : 'number');
            assert.equal(property.minimum, spec.minimum);
            assert.equal(property.maximum, spec.maximum);
            break;
          default:
            assert.equal(property.type, spec.type);
        }
      });
    }

    it('scopes the model path to the machine (a path on one machine means nothing on another)', () => {
      assert.equal(properties['chimera.modelPath']?.scope, 'machine');
    });

    it('says plainly where code goes: the backend and server URL descriptions name what leaves the machine', () => {
      const text = (key: string) => `${properties[key]?.description ?? ''} ${properties[key]?.markdownDescription ?? ''}`;
      assert.match(text('chimera.backend'), /nothing is sent anywhere by default/i);
      assert.match(text('chimera.server.url'), /leaves this machine only when/i);
      assert.ok(!Object.keys(properties).some((k) => /api.?key|secret|password|\.token$/i.test(k)), 'no setting holds a credential (the API key is in SecretStorage)');
    });
  });
});
