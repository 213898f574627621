/**
 * How a speculative output compares with the autoregressive one, for `chimera bench`: identical, or where it
 * first differs and how close the reference's top two logits were there.
 */
import type { GenerationResult } from '../core/decoder';

export interface Divergence {
  prompt: number;
  token: number;
  /** The reference's top-2 logit margin at that token; null when it was not recorded. */
  top2Margin: number | null;
}

/**
 * A block and a single step sum in different orders, so their fp32 logits differ in the last bits; where
 * the top two logits are closer than this, either may win (the engine tier's losslessness tests excuse
 * exactly these). The report counts them apart from real divergences.
 */
export const NEAR_TIE = 1e-4;

/** Where `result` first leaves `reference` (the shorter one's end when one is a prefix of the other). */
export function divergence(prompt: number, reference: Pick<GenerationResult, 'tokens'>, result: Pick<GenerationResult, 'tokens'>, margins: readonly number[] | undefined): Divergence {
  const at = result.tokens.findIndex((t, i) => t !== reference.tokens[i]);
  const token = at === -1 ? Math.min(result.tokens.length, reference.tokens.length) : at;
  const margin = margins?.[token];
  return { prompt, token, top2Margin: margin === undefined ? null : Math.round(margin * 1e7) / 1e7 };
}

export function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
