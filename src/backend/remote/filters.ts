/**
 * Text filters between a server's stream and the editor: stop strings checked on the client, and the
 * code of a chat model's fenced answer for Refactor. Each holds back what may still turn out to belong
 * to a marker, so nothing is shown that is later taken back.
 */

export interface TextFilter {
  /** Text to show now, from `text` and what was held back. */
  push(text: string): string;
  /** What was held back, at the end of the stream. */
  end(): string;
}

/** Cuts the text at the first stop string; `stopped` says the answer is over (the rest is discarded). */
export class StopCutter implements TextFilter {
  private held = '';
  stopped = false;

  constructor(private readonly stops: readonly string[]) {}

  push(text: string): string {
    if (this.stopped) return '';
    const all = this.held + text;
    const at = firstStop(all, this.stops);
    if (at !== -1) {
      this.stopped = true;
      this.held = '';
      return all.slice(0, at);
    }
    const keep = partialStopLength(all, this.stops);
    this.held = all.slice(all.length - keep);
    return all.slice(0, all.length - keep);
  }

  end(): string {
    const rest = this.stopped ? '' : this.held;
    this.held = '';
    return rest;
  }
}

function firstStop(text: string, stops: readonly string[]): number {
  let first = -1;
  for (const stop of stops) {
    const at = stop === '' ? -1 : text.indexOf(stop);
    if (at !== -1 && (first === -1 || at < first)) first = at;
  }
  return first;
}

/** The longest end of `text` that is the start of a stop string (it may still complete one). */
function partialStopLength(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

const OPENING_FENCE = /(?:^|\n)[ \t]*```[^\n]*\n/;
const CLOSING_FENCE = '\n```';

/**
 * The code inside a chat model's answer to a rewrite: what follows the first opening fence, up to its
 * closing fence. Words before the fence ("Here is the code:") are dropped. An answer that never opens a
 * fence is taken whole at the end: the model answered with bare code.
 */
export class FencedCode implements TextFilter {
  private state: 'before' | 'code' | 'after' = 'before';
  private buffer = '';
  /** Whether any code has been taken yet: only an empty rewrite closes its fence without a newline first. */
  private started = false;

  push(text: string): string {
    this.buffer += text;
    if (this.state === 'before') {
      const open = OPENING_FENCE.exec(this.buffer);
      if (!open) return '';
      this.buffer = this.buffer.slice(open.index + open[0].length);
      this.state = 'code';
    }
    return this.state === 'code' ? this.takeCode() : '';
  }

  end(): string {
    const rest = this.state === 'before' ? this.buffer.trim() : this.state === 'code' ? this.buffer : '';
    this.buffer = '';
    this.state = 'after';
    return rest;
  }

  private takeCode(): string {
    if (!this.started && '```'.startsWith(this.buffer)) return ''; // maybe the fence of an empty rewrite
    const close = !this.started && this.buffer.startsWith('```') ? 0 : this.buffer.indexOf(CLOSING_FENCE);
    if (close !== -1) {
      const code = this.buffer.slice(0, close);
      this.buffer = '';
      this.state = 'after';
      return code;
    }
    const keep = partialStopLength(this.buffer, [CLOSING_FENCE]);
    const code = this.buffer.slice(0, this.buffer.length - keep);
    this.buffer = this.buffer.slice(this.buffer.length - keep);
    if (code !== '') this.started = true;
    return code;
  }
}
