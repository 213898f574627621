/**
 * Token choice: greedy argmax, and seeded sampling with temperature / top-k / top-p whose draws are keyed
 * by output position (step.ts uses them for lossless sampled verification).
 */

export interface SamplingParams {
  /** 0 means greedy. */
  temperature: number;
  /** 0 or >= vocabulary size means no top-k cut. */
  topK: number;
  /** 1 means no nucleus cut. */
  topP: number;
}

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1 };

export function isGreedy(params: SamplingParams): boolean {
  return params.temperature <= 0;
}

/** A small, fast, seedable PRNG (mulberry32), so sampled runs are reproducible. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/**
 * Uniform draws keyed by output position: the draw for the n-th generated token depends only on the seed
 * and n. Sampling each token as inverse-CDF(p, draw) then gives the same text for the same seed whatever
 * the speculation did (which tokens were proposed, how many steps it took): every mode, every tree policy.
 */
export class PositionDraws {
  constructor(private readonly seed: number) {}

  at(position: number): number {
    // splitmix32-style mixing of (seed, position) into an independent-looking uniform in [0, 1)
    let h = (Math.imul(this.seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(position + 1, 0x85ebca6b)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
    return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
  }
}

export function argmax(logits: Float32Array, offset = 0, size = logits.length - offset): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < size; i++) {
    const v = logits[offset + i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/** The gap between the largest and second-largest logit: how close a greedy choice was to a tie. */
export function top2Margin(logits: Float32Array, offset = 0, size = logits.length - offset): number {
  let first = -Infinity;
  let second = -Infinity;
  for (let i = 0; i < size; i++) {
    const v = logits[offset + i]!;
    if (v > first) {
      second = first;
      first = v;
    } else if (v > second) second = v;
  }
  return first - second;
}

/** The sampling distribution for one row of logits: softmax(logits / T), then top-k and top-p cuts. */
export function distribution(logits: Float32Array, offset: number, size: number, params: SamplingParams): Float32Array {
  const p = new Float32Array(size);
  let max = -Infinity;
  for (let i = 0; i < size; i++) max = Math.max(max, logits[offset + i]!);
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const e = Math.exp((logits[offset + i]! - max) / params.temperature);
    p[i] = e;
    sum += e;
  }
  for (let i = 0; i < size; i++) p[i]! /= sum;
  const cutK = params.topK > 0 && params.topK < size;
  if (cutK || params.topP < 1) truncate(p, cutK ? params.topK : size, params.topP);
  return p;
}

function truncate(p: Float32Array, topK: number, topP: number): void {
  const order = Array.from(p.keys()).sort((a, b) => p[b]! - p[a]!);
  let cumulative = 0;
  let keep = 0;
  while (keep < topK && keep < order.length) {
    cumulative += p[order[keep]!]!;
    keep++;
    if (cumulative >= topP) break;
  }
  for (let i = keep; i < order.length; i++) p[order[i]!] = 0;
  normalise(p);
}

function normalise(p: Float32Array): void {
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += p[i]!;
  if (sum > 0) for (let i = 0; i < p.length; i++) p[i]! /= sum;
}

export function sample(p: Float32Array, rng: Rng): number {
  return sampleAt(p, rng.next());
}

/** The token whose cumulative probability interval holds `u` (inverse CDF). */
export function sampleAt(p: Float32Array, u: number): number {
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i]! <= 0) continue;
    cumulative += p[i]!;
    last = i;
    if (u < cumulative) return i;
  }
  return last; // rounding left u above the total: the last token with mass
}
