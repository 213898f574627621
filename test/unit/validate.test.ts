/** The shared request validator (protocol/validate.ts): what the engine protocol and the HTTP API both accept. */
import * as assert from 'node:assert/strict';
import * as V from '../../src/protocol/validate';

const base = { maxTokens: 8 };
const fails = (check: () => unknown, field: string, rule: RegExp) =>
  assert.throws(check, (err: unknown) => err instanceof V.ParamError && err.field === field && rule.test(err.rule), `${field} ${rule}`);

describe('request validation (shared by JSON-RPC and HTTP)', () => {
  it('accepts well-formed requests and keeps only the fields it knows', () => {
    const chat = V.chatParams({ ...base, temperature: 0.7, topP: 0.9, mode: 'ngram', seed: 3, partialResultToken: 'p1', extra: 'dropped', messages: [{ role: 'system', content: 's' }, { role: 'user', explain: { code: 'x', languageId: 'python' } }] });
    assert.deepEqual(chat, { maxTokens: 8, temperature: 0.7, topP: 0.9, mode: 'ngram', seed: 3, partialResultToken: 'p1', messages: [{ role: 'system', content: 's' }, { role: 'user', explain: { code: 'x', languageId: 'python' } }] });
    assert.deepEqual(V.completeParams({ ...base, prefix: '', suffix: '', languageId: 'python', stop: ['\n\n'] }), { maxTokens: 8, prefix: '', suffix: '', languageId: 'python', stop: ['\n\n'] });
    assert.deepEqual(V.loadModelParams({ modelPath: '', device: 'cpu' }), { modelPath: '', device: 'cpu' });
  });

  it('refuses a temperature that is not a number from 0 to 2 (a string used to give NaN probabilities)', () => {
    for (const temperature of ['hot', -0.1, 2.5, null, [1]]) fails(() => V.decodingOptions({ ...base, temperature }), 'temperature', /must be a number from 0 to 2/);
    fails(() => V.decodingOptions({ ...base, topP: 0 }), 'topP', /more than 0/);
  });

  it('refuses unknown modes, roles and devices, naming the allowed values', () => {
    fails(() => V.decodingOptions({ ...base, mode: 'fast' }), 'mode', /one of chimera, ngram, autoregressive \(got "fast"\)/);
    fails(() => V.chatParams({ ...base, messages: [{ role: 'robot', content: 'x' }] }), 'messages[0].role', /one of system, user, assistant/);
    fails(() => V.loadModelParams({ modelPath: '', device: 'quantum' }), 'device', /one of auto, gpu, cpu \(got "quantum"\)/);
    fails(() => V.initializeParams({ protocolVersion: 1, modelPath: '', device: 'tpu', clientName: 'x' }), 'device', /one of/);
  });

  it('refuses a model path that is not a string (it used to throw a TypeError inside the engine)', () => {
    fails(() => V.loadModelParams({ modelPath: 5, device: 'cpu' }), 'modelPath', /must be a string \(got 5\)/);
  });

  it('takes an optional context cap, within bounds', () => {
    assert.deepEqual(V.loadModelParams({ modelPath: '', device: 'cpu', maxContext: 4096 }), { modelPath: '', device: 'cpu', maxContext: 4096 });
    fails(() => V.loadModelParams({ modelPath: '', device: 'cpu', maxContext: 10 }), 'maxContext', /from 64 to/);
    fails(() => V.loadModelParams({ modelPath: '', device: 'cpu', maxContext: '4k' }), 'maxContext', /must be an integer/);
  });

  it('refuses malformed messages: null entries, missing content, an empty list', () => {
    fails(() => V.chatParams({ ...base, messages: [null] }), 'messages[0]', /must be an object \(got null\)/);
    fails(() => V.chatParams({ ...base, messages: [{ role: 'user' }] }), 'messages[0].content', /must be a string/);
    fails(() => V.chatParams({ ...base, messages: [] }), 'messages', /non-empty array/);
    fails(() => V.chatParams({ ...base, messages: [{ role: 'assistant', explain: { code: '', languageId: '' } }] }), 'messages[0].role', /must be user/);
    fails(() => V.chatParams(undefined), 'params', /must be an object/);
  });

  it('refuses bad token counts, seeds, stop lists and empty texts', () => {
    for (const maxTokens of [0, 1.5, '8', undefined]) fails(() => V.decodingOptions({ maxTokens }), 'maxTokens', /integer of at least 1/);
    fails(() => V.decodingOptions({ ...base, seed: 0.5 }), 'seed', /integer/);
    fails(() => V.completeParams({ ...base, prefix: '', suffix: '', languageId: 'x', stop: [''] }), 'stop[0]', /non-empty string/);
    fails(() => V.completeParams({ ...base, prefix: '', suffix: '', languageId: 'x', stop: 'a' }), 'stop', /array of strings/);
    fails(() => V.textParams({ ...base, prompt: '' }), 'prompt', /must not be empty/);
    fails(() => V.editParams({ ...base, code: 'x', instruction: '', languageId: 'x' }), 'instruction', /must not be empty/);
  });
});
