/**
 * Prompt-lookup drafting: when the last few tokens already occurred earlier in the prompt or in the
 * text generated so far, propose the tokens that followed them then. Rewrites and repetitive code copy
 * long runs from their input, and these proposals cost nothing to make.
 */

export interface NgramOptions {
  /** Longest suffix to match first; shorter ones are tried after. */
  maxNgram: number;
  /** Shortest suffix worth matching (1-token matches are mostly noise). */
  minNgram: number;
  /** Longest proposal. */
  maxTokens: number;
}

export const DEFAULT_NGRAM: NgramOptions = { maxNgram: 4, minNgram: 2, maxTokens: 10 };

export interface Continuation {
  tokens: number[];
  /** How many trailing tokens matched (0 when nothing did): longer matches predict better. */
  matched: number;
}

/**
 * The continuation of the most recent earlier occurrence of the history's last n tokens, trying the
 * longest n first.
 */
export function findContinuation(history: ArrayLike<number>, options: NgramOptions = DEFAULT_NGRAM): Continuation {
  const len = history.length;
  for (let n = Math.min(options.maxNgram, len - 1); n >= options.minNgram; n--) {
    const start = len - n;
    for (let i = start - 1; i >= 0; i--) {
      if (!matchesAt(history, i, start, n)) continue;
      const from = i + n;
      const to = Math.min(len, from + options.maxTokens);
      const out: number[] = [];
      for (let j = from; j < to; j++) out.push(history[j]!);
      if (out.length > 0) return { tokens: out, matched: n };
    }
  }
  return { tokens: [], matched: 0 };
}

/** The tokens of findContinuation; [] when nothing matches. */
export function lookupContinuation(history: ArrayLike<number>, options: NgramOptions = DEFAULT_NGRAM): number[] {
  return findContinuation(history, options).tokens;
}

function matchesAt(history: ArrayLike<number>, i: number, start: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (history[i + k] !== history[start + k]) return false;
  return true;
}
