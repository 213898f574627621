/**
 * The GPU path on a real WebGPU adapter: SwiftShader, a Vulkan driver that renders on the CPU, set up by
 * scripts/test-webgpu.mjs. The fixture model runs on the WebGPU provider with its KV cache kept on the
 * device (gpu-buffer outputs, rollback and compaction in the generated update graph), and every answer
 * is compared with the CPU provider's.
 */
import * as assert from 'node:assert/strict';
import { DecodingSession, type DecodingMode } from '../../src/core/decoder';
import { AbortError } from '../../src/core/errors';
import { loadModel, type LoadedModel } from '../../src/core/model';
import { minorCollector } from '../../src/core/reclaim';
import { createTarget } from '../../src/core/target';
import { collect } from '../support/decoding';
import { join } from 'node:path';
import { QUANTIZED_NEAR_TIE } from '../../src/cli/divergence';
import { codePrompts, fixtureDir, memoryLog } from '../support/models';
import { repoRoot } from '../support/paths';

/**
 * A different device computes the same fp32 logits in a different order, so they differ in the last bits
 * (as a block and a single step do on the CPU). Only a near-tie between the top two logits may then pick
 * another token; the CPU tier allows the same margin for the same reason.
 */
const TIE_MARGIN = 1e-4;
const PROMPTS = 8;
const MAX_TOKENS = 24;

describe('WebGPU provider on SwiftShader: decoding', function () {
  this.timeout(600_000);
  let cpu: LoadedModel;
  let gpu: LoadedModel;
  let onCpu: DecodingSession;
  let onGpu: DecodingSession;

  before(async () => {
    // The cost profile is measured per device; the neutral one keeps this tier short on a software GPU.
    cpu = await loadModel(fixtureDir, { device: 'cpu', log: memoryLog().log, costs: 'default' });
    // The draft on the target's GPU too, so the device's draft path (its cache, the block cap) is covered;
    // the default placement, the draft on the CPU, has its own test below.
    gpu = await loadModel(fixtureDir, { device: 'gpu', allowSoftwareGpu: true, log: memoryLog().log, costs: 'default', collector: minorCollector(), draftOn: 'target' });
    onCpu = await DecodingSession.create(cpu);
    onGpu = await DecodingSession.create(gpu);
  });
  after(async () => {
    onCpu?.dispose();
    onGpu?.dispose();
    await cpu?.dispose();
    await gpu?.dispose();
  });

  /** The CPU provider's greedy answer, with the top-2 margin of each token. */
  async function reference(prompt: number[], maxTokens = MAX_TOKENS) {
    await onCpu.clear();
    return (await collect(onCpu, { prompt, maxTokens, mode: 'autoregressive', recordMargins: true })).result;
  }

  it('runs the target and the draft on WebGPU, on the software adapter it was allowed', () => {
    assert.equal(gpu.device.kind, 'webgpu');
    assert.equal(gpu.device.software, true);
    assert.ok(gpu.draft, 'the fixture has a draft, so Chimera runs on the device too');
    assert.equal(gpu.draftDevice, 'webgpu');
    assert.deepEqual(
      gpu.device.attempts.map((a) => [a.provider, a.outcome]),
      [
        ['cuda', 'refused'],
        ['webgpu', 'chosen'],
      ],
    );
    assert.equal(gpu.treesSound, true, 'its multi-head attention masks trees right, so trees are kept');
  });

  it('cuts blocks to the largest size this adapter computes soundly, and larger blocks really are wrong', async () => {
    /** The last row's logits of one block of `rows` tokens on `model`'s provider. */
    const block = async (model: LoadedModel, rows: number) => {
      const runner = await createTarget(model, rows);
      try {
        const tokens = Array.from({ length: rows }, (_, i) => 20 + ((i * 37) % 200));
        return Float32Array.from((await runner.forward(tokens, 1)).logits);
      } finally {
        runner.dispose();
      }
    };
    const worst = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    const cap = gpu.maxBlockRows;
    console.log(`      largest sound block on this adapter: ${cap ?? 'any'}`);
    const sound = cap ?? 256;
    assert.ok(worst(await block(gpu, sound), await block(cpu, sound)) < 1e-3, `a block of ${sound} rows agrees with the CPU`);
    if (cap !== null) {
      assert.match(gpu.device.reason, new RegExp(`cut to ${cap}`));
      assert.ok(worst(await block(gpu, cap * 2), await block(cpu, cap * 2)) > 1e-2, `a block of ${cap * 2} rows is wrong here, so the cut is needed`);
    }
  });

  it('gives the CPU greedy answer in every mode (near-ties excused, as on the CPU)', async () => {
    const modes: DecodingMode[] = ['autoregressive', 'ngram', 'chimera'];
    let identical = 0;
    let excused = 0;
    const accepted = { cpu: 0, gpu: 0 };
    const diverged: string[] = [];
    for (const text of codePrompts(PROMPTS)) {
      const prompt = cpu.tokenizer.encode(text);
      const want = await reference(prompt);
      await onCpu.clear();
      accepted.cpu += (await collect(onCpu, { prompt, maxTokens: MAX_TOKENS, mode: 'chimera' })).result.stats.accepted;
      for (const mode of modes) {
        await onGpu.clear();
        const got = (await collect(onGpu, { prompt, maxTokens: MAX_TOKENS, mode })).result;
        if (mode === 'chimera') accepted.gpu += got.stats.accepted;
        const at = got.tokens.findIndex((t, i) => t !== want.tokens[i]);
        if (at === -1 && got.tokens.length === want.tokens.length) {
          assert.equal(got.text, want.text);
          identical++;
        } else {
          const where = at === -1 ? Math.min(got.tokens.length, want.tokens.length) : at;
          const margin = want.margins![where] ?? Infinity;
          if (margin < TIE_MARGIN) excused++;
          else diverged.push(`${mode} at token ${where} of ${JSON.stringify(text.slice(0, 40))}, top-2 margin ${margin.toFixed(5)}`);
        }
      }
    }
    console.log(`      WebGPU vs CPU: ${identical} identical, ${excused} near-tie divergences excused; Chimera accepted ${accepted.gpu} drafted tokens on WebGPU, ${accepted.cpu} on the CPU`);
    assert.deepEqual(diverged, []);
    assert.ok(identical >= PROMPTS * modes.length - excused);
  });

  it('by default runs the draft on the CPU beside a GPU target, with the same Chimera answers', async () => {
    const split = await loadModel(fixtureDir, { device: 'gpu', allowSoftwareGpu: true, log: memoryLog().log, costs: 'default', collector: minorCollector() });
    const session = await DecodingSession.create(split);
    try {
      assert.equal(split.device.kind, 'webgpu');
      assert.equal(split.draftDevice, 'cpu');
      assert.match(split.device.reason, /the draft runs on the CPU/);
      assert.doesNotMatch(gpu.device.reason, /the draft runs on the CPU/);
      let accepted = 0;
      for (const text of codePrompts(3)) {
        const prompt = cpu.tokenizer.encode(text);
        await onGpu.clear();
        const onDevice = (await collect(onGpu, { prompt, maxTokens: MAX_TOKENS, mode: 'chimera' })).result;
        await session.clear();
        const got = (await collect(session, { prompt, maxTokens: MAX_TOKENS, mode: 'chimera' })).result;
        // The same target on the same device verifies both, so the answers match whoever drafted.
        assert.deepEqual(got.tokens, onDevice.tokens);
        accepted += got.stats.acceptedFromDraft;
      }
      assert.ok(accepted > 0, 'the CPU draft\'s proposals were accepted by the GPU target');
    } finally {
      session.dispose();
      await split.dispose();
    }
  });

  it('runs a quantized package whose embeddings the engine reads, speculation matching its own greedy answer', async () => {
    // The int8 fixture's target takes inputs_embeds, read from its data file on the host and uploaded.
    const quantized = await loadModel(join(repoRoot, 'test/fixtures/converted-qwen2-int8'), { device: 'gpu', allowSoftwareGpu: true, log: memoryLog().log, costs: 'default', collector: minorCollector() });
    const session = await DecodingSession.create(quantized);
    try {
      assert.equal(quantized.device.kind, 'webgpu');
      assert.ok(quantized.embeddings, 'the engine reads this package\'s embeddings');
      // onnxruntime 1.30's WebGPU GroupQueryAttention lets a tree's siblings see each other on this adapter
      // (measured: their logits off by 3-7), so this grouped-query model verifies chains only here.
      assert.equal(quantized.treesSound, false);
      assert.match(quantized.device.reason, /verifies chains only/);
      const diverged: string[] = [];
      for (const text of codePrompts(4)) {
        const prompt = quantized.tokenizer.encode(text);
        await session.clear();
        const want = (await collect(session, { prompt, maxTokens: 16, mode: 'autoregressive', recordMargins: true })).result;
        assert.ok(want.tokens.length > 0);
        for (const mode of ['ngram', 'chimera'] as const) {
          await session.clear();
          const got = (await collect(session, { prompt, maxTokens: 16, mode })).result;
          const at = got.tokens.findIndex((t, i) => t !== want.tokens[i]);
          if (at === -1 && got.tokens.length === want.tokens.length) continue;
          const where = at === -1 ? Math.min(got.tokens.length, want.tokens.length) : at;
          // The device's kernels differ from the CPU's, but within one device the quantized rule holds.
          if ((want.margins![where] ?? Infinity) >= QUANTIZED_NEAR_TIE) diverged.push(`${mode} at token ${where}, top-2 margin ${want.margins![where]?.toFixed(4)}`);
        }
      }
      assert.deepEqual(diverged, []);
    } finally {
      session.dispose();
      await quantized.dispose();
    }
  });

  it('reuses a cached prefix on the device and rolls back to where a new prompt differs', async () => {
    const common = cpu.tokenizer.encode('import os\nimport sys\n\ndef main(argv):\n    for arg in argv:\n');
    const first = common.concat(cpu.tokenizer.encode('        print(arg)\n'));
    const second = common.concat(cpu.tokenizer.encode('        if arg:\n'));
    const want = await reference(second, 20);
    await onGpu.clear();
    await collect(onGpu, { prompt: first, maxTokens: 12, mode: 'chimera' });
    const warm = (await collect(onGpu, { prompt: second, maxTokens: 20, mode: 'chimera' })).result;
    const shared = first.findIndex((t, i) => t !== second[i]);
    assert.ok(shared >= common.length);
    assert.equal(warm.stats.reusedTokens, shared, 'the cache was cut back to where the prompts differ, and kept the rest');
    assert.deepEqual(warm.tokens, want.tokens);
    const again = (await collect(onGpu, { prompt: second, maxTokens: 20, mode: 'ngram' })).result;
    assert.equal(again.stats.reusedTokens, second.length - 1, 'an identical prompt reruns only its last token');
    assert.deepEqual(again.tokens, want.tokens);
  });

  it('stops within a step of cancellation, and the device cache stays usable', async () => {
    const prompt = cpu.tokenizer.encode('class Stack:\n    def push(self, item):\n');
    const controller = new AbortController();
    const stream = onGpu.generate({ prompt, maxTokens: 200, mode: 'chimera', signal: controller.signal });
    assert.equal((await stream.next()).done, false);
    controller.abort();
    await assert.rejects(stream.next(), AbortError);
    const want = await reference(prompt, 12);
    const after = (await collect(onGpu, { prompt, maxTokens: 12, mode: 'chimera' })).result;
    assert.ok(after.stats.reusedTokens > 0, 'the prompt the cancelled request cached is reused');
    assert.deepEqual(after.tokens, want.tokens);
  });

  it('gives the same answers from a re-created session and from a reloaded model', async () => {
    const prompt = cpu.tokenizer.encode(codePrompts(3)[2]!);
    const want = await reference(prompt, 16);
    onGpu.dispose();
    onGpu = await DecodingSession.create(gpu);
    assert.deepEqual((await collect(onGpu, { prompt, maxTokens: 16, mode: 'chimera' })).result.tokens, want.tokens);
    onGpu.dispose();
    await gpu.dispose();
    // The draft on the target's GPU too, so the device's draft path (its cache, the block cap) is covered;
    // the default placement, the draft on the CPU, has its own test below.
    gpu = await loadModel(fixtureDir, { device: 'gpu', allowSoftwareGpu: true, log: memoryLog().log, costs: 'default', collector: minorCollector(), draftOn: 'target' });
    onGpu = await DecodingSession.create(gpu);
    assert.equal(gpu.device.kind, 'webgpu');
    assert.deepEqual((await collect(onGpu, { prompt, maxTokens: 16, mode: 'chimera' })).result.tokens, want.tokens);
  });
});
