/** The shipped Node bundles, run as real processes the way a user or the extension runs them. */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { GpuDiagnostics } from '../../src/core/gpu/types';
import { fixtureDir } from '../support/models';
import { readManifest, repoRoot } from '../support/paths';
import { describeResult, run } from '../support/process';

const cli = join(repoRoot, 'dist/cli.js');
const engine = join(repoRoot, 'dist/engine.js');

describe('chimera CLI (dist/cli.js)', () => {
  it('prints the package version', async () => {
    const result = await run(process.execPath, [cli, '--version']);
    assert.equal(result.code, 0, describeResult(result));
    assert.equal(result.stdout, `${readManifest().version}\n`);
  });

  it('runs directly through its shebang, as the npm bin does', async () => {
    const result = await run(cli, ['-v']);
    assert.equal(result.code, 0, describeResult(result));
    assert.equal(result.stdout.trim(), readManifest().version);
  });

  it('prints usage with --help', async () => {
    const result = await run(process.execPath, [cli, '--help']);
    assert.equal(result.code, 0, describeResult(result));
    assert.match(result.stdout, /^Usage: chimera <command>/);
    assert.equal(result.stderr, '');
  });

  for (const args of [['generate'], ['generate', '--prompt', 'x', '--mode', 'fast'], ['bench'], ['serve', '--port', 'x'], ['frobnicate'], []]) {
    it(`rejects \`chimera ${args.join(' ')}\` on stderr with exit code 2`, async () => {
      const result = await run(process.execPath, [cli, ...args]);
      assert.equal(result.code, 2, describeResult(result));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^chimera: error: .+\nRun 'chimera --help' for usage\.\n$/);
    });
  }
});

describe('chimera serve with a token file it cannot use', function () {
  this.timeout(60_000);

  it('names the file and stops with exit code 1, before loading the model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chimera-token-'));
    writeFileSync(join(dir, 'empty'), '\n');
    for (const [file, why] of [[join(dir, 'missing'), /cannot read the token file .*missing: ENOENT/], [join(dir, 'empty'), /the token file .*empty has no token on its first line/]] as const) {
      const result = await run(process.execPath, [cli, 'serve', '--token-file', file, '--model', join(dir, 'no-model'), '--port', '0']);
      assert.equal(result.code, 1, describeResult(result));
      assert.match(result.stderr, why);
      assert.doesNotMatch(result.stderr, /no-model/, 'the token is checked first');
    }
  });
});

describe('chimera generate and bench (real model, real process)', function () {
  this.timeout(120_000);

  it('streams a completion to stdout', async () => {
    const result = await run(process.execPath, [cli, 'generate', '--model', fixtureDir, '--prompt', 'def f(x):', '--max-tokens', '12', '--device', 'cpu']);
    assert.equal(result.code, 0, describeResult(result));
    assert.ok(result.stdout.trim().length > 0);
  });

  it('prints text and statistics with --json, the same text in every mode', async () => {
    const texts = new Set<string>();
    for (const mode of ['autoregressive', 'chimera', 'ngram']) {
      const result = await run(process.execPath, [cli, 'generate', '--model', fixtureDir, '--prompt', 'x = [1, 2, 3]\ny = [', '--max-tokens', '16', '--mode', mode, '--device', 'cpu', '--json']);
      assert.equal(result.code, 0, describeResult(result));
      const out = JSON.parse(result.stdout) as { text: string; stats: { mode: string; generatedTokens: number; steps: number } };
      assert.equal(out.stats.mode, mode);
      assert.equal(out.stats.generatedTokens, 16);
      texts.add(out.text);
    }
    assert.equal(texts.size, 1);
  });

  it('fills in the middle with --suffix-file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chimera-cli-'));
    writeFileSync(join(dir, 'suffix.py'), '\n    return total\n');
    const result = await run(process.execPath, [cli, 'generate', '--model', fixtureDir, '--prompt', 'def sum(xs):\n    total = 0\n', '--suffix-file', join(dir, 'suffix.py'), '--max-tokens', '8', '--device', 'cpu', '--json']);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(result.code, 0, describeResult(result));
    assert.ok(JSON.parse(result.stdout).stats.promptTokens > 10);
  });

  it('benchmarks every mode on the same prompts and reports ratios as JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chimera-bench-'));
    const prompts = join(dir, 'prompts.jsonl');
    writeFileSync(prompts, ['def add(a, b):', 'for (let i = 0; i < n; i++) {', 'import os\nimport sys\n'].map((p) => JSON.stringify({ prompt: p, id: 1 })).join('\n') + '\n' + JSON.stringify({ prompt: 'x = ', suffix: '\nprint(x)\n' }));
    const result = await run(process.execPath, [cli, 'bench', '--model', fixtureDir, '--prompts', prompts, '--max-tokens', '24', '--device', 'cpu', '--json']);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(result.code, 0, describeResult(result));
    const report = JSON.parse(result.stdout) as { prompts: number; engineSettings: boolean; treesSound: boolean; nearTieMargin: number; modes: Record<string, { runs: number; tokensPerSecond: number; meanAcceptedLength: number; identicalToAutoregressive: string | null; divergences: unknown[] | null; speedupVsAutoregressive: number | null }> };
    assert.equal(report.prompts, 4);
    assert.equal(report.engineSettings, true, 'bench runs itself again under the engine process settings');
    assert.equal(report.treesSound, true, 'the CPU provider is the reference for trees');
    assert.equal(report.nearTieMargin, 1e-4, 'an fp32 package excuses only last-bit near-ties');
    assert.deepEqual(Object.keys(report.modes), ['autoregressive', 'chimera', 'ngram']);
    assert.equal(report.modes.autoregressive!.meanAcceptedLength, 1);
    for (const mode of ['chimera', 'ngram']) {
      assert.equal(report.modes[mode]!.identicalToAutoregressive, '4/4');
      assert.deepEqual(report.modes[mode]!.divergences, []);
      assert.ok(report.modes[mode]!.tokensPerSecond > 0 && report.modes[mode]!.speedupVsAutoregressive! > 0);
    }
  });

  it('keeps the prompt when --max-tokens asks for more than the context holds, and says how many it generates', async () => {
    const prompt = Array.from({ length: 40 }, (_, i) => `value_${i} = compute(${i})`).join('\n');
    const result = await run(process.execPath, [cli, 'generate', '--model', fixtureDir, '--prompt', prompt, '--max-tokens', '1000', '--device', 'cpu', '--json']);
    assert.equal(result.code, 0, describeResult(result));
    const out = JSON.parse(result.stdout) as { stats: { promptTokens: number; generatedTokens: number }; limits: { maxTokens: number; promptTokens: number } };
    assert.ok(out.stats.promptTokens > 300, `the whole prompt is read (${out.stats.promptTokens} tokens; it used to be cut to 1)`);
    assert.equal(out.limits.maxTokens, 1024 - 24 - out.stats.promptTokens, 'the answer gets what the prompt leaves');
    assert.ok(out.stats.generatedTokens <= out.limits.maxTokens);
    assert.match(result.stderr, /--max-tokens 1000 does not fit the context of 1024 tokens with this prompt \(\d+ tokens\); generating at most \d+/);
  });

  it('chimera verify refuses a package whose tree is garbage (it used to pass it)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'chimera-verify-')), 'pkg');
    cpSync(join(repoRoot, 'test/fixtures/converted-qwen2'), dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'chimera.json'), 'utf8')) as { tree: { paths: unknown } };
    const good = await run(process.execPath, [cli, 'verify', '--model', dir, '--device', 'cpu']);
    assert.equal(good.code, 0, describeResult(good));
    manifest.tree.paths = [[0], [7, 7, 7], ['x']];
    writeFileSync(join(dir, 'chimera.json'), JSON.stringify(manifest));
    const bad = await run(process.execPath, [cli, 'verify', '--model', dir, '--device', 'cpu']);
    rmSync(join(dir, '..'), { recursive: true, force: true });
    assert.equal(bad.code, 1, describeResult(bad));
    assert.match(bad.stderr, /chimera\.json: field "tree\.paths\[1\]" \(\[7,7,7\]\) uses rank 7; ranks run from 0 to 3/);
  });

  it('chimera doctor reports the platform, the providers, the choice with each refusal, and c(1), as JSON', async () => {
    // No GPU here, and no software adapter allowed: the CPU runs the model and each GPU candidate says why not.
    const env = { ...process.env, CHIMERA_ALLOW_SOFTWARE_GPU: '', CHIMERA_FORCE_GPU_PROBE: '' };
    const result = await run(process.execPath, [cli, 'doctor', '--model', fixtureDir, '--json'], { env });
    assert.equal(result.code, 0, describeResult(result));
    const report = JSON.parse(result.stdout) as GpuDiagnostics;
    assert.deepEqual([report.platform.os, report.platform.arch], [process.platform, process.arch]);
    assert.ok(report.providers.some((p) => p.name === 'cpu' && p.present));
    assert.equal(report.chosen?.provider, 'cpu');
    assert.deepEqual(report.attempts.map((a) => a.provider), ['cuda', 'webgpu']);
    assert.ok(report.attempts.every((a) => a.outcome === 'refused' && a.reason.length > 0));
    const cpu = report.costs.find((c) => c.provider === 'cpu');
    assert.ok(cpu?.c1Ms !== undefined && cpu.c1Ms > 0, 'c(1) measured on the CPU');
  });

  it('names the file when the model package is broken', async () => {
    const result = await run(process.execPath, [cli, 'generate', '--model', join(tmpdir(), 'no-such-model'), '--prompt', 'x']);
    assert.equal(result.code, 1, describeResult(result));
    assert.match(result.stderr, /no-such-model: model package folder not found/);
  });

  it('names a prompts file that cannot be read', async () => {
    const result = await run(process.execPath, [cli, 'bench', '--model', fixtureDir, '--prompts', '/nonexistent/p.jsonl', '--device', 'cpu']);
    assert.equal(result.code, 1, describeResult(result));
    assert.match(result.stderr, /cannot read prompts file \/nonexistent\/p\.jsonl: ENOENT/);
  });
});

describe('engine process (dist/engine.js)', () => {
  it('explains that it must be forked when started by hand', async () => {
    const result = await run(process.execPath, [engine]);
    assert.equal(result.code, 2, describeResult(result));
    assert.match(result.stderr, /must be started with child_process\.fork/);
  });
});
