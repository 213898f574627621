/**
 * Engine benchmark (prints JSON): what the extension feels.
 * - engine start: fork to `initialize` answered (model loaded), over several starts;
 * - inline-style FIM requests of ~1k prompt tokens: first-token latency cold (a fresh file) and warm
 *   (the same file after a keystroke: the prompt-prefix cache), and the inline latency p50/p95 for a
 *   typing sequence through the real client, stopping each request once its suggestion is settled,
 *   as the extension's provider does, without and with cross-file context and the syntax check;
 * - tokens/s through the protocol vs the same generation in-process, to show the protocol's overhead.
 * Run: npm run bench:engine -- [--model DIR] [--starts N]
 */
import { join } from 'node:path';
import { DecodingSession } from '../src/core/decoder';
import { completionContext } from '../src/core/inline/context';
import { definitionOf, gatherContext, importsOf, type ContextSnippet } from '../src/core/inline/crossFile';
import { SyntaxChecker } from '../src/core/inline/syntax';
import { collectSuggestion, trimCompletion } from '../src/core/inline/trim';
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

interface TypingRun {
  latencies: number[];
  settledEarly: number;
  syntaxMs: number[];
  outcomes: Record<string, number>;
  snippets: number;
  promptTokens: number[];
  reusedTokens: number[];
  firstTokenMs: number[];
}

function summary(run: TypingRun) {
  const mean = (xs: number[]) => r(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  return {
    requestMs: { p50: r(percentile(run.latencies, 50)), p95: r(percentile(run.latencies, 95)), max: r(Math.max(...run.latencies)) },
    firstTokenMs: { p50: r(percentile(run.firstTokenMs, 50)), p95: r(percentile(run.firstTokenMs, 95)) },
    meanPromptTokens: mean(run.promptTokens),
    meanReusedTokens: mean(run.reusedTokens),
    stoppedOnceSettled: run.settledEarly,
  };
}

const UTIL = 'def parse_row(line, sep=","):\n    """Split one CSV line into fields."""\n    return [f.strip() for f in line.split(sep)]\n\nLIMIT = 100\n';

/**
 * What the inline provider does after its debounce, for 50 keystrokes: (optionally) gather cross-file
 * context, stream, stop once trimming has decided, (optionally) run the syntax check.
 */
/**
 * `fixedTokens`: generate exactly that many tokens and do not stop at a settled suggestion, so the two
 * variants do the same decoding work and the difference is the cost of the context and the check alone
 * (with context the model writes different text, and the time to a settled suggestion changes with it).
 */
async function typingSequence(c: EngineClient, syntax: SyntaxChecker | null, fixedTokens?: number): Promise<TypingRun> {
  const text = 'from .util import parse_row, LIMIT\n' + sourceFile(99, 150);
  const at = text.lastIndexOf('def helper');
  const typed = 'def helper_99_extra(values, limit=3):\n    """Return the sum of the values."""\n    total = 0\n';
  const openFiles = [{ path: 'report.py', text: sourceFile(5, 80) }, { path: 'util.py', text: UTIL }];
  const run: TypingRun = { latencies: [], settledEarly: 0, syntaxMs: [], outcomes: {}, snippets: 0, promptTokens: [], reusedTokens: [], firstTokenMs: [] };
  for (let i = 1; i <= 50; i++) {
    // The user writes a new function above an existing one: the cursor's line has nothing after it.
    const doc = text.slice(0, at) + typed.slice(0, i + 40) + '\n\n' + text.slice(at);
    const offset = at + i + 40;
    const t0 = performance.now();
    const ctx = completionContext(doc, offset);
    let context: ContextSnippet[] | undefined;
    if (syntax) {
      const above = doc.slice(0, doc.lastIndexOf('\n', offset - 1) + 1);
      const definitions = importsOf(above, 'python').flatMap((ref) => ref.names.map((n) => ({ path: 'util.py', text: definitionOf(UTIL, n, 'python') ?? '' })));
      context = gatherContext({ above, definitions, recentEdits: [], openFiles });
      run.snippets = context.length;
    }
    const settled = new AbortController();
    const stream = c.complete({ prefix: ctx.prefix, suffix: ctx.suffix, languageId: 'python', filePath: 'bench.py', maxTokens: fixedTokens ?? 64, mode: 'chimera', context, ...(fixedTokens ? { stop: [] } : {}) }, settled.signal);
    // A request stopped once settled ends in AbortError and has no stats; those count as latency only.
    const statsDone = stream.result.then((res) => res.stats, () => null);
    const suggestion = fixedTokens ? trimCompletion(await readAll(stream), ctx.trim) : await collectSuggestion(stream, ctx.trim, () => settled.abort());
    if (syntax) {
      const verdict = await syntax.check({ languageId: 'python', prefix: ctx.prefix, suffix: ctx.suffix, suggestion });
      run.syntaxMs.push(verdict.ms);
      run.outcomes[verdict.outcome] = (run.outcomes[verdict.outcome] ?? 0) + 1;
      if (process.env.BENCH_SHOW_SYNTAX && verdict.outcome !== 'kept') process.stderr.write(`syntax check ${verdict.outcome}: ${JSON.stringify(suggestion)} -> ${JSON.stringify(verdict.text)}\n`);
    }
    run.latencies.push(performance.now() - t0);
    if (settled.signal.aborted) run.settledEarly++;
    const stats = await statsDone;
    if (stats) {
      run.promptTokens.push(stats.promptTokens);
      run.reusedTokens.push(stats.reusedTokens);
      run.firstTokenMs.push(stats.firstTokenMs);
    }
  }
  return run;
}

async function readAll(stream: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const delta of stream) text += delta;
  return text;
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

  // A typing sequence: 50 requests, one character more each time, as inline completion sends them;
  // without, then with cross-file context and the syntax check, then without again (drift check).
  const plain1 = await typingSequence(c, null);
  const full = await typingSequence(c, new SyntaxChecker(join(root, 'dist/tree-sitter')));
  const plain2 = await typingSequence(c, null);
  const fixedPlain = await typingSequence(c, null, 16);
  const fixedFull = await typingSequence(c, new SyntaxChecker(join(root, 'dist/tree-sitter')), 16);

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
      maxTokens: 64,
      withoutContextOrSyntaxCheck: summary(plain1),
      withContextAndSyntaxCheck: { ...summary(full), syntaxCheckMs: { p50: r(percentile(full.syntaxMs, 50)), p95: r(percentile(full.syntaxMs, 95)) }, syntaxOutcomes: full.outcomes, contextSnippets: full.snippets },
      withoutAgain: summary(plain2),
      sameWork16Tokens: { without: summary(fixedPlain), withContextAndSyntaxCheck: { ...summary(fixedFull), syntaxCheckMs: { p50: r(percentile(fixedFull.syntaxMs, 50)) } } },
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
