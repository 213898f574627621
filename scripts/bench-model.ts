/**
 * One model package's real-size numbers, as JSON, measured the way the engine starts:
 * - a first start, in a child process: every file hashed and the cost profile measured, c(T) for T = 1..16
 *   on a 512-token cache (both are cached for later starts); its peak resident memory is reported apart;
 * - a later start, in this process: load time, prompt tokens/s (a 512-token prefill), autoregressive decode
 *   tokens/s (128 tokens, stop tokens ignored so every run decodes to the limit), each the mean of three
 *   repetitions as llama-bench's default takes, and resident memory after load, sampled while decoding, and
 *   the process's lifetime peak (getrusage, as /usr/bin/time reports it).
 * Both run under the engine's process settings (ENGINE_ENVIRONMENT, ENGINE_V8_FLAGS), as the extension
 * starts the engine.
 * Run: npm run bench:model -- --model DIR [--decode 128] [--prompt 512] [--repetitions 3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROFILE_SIZES, type CostProfile } from '../src/core/cost';
import { DecodingSession, type GenerationResult } from '../src/core/decoder';
import { loadModel, type LoadOptions } from '../src/core/model';
import { FileCostStore, profileKey } from '../src/core/profile';
import { minorCollector } from '../src/core/reclaim';
import { loadPackage } from '../src/core/package';
import { defaultThreads } from '../src/core/session';
import { FileVerifiedStore } from '../src/core/verified';
import { runWithEngineSettings } from '../src/engine/launch';

const args = process.argv.slice(2);
const flag = (name: string, fallback?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const modelDir = flag('model');
const decodeTokens = Number(flag('decode', '128'));
const promptTokens = Number(flag('prompt', '512'));
const repetitions = Math.max(1, Number(flag('repetitions', '3')));
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const round = (n: number) => Math.round(n * 100) / 100;

async function drain(gen: AsyncGenerator<string, GenerationResult>, onStep?: () => void) {
  for (;;) {
    const next = await gen.next();
    onStep?.();
    if (next.done) return next.value;
  }
}

/** The load options of a started engine: its stores (a later start finds the first start's there) and its collector. */
function engineLoadOptions(cacheDir: string): Pick<LoadOptions, 'device' | 'log' | 'costStore' | 'verifiedStore' | 'collector'> {
  return { device: 'cpu', log: () => undefined, costStore: new FileCostStore(cacheDir), verifiedStore: new FileVerifiedStore(cacheDir), collector: minorCollector() };
}

/** This process's peak resident memory so far, in MB (its own, not its children's). */
function peakMB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

interface FirstStart {
  hashMs: number;
  profile: CostProfile;
  peakMB: number;
}

async function main(): Promise<void> {
  if (!modelDir) throw new Error('usage: bench-model --model DIR [--decode N] [--prompt N] [--repetitions N]');
  const cacheDir = mkdtempSync(join(tmpdir(), 'chimera-bench-cache-'));
  const child = spawnSync(process.execPath, [...process.execArgv, __filename, '--first-start', modelDir, cacheDir], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`the first start failed: ${child.stderr}`);
  const first = JSON.parse(child.stdout) as FirstStart;
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const model = await loadModel(modelDir, engineLoadOptions(cacheDir));
  const loadMs = performance.now() - t0;
  const rssLoaded = process.memoryUsage().rss;
  const session = await DecodingSession.create(model);
  // A prompt of ordinary token ids (the model's weights are what is measured, not its text), within the
  // vocabulary: ids 1000-20999 of a real-size one, as before, and a proportionate range of a small one.
  const vocab = model.manifest.model.vocab_size;
  const firstId = Math.min(1000, Math.floor(vocab / 8));
  const span = Math.min(20000, vocab - firstId);
  const prompt = Array.from({ length: promptTokens }, (_, i) => firstId + ((i * 7919) % span));
  let peak = process.memoryUsage().rss;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  const promptRates: number[] = [];
  const decodeRates: number[] = [];
  let generated = 0;
  for (let r = 0; r < repetitions; r++) {
    await session.clear();
    const prefill = await drain(session.generate({ prompt, maxTokens: 1, mode: 'autoregressive', stopTokenIds: [] }), sample);
    promptRates.push((promptTokens * 1000) / prefill.stats.prefillMs);
  }
  for (let r = 0; r < repetitions; r++) {
    await session.clear();
    const decode = await drain(session.generate({ prompt: prompt.slice(0, 32), maxTokens: decodeTokens, mode: 'autoregressive', stopTokenIds: [] }), sample);
    decodeRates.push(decode.stats.decodeTokensPerSecond);
    generated = decode.stats.generatedTokens;
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const times = first.profile.targetMs;
  const sizes = PROFILE_SIZES.filter((t) => t <= 16);
  process.stdout.write(JSON.stringify({
    model: model.manifest.name,
    package: modelDir,
    precision: model.manifest.model.dtype ?? 'float32',
    threads: defaultThreads(),
    cores: availableParallelism(),
    loadMs: round(loadMs),
    firstLoadHashMs: round(first.hashMs),
    promptTokensPerSecond: round(mean(promptRates)),
    decodeTokensPerSecond: round(mean(decodeRates)),
    decodeTokens: generated,
    repetitions: { promptTokensPerSecond: promptRates.map(round), decodeTokensPerSecond: decodeRates.map(round) },
    verifyMs: Object.fromEntries(sizes.map((t, i) => [t, round(times[i]!)])),
    verifyRelative: Object.fromEntries(sizes.map((t, i) => [t, round(times[i]! / times[0]!)])),
    rssMB: { beforeLoad: mb(rssBefore), afterLoad: mb(rssLoaded), peakWhileDecoding: mb(peak), peak: peakMB(), firstStartPeak: first.peakMB },
  }) + '\n');
  session.dispose();
  await model.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
}

/** An engine's first start with this model: files hashed (timed alone), then loaded with the profile measured. */
async function firstStart(dir: string, cacheDir: string): Promise<void> {
  const t0 = performance.now();
  await loadPackage(dir, { verified: new FileVerifiedStore(cacheDir) });
  const hashMs = performance.now() - t0;
  const model = await loadModel(dir, engineLoadOptions(cacheDir));
  const profile = await new FileCostStore(cacheDir).load(profileKey(model, defaultThreads()));
  if (!profile) throw new Error('the first start saved no cost profile');
  await model.dispose();
  process.stdout.write(JSON.stringify({ hashMs, profile, peakMB: peakMB() } satisfies FirstStart));
}

// Measured under the engine's process settings (launch.ts), as the extension starts the engine.
runWithEngineSettings(__filename, args, () => (args[0] === '--first-start' ? firstStart(args[1]!, args[2]!) : main())).catch((err: unknown) => {
  process.stderr.write(`bench-model: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
