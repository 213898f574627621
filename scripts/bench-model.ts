/**
 * One model package's real-size numbers, as JSON (run in a fresh process per package, so memory is its own):
 * load time (files already hashed, as at the engine's later starts; the first hash is timed apart),
 * prompt tokens/s (a 512-token prefill), autoregressive decode tokens/s (128 tokens, stop tokens ignored so
 * every run decodes to the limit), c(T) for T = 1..16 on a 512-token cache, and resident memory
 * after load and at its peak while decoding.
 * Run: npm run bench:model -- --model DIR [--threads N] [--decode 128] [--prompt 512]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROFILE_SIZES } from '../src/core/cost';
import { DecodingSession, type GenerationResult } from '../src/core/decoder';
import { loadModel } from '../src/core/model';
import { measureProfile, profileKey } from '../src/core/profile';
import { loadPackage } from '../src/core/package';
import { defaultThreads } from '../src/core/session';
import { FileVerifiedStore } from '../src/core/verified';

const args = process.argv.slice(2);
const flag = (name: string, fallback?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const modelDir = flag('model');
const decodeTokens = Number(flag('decode', '128'));
const promptTokens = Number(flag('prompt', '512'));
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const round = (n: number) => Math.round(n * 100) / 100;

async function drain(gen: AsyncGenerator<string, GenerationResult>, onStep?: () => void) {
  for (;;) {
    const next = await gen.next();
    onStep?.();
    if (next.done) return next.value;
  }
}

async function main(): Promise<void> {
  if (!modelDir) throw new Error('usage: bench-model --model DIR [--decode N] [--prompt N]');
  // Files are hashed once, in a child process so its buffers stay out of this one's memory; the load is then
  // timed as the engine's later starts run it.
  const storeDir = mkdtempSync(join(tmpdir(), 'chimera-bench-verified-'));
  const verifiedStore = new FileVerifiedStore(storeDir);
  const child = spawnSync(process.execPath, [__filename, '--hash-only', modelDir, storeDir], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`hashing the package failed: ${child.stderr}`);
  const hashMs = Number(child.stdout);
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const model = await loadModel(modelDir, { device: 'cpu', log: () => undefined, costs: 'default', verifiedStore });
  const loadMs = performance.now() - t0;
  const rssLoaded = process.memoryUsage().rss;
  const profile = await measureProfile(model, profileKey(model, defaultThreads()));
  const session = await DecodingSession.create(model);
  // A prompt of ordinary token ids (the model's weights are what is measured, not its text).
  const prompt = Array.from({ length: promptTokens }, (_, i) => 1000 + ((i * 7919) % 20000));
  let peak = process.memoryUsage().rss;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  const prefill = await drain(session.generate({ prompt, maxTokens: 1, mode: 'autoregressive', stopTokenIds: [] }), sample);
  await session.clear();
  const decode = await drain(session.generate({ prompt: prompt.slice(0, 32), maxTokens: decodeTokens, mode: 'autoregressive', stopTokenIds: [] }), sample);
  const one = profile.targetMs[0]!;
  process.stdout.write(JSON.stringify({
    model: model.manifest.name,
    package: modelDir,
    precision: model.manifest.model.dtype ?? 'float32',
    threads: defaultThreads(),
    cores: availableParallelism(),
    loadMs: round(loadMs),
    firstLoadHashMs: round(hashMs),
    promptTokensPerSecond: round((promptTokens * 1000) / prefill.stats.prefillMs),
    decodeTokensPerSecond: round(decode.stats.decodeTokensPerSecond),
    decodeTokens: decode.stats.generatedTokens,
    verifyMs: Object.fromEntries(PROFILE_SIZES.filter((t) => t <= 16).map((t, i) => [t, round(profile.targetMs[i]!)])),
    verifyRelative: Object.fromEntries(PROFILE_SIZES.filter((t) => t <= 16).map((t, i) => [t, round(profile.targetMs[i]! / one)])),
    rssMB: { beforeLoad: mb(rssBefore), afterLoad: mb(rssLoaded), peakWhileDecoding: mb(peak) },
  }) + '\n');
  session.dispose();
  await model.dispose();
  rmSync(storeDir, { recursive: true, force: true });
}

async function hashOnly(dir: string, storeDir: string): Promise<void> {
  const t0 = performance.now();
  await loadPackage(dir, { verified: new FileVerifiedStore(storeDir) });
  process.stdout.write(String(performance.now() - t0));
}

(args[0] === '--hash-only' ? hashOnly(args[1]!, args[2]!) : main()).catch((err: unknown) => {
  process.stderr.write(`bench-model: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
