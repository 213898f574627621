/** Statistics of one generation: begin → draft → verify → accept, counted and timed. */
import type { DecodingMode } from './decoder';

export interface GenerationStats {
  mode: DecodingMode;
  promptTokens: number;
  /** Prompt tokens whose cache rows were reused from the previous request. */
  reusedTokens: number;
  truncatedPrompt: boolean;
  generatedTokens: number;
  /** Target forward passes after the prefill (each verifies one tree). */
  steps: number;
  /** Draft and prompt-lookup tokens put up for verification. */
  drafted: number;
  /** Of those, tokens the target confirmed. */
  accepted: number;
  /** Accepted tokens proposed by the Chimera draft, and by prompt lookup. */
  acceptedFromDraft: number;
  acceptedFromLookup: number;
  /** Steps that ran the draft (the tree policy skips it where it does not pay). */
  draftCalls: number;
  /** Tree nodes verified, root included, over all steps (mean tree size = treeNodes / steps). */
  treeNodes: number;
  /** Tokens produced per target pass: accepted drafts plus the target's own next token (EAGLE's tau). */
  meanAcceptedLength: number;
  prefillMs: number;
  firstTokenMs: number;
  decodeMs: number;
  totalMs: number;
  /** Generated tokens per second of decoding (prefill excluded), the figure the modes are compared on. */
  decodeTokensPerSecond: number;
  /** Generated tokens per second overall, prefill included. */
  tokensPerSecond: number;
  cancelled: boolean;
  startedAt: number;
}

export function newStats(mode: DecodingMode): GenerationStats {
  return {
    mode, promptTokens: 0, reusedTokens: 0, truncatedPrompt: false, generatedTokens: 0, steps: 0, drafted: 0, accepted: 0,
    acceptedFromDraft: 0, acceptedFromLookup: 0, draftCalls: 0, treeNodes: 0,
    meanAcceptedLength: 0, prefillMs: 0, firstTokenMs: 0, decodeMs: 0, totalMs: 0, decodeTokensPerSecond: 0, tokensPerSecond: 0,
    cancelled: false, startedAt: performance.now(),
  };
}

export function finishStats(stats: GenerationStats): GenerationStats {
  stats.totalMs = performance.now() - stats.startedAt;
  stats.meanAcceptedLength = stats.steps > 0 ? (stats.accepted + stats.steps) / stats.steps : 0;
  // the first token comes from the prefill, so decoding produced the rest
  const decoded = Math.max(0, stats.generatedTokens - 1);
  stats.decodeTokensPerSecond = stats.decodeMs > 0 ? (decoded * 1000) / stats.decodeMs : 0;
  stats.tokensPerSecond = stats.totalMs > 0 ? (stats.generatedTokens * 1000) / stats.totalMs : 0;
  return stats;
}
