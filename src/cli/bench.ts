/**
 * `chimera bench`: every mode on the same prompts in one process, after a warm-up, printing JSON.
 * Modes are interleaved prompt by prompt, so background load affects them alike, and the caches are
 * cleared before each run, so no mode profits from another's prefix.
 */
import { availableParallelism, cpus } from 'node:os';
import { CostModel, parseProfile, PROFILE_SIZES } from '../core/cost';
import { DecodingSession, type DecodingMode, type GenerationResult } from '../core/decoder';
import type { LoadedModel } from '../core/model';
import { defaultThreads } from '../core/session';
import { TemplateRegistry } from '../core/templates';
import { hasEngineSettings } from '../engine/launch';
import type { BenchArgs } from './args';
import { openModel, readArgFile } from './common';
import { divergence, nearTieMargin, sameTokens, type Divergence } from './divergence';

interface BenchPrompt {
  tokens: number[];
  stopIds?: number[];
  stopStrings?: string[];
  /** Text token healing took off a FIM prompt's end, as inline completion does (core/healing.ts). */
  healed?: string;
}

interface ModeTotals {
  runs: number;
  generatedTokens: number;
  decodedTokens: number;
  steps: number;
  drafted: number;
  accepted: number;
  acceptedFromDraft: number;
  acceptedFromLookup: number;
  draftCalls: number;
  treeNodes: number;
  decodeMs: number;
  totalMs: number;
  firstTokenMs: number;
  identicalToAutoregressive: number;
  /** Where an output left the autoregressive one: the prompt, the token, and the top-2 logit margin there. */
  divergences: Divergence[];
}


export async function loadBenchPrompts(path: string, model: LoadedModel, maxTokens: number): Promise<BenchPrompt[]> {
  const templates = new TemplateRegistry(model.manifest, model.tokenizer);
  const budget = model.context - maxTokens - 32;
  const lines = (await readArgFile(path, 'prompts file')).split('\n').filter((l) => l.trim().length > 0);
  if (lines.length === 0) throw new Error(`prompts file ${path} has no prompts`);
  return lines.map((line, i) => {
    let row: { prompt?: unknown; suffix?: unknown; task?: unknown; code?: unknown; instruction?: unknown; language?: unknown };
    try {
      row = JSON.parse(line) as typeof row;
    } catch {
      throw new Error(`${path}:${i + 1}: not valid JSON`);
    }
    if (row.task === 'edit') {
      if (typeof row.code !== 'string' || typeof row.instruction !== 'string') throw new Error(`${path}:${i + 1}: an edit needs "code" and "instruction" strings`);
      const p = templates.edit(row.code, typeof row.language === 'string' ? row.language : '', row.instruction, budget);
      return { tokens: p.tokens, stopIds: templates.stopTokenIds('chat'), stopStrings: p.stopStrings };
    }
    if (typeof row.prompt !== 'string') throw new Error(`${path}:${i + 1}: needs a "prompt" string`);
    if (typeof row.suffix === 'string') {
      const fim = templates.fim({ prefix: row.prompt, suffix: row.suffix }, budget);
      return { tokens: fim.tokens, stopIds: templates.stopTokenIds('fim'), healed: fim.healed };
    }
    return { tokens: model.tokenizer.encode(row.prompt) };
  });
}

async function runOnce(session: DecodingSession, prompt: BenchPrompt, mode: DecodingMode, maxTokens: number, recordMargins = false): Promise<GenerationResult> {
  await session.clear();
  const stream = session.generate({ prompt: prompt.tokens, maxTokens, mode, stopTokenIds: prompt.stopIds, stopStrings: prompt.stopStrings, healed: prompt.healed, recordMargins });
  for (;;) {
    const next = await stream.next();
    if (next.done) return next.value;
  }
}

function emptyTotals(): ModeTotals {
  return { runs: 0, generatedTokens: 0, decodedTokens: 0, steps: 0, drafted: 0, accepted: 0, acceptedFromDraft: 0, acceptedFromLookup: 0, draftCalls: 0, treeNodes: 0, decodeMs: 0, totalMs: 0, firstTokenMs: 0, identicalToAutoregressive: 0, divergences: [] };
}

function add(t: ModeTotals, r: GenerationResult, identical: boolean): void {
  t.runs += 1;
  t.generatedTokens += r.stats.generatedTokens;
  t.decodedTokens += Math.max(0, r.stats.generatedTokens - 1);
  t.steps += r.stats.steps;
  t.drafted += r.stats.drafted;
  t.accepted += r.stats.accepted;
  t.acceptedFromDraft += r.stats.acceptedFromDraft;
  t.acceptedFromLookup += r.stats.acceptedFromLookup;
  t.draftCalls += r.stats.draftCalls;
  t.treeNodes += r.stats.treeNodes;
  t.decodeMs += r.stats.decodeMs;
  t.totalMs += r.stats.totalMs;
  t.firstTokenMs += r.stats.firstTokenMs;
  if (identical) t.identicalToAutoregressive += 1;
}

function summarise(t: ModeTotals, baseline: ModeTotals | undefined, nearTie: number) {
  const tps = t.decodeMs > 0 ? (t.decodedTokens * 1000) / t.decodeMs : 0;
  const baseTps = baseline && baseline.decodeMs > 0 ? (baseline.decodedTokens * 1000) / baseline.decodeMs : 0;
  return {
    runs: t.runs,
    tokensPerSecond: round(tps),
    meanAcceptedLength: round(t.steps > 0 ? (t.accepted + t.steps) / t.steps : 0),
    acceptedDraftTokensPerStep: round(t.steps > 0 ? t.accepted / t.steps : 0),
    draftedTokensPerStep: round(t.steps > 0 ? t.drafted / t.steps : 0),
    acceptedFromDraftPerStep: round(t.steps > 0 ? t.acceptedFromDraft / t.steps : 0),
    acceptedFromLookupPerStep: round(t.steps > 0 ? t.acceptedFromLookup / t.steps : 0),
    draftCallsPerStep: round(t.steps > 0 ? t.draftCalls / t.steps : 0),
    meanTreeSize: round(t.steps > 0 ? t.treeNodes / t.steps : 0),
    msPerStep: round(t.steps > 0 ? t.decodeMs / t.steps : 0),
    generatedTokens: t.generatedTokens,
    totalMs: round(t.totalMs),
    decodeMs: round(t.decodeMs),
    meanFirstTokenMs: round(t.runs > 0 ? t.firstTokenMs / t.runs : 0),
    identicalToAutoregressive: baseline ? `${t.identicalToAutoregressive}/${t.runs}` : null,
    divergedAtNearTie: baseline ? t.divergences.filter((d) => d.top2Margin !== null && d.top2Margin < nearTie).length : null,
    divergences: baseline ? t.divergences : null,
    speedupVsAutoregressive: baseTps > 0 ? round(tps / baseTps) : null,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

export async function runBench(args: BenchArgs): Promise<void> {
  const model = await openModel(args.model, { device: args.device, maxContext: args.maxContext, draftOn: args.draftOn });
  const costs = args.costProfile ? new CostModel(parseProfile(await readArgFile(args.costProfile, 'cost profile'), args.costProfile), true) : undefined;
  const session = await DecodingSession.create(model, { tree: args.tree, costs });
  try {
    if (args.profile) {
      const profile = costReport(model);
      if (!args.prompts) {
        process.stdout.write(JSON.stringify(profile, null, 2) + '\n');
        return;
      }
      process.stderr.write(JSON.stringify(profile) + '\n');
    }
    const modes = args.modes.filter((m) => m !== 'chimera' || session.hasDraft);
    if (modes.length < args.modes.length) process.stderr.write(`chimera: warn: ${model.manifest.name} has no Chimera draft; skipping the chimera mode\n`);
    const prompts = await loadBenchPrompts(args.prompts, model, args.maxTokens);
    for (const mode of modes) await runOnce(session, prompts[0]!, mode, Math.min(16, args.maxTokens)); // warm-up
    const totals = new Map(modes.map((m) => [m, emptyTotals()]));
    for (const prompt of prompts) {
      for (let r = 0; r < args.repeat; r++) {
        let reference: GenerationResult | undefined;
        for (const mode of modes) {
          const result = await runOnce(session, prompt, mode, args.maxTokens);
          if (mode === 'autoregressive') reference = result;
          const identical = reference !== undefined && sameTokens(reference.tokens, result.tokens);
          add(totals.get(mode)!, result, identical);
          if (reference && !identical) {
            // Untimed: the reference again, with its top-2 margins, to tell a near-tie from a real divergence.
            const margins = (await runOnce(session, prompt, 'autoregressive', args.maxTokens, true)).margins;
            totals.get(mode)!.divergences.push(divergence(prompts.indexOf(prompt), reference, result, margins));
          }
        }
      }
    }
    const baseline = totals.get('autoregressive');
    const nearTie = nearTieMargin(model.manifest);
    const report = {
      model: model.manifest.name,
      device: model.device.kind,
      deviceReason: model.device.reason,
      draftDevice: model.draftDevice,
      /** False where the device computes trees wrongly and verification runs chains only (gpu/blockCheck.ts). */
      treesSound: model.treesSound,
      maxBlockRows: model.maxBlockRows,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: availableParallelism(),
      threads: defaultThreads(),
      /** Whether this ran under the engine's process settings (launch.ts), as the extension's engine does. */
      engineSettings: hasEngineSettings(),
      prompts: prompts.length,
      repeat: args.repeat,
      maxTokens: args.maxTokens,
      greedy: true,
      tree: args.tree,
      costModel: (costs ?? model.costs).table(),
      costProfile: args.costProfile ?? 'measured here',
      draftMsPerCall: round((costs ?? model.costs).draft),
      draftGainByLookupLevel: session.treePolicy.draftGains(),
      acceptance: session.treePolicy.stats.snapshot(),
      nearTieMargin: nearTie,
      modes: Object.fromEntries(modes.map((m) => [m, summarise(totals.get(m)!, m === 'autoregressive' ? undefined : baseline, nearTie)])),
    };
    process.stdout.write(JSON.stringify(report, null, args.json ? 2 : 2) + '\n');
  } finally {
    session.dispose();
    await model.dispose();
  }
}

/** The cost profile as measured at load (`--profile`), before any online correction. */
function costReport(model: LoadedModel) {
  const p = model.costs.profile;
  const one = p.targetMs[0]!;
  return {
    model: model.manifest.name,
    device: model.device.kind,
    draftDevice: model.draftDevice,
    threads: defaultThreads(),
    contextTokens: p.contextTokens,
    measuredAt: p.measuredAt,
    targetMs: Object.fromEntries(PROFILE_SIZES.map((t, i) => [t, round(p.targetMs[i]!)])),
    relativeToOne: Object.fromEntries(PROFILE_SIZES.map((t, i) => [t, round(p.targetMs[i]! / one)])),
    draftMsPerCall: p.draftMs !== undefined ? round(p.draftMs) : null,
    draftRelativeToTargetStep: p.draftMs !== undefined ? round(p.draftMs / one) : null,
  };
}
