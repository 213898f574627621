/**
 * How a speculative output compares with the autoregressive one, for `chimera bench`: identical, or where it
 * first differs and how close the reference's top two logits were there.
 */
import type { GenerationResult } from '../core/decoder';
import type { Manifest } from '../core/manifest';

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

/**
 * Quantized MatMulNBits (accuracy level 4) rounds its input activations to int8 per block. A last-bit
 * difference between a block and a single step (1e-6, from attention summing in another order) now and
 * then moves one activation across a rounding boundary, and the logits then move by up to about 0.1
 * (measured: 0.04-0.09 on the default model quantized to int8 past 600 cached positions, 0.06 on a
 * 0.5B-shaped random one). Where the top two are closer than this, either may win.
 */
export const QUANTIZED_NEAR_TIE = 0.15;

/** The margin below which a divergence is a near-tie for a package of this precision. */
export function nearTieMargin(manifest: Pick<Manifest, 'quantization'>): number {
  return manifest.quantization ? QUANTIZED_NEAR_TIE : NEAR_TIE;
}

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
