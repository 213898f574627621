/**
 * The shared-server client against the request and stream shapes each server documents. Every server
 * here is a scripted stand-in that answers exactly as the cited documentation shows and records what
 * the client sent; the real-server run (chimera serve) is in the engine and VS Code tiers.
 */
import * as assert from 'node:assert/strict';
import type { GenerationStream } from '../../src/backend/backend';
import { RemoteBackend } from '../../src/backend/remote/client';
import type { RemoteConfig } from '../../src/backend/remote/config';
import type { CompleteRequest } from '../../src/backend/backend';
import { json, ndjson, routes, scriptedServer, sse, type ScriptedServer } from '../support/scriptedServer';

const FIM: CompleteRequest = {
  prefix: 'def add(a, b):\n    ',
  suffix: '\n\nprint(add(1, 2))\n',
  languageId: 'python',
  filePath: 'src/calc.py',
  maxTokens: 16,
  temperature: 0,
  context: [{ path: 'src/util.py', text: 'def helper():\n    return 1' }],
};

async function collect(stream: GenerationStream) {
  const pieces: string[] = [];
  for await (const piece of stream) pieces.push(piece);
  return { pieces, result: await stream.result };
}

function config(url: string, overrides: Partial<RemoteConfig> = {}): RemoteConfig {
  return { url, model: '', fimFormat: 'auto', timeoutMs: 5000, ...overrides };
}

/** An OpenAI text-completion chunk (vLLM's and TGI's streamed shape). */
const textChunk = (text: string, finish: string | null = null) => ({ id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm', choices: [{ index: 0, text, logprobs: null, finish_reason: finish }] });
/** An OpenAI chat-completion chunk; the first carries the role. */
const chatChunk = (delta: Record<string, string>, finish: string | null = null) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });

describe('shared servers: request and stream shapes', () => {
  let server: ScriptedServer;
  afterEach(() => server?.stop());

  it('vLLM: a client-side Qwen2.5-Coder FIM prompt on /v1/completions, with no `suffix`', async () => {
    // docs.vllm.ai "OpenAI-Compatible Server": /v1/models is OpenAI's list (vLLM adds max_model_len), and the
    // Completions API notes "suffix parameter is not supported", so the prompt is built here, as Tabby does.
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { object: 'list', data: [{ id: 'Qwen/Qwen2.5-Coder-7B', object: 'model', created: 1, owned_by: 'vllm', root: 'Qwen/Qwen2.5-Coder-7B', parent: null, max_model_len: 32768 }] }),
        'POST /v1/completions': (_, res) => sse(res, [textChunk('return'), textChunk(' a + b'), textChunk('', 'length'), { id: 'cmpl-1', object: 'text_completion', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 40, completion_tokens: 3, total_tokens: 43 } }, '[DONE]']),
      }),
    );
    const backend = new RemoteBackend(config(`${server.base}/v1`));
    assert.deepEqual(await backend.connect(), { name: 'Qwen/Qwen2.5-Coder-7B', maxContext: 32768, hasFim: true });
    const { pieces, result } = await collect(backend.complete(FIM));
    assert.deepEqual(pieces, ['return', ' a + b']);
    assert.equal(result.text, 'return a + b');
    assert.equal(result.finishReason, 'length');
    assert.equal(result.stats.generatedTokens, 3, 'from the usage chunk');
    assert.equal(result.stats.promptTokens, 40);
    const body = server.requests[1]!.body!;
    assert.equal(server.requests[1]!.path, '/v1/completions');
    assert.equal(body.prompt, '<|file_sep|>src/util.py\ndef helper():\n    return 1\n<|file_sep|>src/calc.py\n<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>');
    assert.equal('suffix' in body, false);
    assert.deepEqual({ model: body.model, max_tokens: body.max_tokens, temperature: body.temperature, stream: body.stream }, { model: 'Qwen/Qwen2.5-Coder-7B', max_tokens: 16, temperature: 0, stream: true });
    assert.deepEqual(body.stop, ['<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|im_end|>']);
  });

  it('vLLM: chat streamed from /v1/chat/completions as choices[].delta.content', async () => {
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { object: 'list', data: [{ id: 'qwen-coder', object: 'model', max_model_len: 8192 }] }),
        'POST /v1/chat/completions': (_, res) => sse(res, [chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'It adds' }), chatChunk({ content: ' two numbers.' }), chatChunk({}, 'stop'), '[DONE]']),
      }),
    );
    const backend = new RemoteBackend(config(server.base));
    await backend.connect();
    const { pieces, result } = await collect(backend.chat({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', explain: { code: 'def add(a, b):\n    return a + b', languageId: 'python' } }], maxTokens: 64, temperature: 0 }));
    assert.deepEqual(pieces, ['It adds', ' two numbers.']);
    assert.equal(result.text, 'It adds two numbers.');
    assert.equal(result.finishReason, 'stop');
    assert.deepEqual(server.requests[1]!.body!.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Explain this code:\n```python\ndef add(a, b):\n    return a + b\n```' },
    ]);
  });

  it('Ollama: `suffix` on /api/generate, streamed as newline-delimited JSON; a name without a tag is :latest', async () => {
    // github.com/ollama/ollama docs/api.md, "Generate a completion", "Request (with suffix)": prompt, suffix and
    // `options` (Modelfile parameters: temperature, num_predict, stop); a stream of JSON objects, the last with
    // done: true, done_reason, prompt_eval_count and eval_count. docs.ollama.com OpenAI compatibility: /v1/models.
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { object: 'list', data: [{ id: 'codellama:code', object: 'model', created: 1721680000, owned_by: 'library' }, { id: 'qwen2.5-coder:latest', object: 'model', created: 1721680000, owned_by: 'library' }] }),
        'POST /api/generate': (_, res) =>
          ndjson(res, [
            { model: 'qwen2.5-coder:latest', created_at: '2024-07-22T20:47:51.147561Z', response: 'return', done: false },
            { model: 'qwen2.5-coder:latest', created_at: '2024-07-22T20:47:51.2Z', response: ' a + b', done: false },
            { model: 'qwen2.5-coder:latest', created_at: '2024-07-22T20:47:51.3Z', response: '', done: true, done_reason: 'stop', context: [1, 2], total_duration: 1162761250, prompt_eval_count: 17, eval_count: 2, eval_duration: 953997000 },
          ]),
      }),
    );
    const backend = new RemoteBackend(config(server.base, { model: 'qwen2.5-coder', fimFormat: 'ollama' }));
    assert.equal((await backend.connect()).name, 'qwen2.5-coder:latest');
    const { pieces, result } = await collect(backend.complete(FIM));
    assert.deepEqual(pieces, ['return', ' a + b']);
    assert.deepEqual([result.finishReason, result.stats.promptTokens, result.stats.generatedTokens], ['stop', 17, 2]);
    assert.equal(server.requests[1]!.path, '/api/generate');
    assert.deepEqual(server.requests[1]!.body, { model: 'qwen2.5-coder:latest', prompt: FIM.prefix, suffix: FIM.suffix, stream: true, options: { num_predict: 16, temperature: 0 } });
  });

  it('Ollama: `suffix` on its OpenAI /v1/completions', async () => {
    // docs.ollama.com "OpenAI compatibility", /v1/completions supported request fields include `suffix`.
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { object: 'list', data: [{ id: 'codellama:code', object: 'model', created: 1721680000, owned_by: 'library' }] }),
        'POST /v1/completions': (_, res) => sse(res, [textChunk('return a + b'), textChunk('', 'stop'), '[DONE]']),
      }),
    );
    const backend = new RemoteBackend(config(`${server.base}/v1/`, { fimFormat: 'openai-suffix' }));
    await backend.connect();
    assert.equal((await collect(backend.complete(FIM))).result.text, 'return a + b');
    const body = server.requests[1]!.body!;
    assert.deepEqual([body.prompt, body.suffix, body.model, body.stream], [FIM.prefix, FIM.suffix, 'codellama:code', true]);
  });

  it("llama.cpp's server: /infill with input_prefix, input_suffix and the other files as input_extra", async () => {
    // llama.cpp tools/server/README.md, "POST /infill": input_prefix, input_suffix, input_extra (an array of
    // {"filename", "text"} placed before the FIM prefix), prompt (after FIM_MID), and every /completion option
    // (n_predict, temperature, stop, stream, cache_prompt). Streaming: "only content, tokens and stop will be
    // returned until end of completion", as server-sent events. Its /v1/models adds meta.n_ctx_train.
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { object: 'list', data: [{ id: 'qwen2.5-coder-7b-q8_0.gguf', object: 'model', created: 1, owned_by: 'llamacpp', meta: { vocab_type: 2, n_vocab: 152064, n_ctx_train: 32768, n_embd: 3584 } }] }),
        'POST /infill': (_, res) =>
          sse(res, [
            { content: 'return', stop: false, id_slot: 0, tokens: [] },
            { content: ' a + b', stop: false, id_slot: 0, tokens: [] },
            { content: '', stop: true, stop_type: 'limit', id_slot: 0, tokens_predicted: 16, tokens_evaluated: 52, model: 'qwen2.5-coder-7b-q8_0.gguf' },
          ]),
      }),
    );
    const backend = new RemoteBackend(config(server.base, { fimFormat: 'llama.cpp' }));
    assert.equal((await backend.connect()).maxContext, 32768);
    const { result } = await collect(backend.complete({ ...FIM, stop: ['\n\n'] }));
    assert.deepEqual([result.text, result.finishReason, result.stats.generatedTokens, result.stats.promptTokens], ['return a + b', 'length', 16, 52]);
    assert.deepEqual(server.requests[1]!.body, {
      model: 'qwen2.5-coder-7b-q8_0.gguf',
      input_prefix: FIM.prefix,
      input_suffix: FIM.suffix,
      input_extra: [{ filename: 'src/util.py', text: 'def helper():\n    return 1' }],
      prompt: '',
      n_predict: 16,
      temperature: 0,
      stop: ['\n\n'],
      stream: true,
      cache_prompt: true,
    });
  });

  it("llama.cpp's server: chat on its OpenAI /v1/chat/completions", async () => {
    // tools/server/README.md: "POST /v1/chat/completions: OpenAI-compatible Chat Completions API".
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { object: 'list', data: [{ id: 'model.gguf', object: 'model', owned_by: 'llamacpp', meta: { n_ctx_train: 4096 } }] }),
        'POST /v1/chat/completions': (_, res) => sse(res, [chatChunk({ role: 'assistant', content: null as unknown as string }), chatChunk({ content: 'Hello' }), chatChunk({}, 'length'), '[DONE]']),
      }),
    );
    const backend = new RemoteBackend(config(server.base));
    await backend.connect();
    const { result } = await collect(backend.chat({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 1 }));
    assert.deepEqual([result.text, result.finishReason], ['Hello', 'length']);
  });

  it('TGI: /v1/models answers one object; /v1/completions with at most 4 stop sequences', async () => {
    // TGI docs/openapi.json: GET /v1/models returns ModelInfo {id, object, created, owned_by} (one object, not a
    // list); /v1/completions takes CompletionRequest (prompt, max_tokens, stop: "Up to 4 sequences", stream) and
    // streams Chunk {id, created, choices: [{index, text, finish_reason}], model, system_fingerprint}.
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { id: 'bigcode/starcoder2-15b', object: 'model', created: 1686935002, owned_by: 'bigcode' }),
        'POST /v1/completions': (_, res) =>
          sse(res, [
            { id: '', created: 1, model: 'bigcode/starcoder2-15b', system_fingerprint: '2.4.1-native', choices: [{ index: 0, text: 'return a + b', finish_reason: '' }] },
            { id: '', created: 1, model: 'bigcode/starcoder2-15b', system_fingerprint: '2.4.1-native', choices: [{ index: 0, text: '', finish_reason: 'eos_token' }] },
            '[DONE]',
          ]),
      }),
    );
    const backend = new RemoteBackend(config(server.base));
    assert.equal((await backend.connect()).name, 'bigcode/starcoder2-15b');
    const { result } = await collect(backend.complete({ ...FIM, stop: ['\n\n'] }));
    assert.deepEqual([result.text, result.finishReason], ['return a + b', 'stop']);
    const body = server.requests[1]!.body!;
    assert.equal(body.prompt, '<file_sep>src/util.py\ndef helper():\n    return 1\n<file_sep>src/calc.py\n<fim_prefix>def add(a, b):\n    <fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>');
    assert.deepEqual(body.stop, ['\n\n', '<|endoftext|>', '<file_sep>', '<fim_prefix>']);
  });

  it('TGI: chat, and an error event in the middle of a stream fails the answer with its message', async () => {
    // TGI server.rs: an InferError mid-stream is sent as an event `{"error": …, "error_type": …}`.
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { id: 'tgi-model', object: 'model', created: 1, owned_by: 'me' }),
        'POST /v1/chat/completions': (_, res) => sse(res, [chatChunk({ role: 'assistant', content: 'Part' }), { error: 'Request failed during generation', error_type: 'generation' }]),
      }),
    );
    const backend = new RemoteBackend(config(server.base));
    await backend.connect();
    const stream = backend.chat({ messages: [{ role: 'user', content: 'Hi' }], maxTokens: 8 });
    await assert.rejects(collect(stream), (err: Error & { kind?: string }) => err.kind === 'server' && /Request failed during generation/.test(err.message));
  });

  it('Refactor over chat: only the code of the fenced answer streams, however the chunks split the fences', async () => {
    const answer = 'Here is the rewrite:\n```python\ndef total(values):\n    return sum(values)\n```\nIt uses sum().';
    const chunks = answer.match(/.{1,5}/gs)!;
    server = await scriptedServer(
      routes({
        'GET /v1/models': (_, res) => json(res, 200, { object: 'list', data: [{ id: 'coder', object: 'model' }] }),
        'POST /v1/chat/completions': (_, res) => sse(res, [...chunks.map((c) => chatChunk({ content: c })), chatChunk({}, 'stop'), '[DONE]']),
      }),
    );
    const backend = new RemoteBackend(config(server.base));
    await backend.connect();
    const { pieces, result } = await collect(backend.edit({ code: 'def total(values):\n    t = 0\n    for v in values:\n        t += v\n    return t\n', instruction: 'Simplify', languageId: 'python', maxTokens: 128 }));
    assert.equal(result.text, 'def total(values):\n    return sum(values)');
    assert.equal(pieces.join(''), result.text, 'what streamed is what the result holds');
    const message = (server.requests[1]!.body!.messages as { content: string }[])[0]!.content;
    assert.match(message, /^Simplify:\n```python\ndef total\(values\):\n {4}t = 0\n/);
    assert.match(message, /one fenced code block/);
  });
});
