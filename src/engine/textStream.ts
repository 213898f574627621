/**
 * A streamed generation as the client sees it: iterate it for text deltas in order, or await `result`
 * for the whole answer. An error (cancellation, engine crash) ends the iteration by throwing it.
 */
import type { GenerationResult, TextDelta } from '../protocol';

export class TextStream implements AsyncIterable<string> {
  private readonly buffered: string[] = [];
  private nextSeq = 0;
  private finished = false;
  private failure: unknown = null;
  private wake: (() => void) | null = null;
  result!: Promise<GenerationResult>;

  /** Deltas arrive as `$/progress` notifications; out-of-order or repeated ones are a protocol error. */
  push(delta: TextDelta): void {
    if (delta.seq !== this.nextSeq) {
      this.failure ??= new Error(`stream out of order: expected piece ${this.nextSeq}, got ${delta.seq}`);
    } else {
      this.nextSeq++;
      this.buffered.push(delta.text);
    }
    this.wake?.();
  }

  attach(run: Promise<GenerationResult>): void {
    this.result = run;
    run.then(
      () => {
        this.finished = true;
        this.wake?.();
      },
      (err: unknown) => {
        this.failure ??= err;
        this.finished = true;
        this.wake?.();
      },
    );
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      if (this.buffered.length > 0) {
        yield this.buffered.shift()!;
        continue;
      }
      if (this.failure !== null) throw this.failure;
      if (this.finished) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }
}
