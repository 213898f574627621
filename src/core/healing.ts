/**
 * Token healing at the cursor. A prompt that ends in the middle of what the tokenizer would encode as one
 * token (a run of indentation, half an identifier, an opening quote) makes the model continue from a
 * boundary it never saw in training: after "\n    " it adds a space of its own, because "    " + " def"
 * is how its vocabulary spells that indentation. Healing backs the prompt up by its last token and
 * constrains the first generated tokens to spell that text again, so the model chooses the token it would
 * have used; the re-spelled text is then not shown, since it is already in the document.
 *
 * The constraint depends only on what was generated before a position, so every decoding mode applies it
 * the same way and greedy output stays identical across modes (the loop verifies the constrained steps
 * one token at a time; healing is over after a token or two).
 */
import { argmax, distribution, isGreedy, sampleAt, type PositionDraws, type SamplingParams } from './sampling';
import type { TextTokenizer } from './tokenizer';

/** Candidates tried in order of logit before falling back to a scan of the whole vocabulary. */
const TOP_TRIES = 64;

export interface HealedPrompt {
  tokens: number[];
  /** Text removed from the prompt's end, which the answer starts with; '' when nothing was healed. */
  healed: string;
}

/** Backs a prompt that ends in user text up by its last token (special tokens and split characters never). */
export function healPrompt(tokens: readonly number[], tokenizer: Pick<TextTokenizer, 'decode' | 'isSpecial'>): HealedPrompt {
  const last = tokens[tokens.length - 1];
  if (tokens.length < 2 || last === undefined || tokenizer.isSpecial(last)) return { tokens: [...tokens], healed: '' };
  const text = tokenizer.decode([last]);
  if (text.length === 0 || text.includes('\uFFFD')) return { tokens: [...tokens], healed: '' };
  return { tokens: tokens.slice(0, -1), healed: text };
}

/** The part of the healed text still to be spelled once `produced` (the answer so far) is out. */
export function healingLeft(healed: string, produced: string): string {
  if (healed.length === 0) return '';
  return healed.startsWith(produced) ? healed.slice(produced.length) : '';
}

export class HealingConstraint {
  private readonly texts = new Map<number, string>();

  constructor(private readonly tokenizer: Pick<TextTokenizer, 'decode'>) {}

  /** Whether token `id` keeps the answer on the healed text: it spells the rest of it, or starts with all of it. */
  allows(id: number, left: string): boolean {
    const text = this.text(id);
    return text.length > 0 && (text.startsWith(left) || left.startsWith(text));
  }

  /** The best-scoring allowed token of a logits row. */
  argmax(logits: Float32Array, offset: number, vocab: number, left: string): number {
    const row = logits.slice(offset, offset + vocab);
    for (let tries = 0; tries < TOP_TRIES; tries++) {
      const best = argmax(row, 0, vocab);
      if (row[best] === -Infinity) break;
      if (this.allows(best, left)) return best;
      row[best] = -Infinity;
    }
    let best = -1;
    for (let id = 0; id < vocab; id++) if (row[id]! > -Infinity && (best === -1 || row[id]! > row[best]!) && this.allows(id, left)) best = id;
    if (best === -1) throw new Error(`no token of the vocabulary continues ${JSON.stringify(left)}`);
    return best;
  }

  /**
   * Zeroes the disallowed tokens of a distribution and renormalises it (sampling); null when top-k/top-p
   * left no allowed token, in which case the caller takes the best allowed one.
   */
  mask(p: Float32Array, left: string): Float32Array | null {
    let sum = 0;
    for (let id = 0; id < p.length; id++) {
      if (p[id]! > 0 && !this.allows(id, left)) p[id] = 0;
      sum += p[id]!;
    }
    if (sum === 0) return null;
    for (let id = 0; id < p.length; id++) p[id]! /= sum;
    return p;
  }

  /** The token at output `position` from a logits row, kept on the healed text (greedy or sampled). */
  choose(logits: Float32Array, offset: number, vocab: number, params: SamplingParams, draws: PositionDraws, position: number, left: string): number {
    if (isGreedy(params)) return this.argmax(logits, offset, vocab, left);
    const allowed = this.mask(distribution(logits, offset, vocab, params), left);
    return allowed ? sampleAt(allowed, draws.at(position)) : this.argmax(logits, offset, vocab, left);
  }

  private text(id: number): string {
    let t = this.texts.get(id);
    if (t === undefined) {
      t = this.tokenizer.decode([id]);
      this.texts.set(id, t);
    }
    return t;
  }
}
