/**
 * Hang detection for the engine client. A hang is silence, not length: a healthy engine streaming a
 * long reply, or working through a queue, keeps talking (every `$/progress` and every answer counts),
 * so a request is hung only when the engine has said nothing for `limit` ms since the later of the
 * request being sent and the engine's last message. A request queued behind a long reply is therefore
 * never killed for waiting, while a request sent to a silent engine still times out on its own clock,
 * however many newer requests follow it.
 */

export interface Clock {
  now(): number;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

interface Watched {
  sent: number;
  limit: number;
}

export class Watchdog {
  private lastHeard = -Infinity;
  private readonly watched = new Set<Watched>();
  private timer: unknown = null;

  constructor(
    /** Called once per hang, with the silence that was allowed. */
    private readonly onHang: (limitMs: number) => void,
    private readonly clock: Clock = realClock,
  ) {}

  /** The engine said something. Cheap: it only moves a timestamp; the timer re-checks when it fires. */
  heard(): void {
    this.lastHeard = this.clock.now();
  }

  /** Watches one request until the returned function is called. */
  watch(limitMs: number): () => void {
    const entry: Watched = { sent: this.clock.now(), limit: limitMs };
    this.watched.add(entry);
    this.schedule();
    return () => {
      this.watched.delete(entry);
      if (this.watched.size === 0) this.cancel();
    };
  }

  /** Stops watching everything (the engine is gone). */
  reset(): void {
    this.watched.clear();
    this.cancel();
  }

  private deadline(entry: Watched): number {
    return Math.max(entry.sent, this.lastHeard) + entry.limit;
  }

  private schedule(): void {
    if (this.watched.size === 0) return;
    let next = Infinity;
    for (const e of this.watched) next = Math.min(next, this.deadline(e));
    this.cancel();
    this.timer = this.clock.setTimer(() => this.check(), Math.max(0, next - this.clock.now()));
  }

  private check(): void {
    this.timer = null;
    const now = this.clock.now();
    const hung = [...this.watched].find((e) => now >= this.deadline(e));
    if (hung) {
      this.reset();
      this.onHang(hung.limit);
      return;
    }
    this.schedule();
  }

  private cancel(): void {
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
  }
}
