/**
 * Turns accepted tokens into streamed text and decides when generation ends: a stop token, a stop
 * string (never shown, not even its first characters while it might still be forming), or the token
 * limit.
 */
import { StreamingDecoder, type TextTokenizer } from './tokenizer';

export type FinishReason = 'stop' | 'length';

export class Emitter {
  readonly tokens: number[] = [];
  finish: FinishReason | null = null;
  private readonly decoder: StreamingDecoder;
  private readonly stopIds: Set<number>;
  /** Decoded text (already cut at a stop string), of which the first `shown` characters were emitted. */
  private text = '';
  private shown = 0;
  private cutByString = false;

  /** `hidden`: characters at the start of the answer that are never shown (text token healing re-spelled). */
  constructor(
    tokenizer: Pick<TextTokenizer, 'decode'>,
    stopTokenIds: readonly number[],
    private readonly stopStrings: readonly string[],
    private readonly maxTokens: number,
    private readonly hidden = 0,
  ) {
    this.decoder = new StreamingDecoder(tokenizer);
    this.stopIds = new Set(stopTokenIds);
    this.shown = hidden;
    if (maxTokens <= 0) this.finish = 'length';
  }

  /** The whole answer so far, hidden start included (what token healing compares against). */
  get rawText(): string {
    return this.text;
  }

  get done(): boolean {
    return this.finish !== null;
  }

  get fullText(): string {
    return this.text.slice(this.hidden);
  }

  /** Feeds tokens in order until one ends the generation; returns the text that may be shown now. */
  push(tokens: readonly number[]): string {
    for (const token of tokens) {
      if (this.finish !== null) break;
      if (this.stopIds.has(token)) {
        this.finish = 'stop';
        break;
      }
      this.tokens.push(token);
      this.text += this.decoder.push([token]);
      if (this.cutAtStopString()) this.finish = 'stop';
      else if (this.tokens.length >= this.maxTokens) this.finish = 'length';
    }
    if (this.finish !== null) return this.flush();
    const safe = this.text.length - this.heldBack();
    const delta = this.text.slice(this.shown, Math.max(this.shown, safe));
    this.shown = Math.max(this.shown, safe);
    return delta;
  }

  /** Everything not shown yet, at the end of a generation (finished or cancelled). */
  flush(): string {
    if (!this.cutByString) {
      this.text += this.decoder.flush();
      this.cutAtStopString();
    }
    const rest = this.text.slice(this.shown);
    this.shown = Math.max(this.shown, this.text.length);
    return rest;
  }

  private cutAtStopString(): boolean {
    let cut = -1;
    for (const s of this.stopStrings) {
      if (s.length === 0) continue;
      const at = this.text.indexOf(s, Math.max(0, this.shown - s.length));
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut === -1) return false;
    this.text = this.text.slice(0, cut);
    this.cutByString = true;
    return true;
  }

  /** Length of the longest tail of the text that could still grow into a stop string. */
  private heldBack(): number {
    let hold = 0;
    for (const s of this.stopStrings) {
      for (let k = Math.min(s.length - 1, this.text.length); k > hold; k--) {
        if (this.text.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return hold;
  }
}
