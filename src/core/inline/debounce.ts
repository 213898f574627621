/**
 * Adaptive pacing for inline requests. It waits for a pause in typing: about one and a half of the
 * user's recent keystroke intervals, within [base/2, 3 x base], plus a quarter of the engine's recent
 * latency, because when answers are slow a request made mid-burst is most likely wasted.
 */

export class AdaptiveDebounce {
  private lastKeystroke = 0;
  private intervals: number[] = [];
  private latencyEma = 0;

  constructor(private baseMs: number) {}

  setBase(ms: number): void {
    this.baseMs = ms;
  }

  /** Records a keystroke (a completion request) at time `now` and returns how long to wait before asking. */
  delayFor(now: number): number {
    if (this.lastKeystroke > 0) {
      const gap = now - this.lastKeystroke;
      if (gap < 2000) this.intervals = [...this.intervals.slice(-7), gap];
    }
    this.lastKeystroke = now;
    if (this.baseMs <= 0) return 0;
    const typical = this.intervals.length > 0 ? median(this.intervals) * 1.5 : this.baseMs;
    const paced = Math.min(this.baseMs * 3, Math.max(this.baseMs / 2, typical));
    return Math.round(paced + this.latencyEma / 4);
  }

  /** Records how long the engine took to answer. */
  recordLatency(ms: number): void {
    this.latencyEma = this.latencyEma === 0 ? ms : 0.7 * this.latencyEma + 0.3 * ms;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Resolves after `ms`, or early with false when `signal` aborts (the request was superseded). */
export function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
