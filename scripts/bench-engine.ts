/**
 * Engine benchmark (prints JSON): what the extension feels.
 * - engine start: fork to `initialize` answered (model loaded), over several starts;
 * - inline-style FIM requests of ~1k prompt tokens: first-token latency cold (a fresh file) and warm
 *   (the same file after a keystroke: the prompt-prefix cache), and the inline latency p50/p95 for a
 *   typing sequence through the real client, stopping each request once its suggestion is settled,
 *   as the extension's provider does;
 * - tokens/s through the protocol vs the same generation in-process, to show the protocol's overhead.
 * Run: npm run bench:engine -- [--model DIR] [--starts N]
 */
import { join } from 'node:path';
import { DecodingSession } from '../src/core/decoder';
import { completionContext } from '../src/core/inline/context';
import { collectSuggestion } from '../src/core/inline/trim';
import { loadModel } from '../src/core/model';
import { TemplateRegistry } from '../src/core/templates';
import { EngineClient } from '../src/engine/client';
import { PROTOCOL_VERSION } from '../src/protocol';

const root = join(__dirname, '..', '..');
const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const modelPath = flag('model', join(root, 'models/default'));
const starts = Number(flag('starts', '3'));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const r = (n: number) => Math.round(n * 10) / 10;

/** A source file of about `lines` lines, different for each `seed` so caches start cold. */
function sourceFile(seed: number, lines: number): string {
  const out: string[] = [`# module ${seed}`, 'import os', 'import sys', ''];
  for (let i = 0; out.length < lines; i++) {
    out.push(`def helper_${seed}_${i}(values, limit=${i + 1}):`, `    """Return the items of values below ${i} times the limit."""`, '    result = []', '    for item in values:', `        if item < limit * ${i}:`, '            result.append(item)', '    return result', '');
  }
  return out.join('\n');
}

function client(): EngineClient {
  return new EngineClient({
    enginePath: join(root, 'dist/engine.js'),
    initParams: () => ({ protocolVersion: PROTOCOL_VERSION, modelPath, device: 'cpu', clientName: 'bench' }),
    log: () => undefined,
  });
}

async function measureStarts(): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < starts; i++) {
    const c = client();
    const t0 = performance.now();
    await c.start();
    times.push(performance.now() - t0);
    await c.stop();
  }
  return times;
}

async function main(): Promise<void> {
  const startMs = await measureStarts();
  const c = client();
  await c.start();
  const complete = (prefix: string, suffix: string, maxTokens: number) => c.complete({ prefix, suffix, languageId: 'python', filePath: 'bench.py', maxTokens, mode: 'chimera' }).result;

  // 1k-token FIM prompts: cold (new file), then warm (one more character typed at the cursor).
  const cold: number[] = [];
  const warm: number[] = [];
  const reused: number[] = [];
  let promptTokens = 0;
  for (let seed = 0; seed < 5; seed++) {
    const text = sourceFile(seed, 230);
    const cut = text.lastIndexOf('    result = []');
    const prefix = text.slice(0, cut) + '    res';
    const suffix = text.slice(cut + 15);
    const first = await complete(prefix, suffix, 1);
    cold.push(first.stats.firstTokenMs);
    promptTokens = first.stats.promptTokens;
    const again = await complete(prefix + 'u', suffix, 1);
    warm.push(again.stats.firstTokenMs);
    reused.push(again.stats.reusedTokens);
  }

  // A typing sequence: 50 requests, one character more each time, as inline completion sends them.
  const text = sourceFile(99, 150);
  const at = text.lastIndexOf('def helper');
  const typed = 'def helper_99_extra(values, limit=3):\n    """Return the sum of the values."""\n    total = 0\n';
  const latencies: number[] = [];
  let settledEarly = 0;
  for (let i = 1; i <= 50; i++) {
    // What the inline provider does after its debounce: stream, and stop once trimming has decided.
    // The user writes a new function above an existing one: the cursor's line has nothing after it.
    const doc = text.slice(0, at) + typed.slice(0, i + 40) + '\n\n' + text.slice(at);
    const ctx = completionContext(doc, at + i + 40);
    const t0 = performance.now();
    const settled = new AbortController();
    const stream = c.complete({ prefix: ctx.prefix, suffix: ctx.suffix, languageId: 'python', filePath: 'bench.py', maxTokens: 64, mode: 'chimera' }, settled.signal);
    stream.result.catch(() => undefined);
    await collectSuggestion(stream, ctx.trim, () => settled.abort());
    latencies.push(performance.now() - t0);
    if (settled.signal.aborted) settledEarly++;
  }

  // Protocol overhead: one long generation through the engine and the same in-process.
  const prompt = sourceFile(7, 60);
  let t0 = performance.now();
  const viaProtocol = await c.chat({ messages: [{ role: 'user', content: `Explain this code:\n${prompt.slice(0, 1500)}` }], maxTokens: 200, mode: 'chimera' }).result;
  const protocolMs = performance.now() - t0;
  const stats = await c.stats();
  await c.stop();
  const model = await loadModel(modelPath, { device: 'cpu', log: () => undefined });
  const session = await DecodingSession.create(model);
  const reg = new TemplateRegistry(model.manifest, model.tokenizer);
  const p = reg.chat([{ role: 'user', content: `Explain this code:\n${prompt.slice(0, 1500)}` }], 800);
  t0 = performance.now();
  const gen = session.generate({ prompt: p.tokens, maxTokens: 200, mode: 'chimera', stopTokenIds: reg.stopTokenIds('chat') });
  let next = await gen.next();
  while (!next.done) next = await gen.next();
  const inProcessMs = performance.now() - t0;
  const inProcess = next.value;
  session.dispose();
  await model.dispose();

  const wallTps = (res: { stats: { generatedTokens: number } }, ms: number) => (res.stats.generatedTokens * 1000) / ms;
  process.stdout.write(JSON.stringify({
    model: stats.model?.name,
    device: stats.device?.kind,
    engineStartToReadyMs: { runs: startMs.map(r), median: r(percentile(startMs, 50)) },
    fim1k: { promptTokens, coldFirstTokenMs: cold.map(r), warmFirstTokenMs: warm.map(r), coldMedianMs: r(percentile(cold, 50)), warmMedianMs: r(percentile(warm, 50)), warmReusedTokens: reused },
    inlineTyping50: {
      requestMs: { p50: r(percentile(latencies, 50)), p95: r(percentile(latencies, 95)), max: r(Math.max(...latencies)) },
      maxTokens: 64,
      stoppedOnceSettled: settledEarly,
    },
    protocolOverhead: {
      tokens: viaProtocol.stats.generatedTokens,
      viaProtocolTokensPerSecond: r(wallTps(viaProtocol, protocolMs)),
      inProcessTokensPerSecond: r(wallTps(inProcess, inProcessMs)),
      ratio: r(wallTps(viaProtocol, protocolMs) / wallTps(inProcess, inProcessMs)),
      identicalText: viaProtocol.text === inProcess.text,
    },
    engineRssMB: r(stats.memory.rssBytes / 2 ** 20),
  }, null, 2) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-engine: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
