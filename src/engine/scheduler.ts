/**
 * Runs generations one step at a time across lanes, so a long chat reply never blocks inline
 * completions and a burst of completions never starves chat:
 * - each lane owns one decoding session and runs one job at a time;
 * - `latest-wins` lanes (inline completion) cancel their running and waiting job when a new one comes;
 * - `fifo` lanes (chat, edit) queue jobs in arrival order;
 * - lanes take turns by weight, one streamed piece per turn.
 * Inference blocks the thread, so the loop yields to the event loop between turns: cancellations and
 * new requests are read in between.
 */
import { AbortError, isAbortError } from '../core/errors';

export type LanePolicy = 'latest-wins' | 'fifo';

export interface Job<R> {
  /** Starts the generation; called when the job reaches the front of its lane. */
  start(signal: AbortSignal): AsyncGenerator<string, R>;
  onDelta(text: string): void;
  resolve(result: R): void;
  reject(err: unknown): void;
  /** The caller's cancellation. */
  signal?: AbortSignal;
}

interface Running<R> {
  job: Job<R>;
  controller: AbortController;
  generator: AsyncGenerator<string, R>;
}

class Lane {
  readonly waiting: Job<unknown>[] = [];
  running: Running<unknown> | null = null;
  credit = 0;

  constructor(
    readonly name: string,
    readonly policy: LanePolicy,
    readonly weight: number,
  ) {}
}

export class Scheduler {
  private readonly lanes = new Map<string, Lane>();
  private looping = false;

  addLane(name: string, policy: LanePolicy, weight = 1): void {
    this.lanes.set(name, new Lane(name, policy, weight));
  }

  get counts(): { running: number; waiting: number } {
    let running = 0;
    let waiting = 0;
    for (const lane of this.lanes.values()) {
      if (lane.running) running++;
      waiting += lane.waiting.length;
    }
    return { running, waiting };
  }

  submit<R>(laneName: string, job: Job<R>): void {
    const lane = this.lanes.get(laneName);
    if (!lane) throw new Error(`no scheduler lane ${laneName}`);
    if (lane.policy === 'latest-wins') {
      for (const old of lane.waiting.splice(0)) old.reject(new AbortError('superseded by a newer request'));
      lane.running?.controller.abort(new AbortError('superseded by a newer request'));
    }
    lane.waiting.push(job as Job<unknown>);
    job.signal?.addEventListener('abort', () => this.cancelWaiting(lane, job as Job<unknown>), { once: true });
    void this.loop();
  }

  /** Cancels everything (model reload, shutdown). */
  cancelAll(reason: string): void {
    for (const lane of this.lanes.values()) {
      for (const job of lane.waiting.splice(0)) job.reject(new AbortError(reason));
      lane.running?.controller.abort(new AbortError(reason));
    }
  }

  private cancelWaiting(lane: Lane, job: Job<unknown>): void {
    const i = lane.waiting.indexOf(job);
    if (i !== -1) {
      lane.waiting.splice(i, 1);
      job.reject(new AbortError());
    }
  }

  private async loop(): Promise<void> {
    if (this.looping) return;
    this.looping = true;
    try {
      for (;;) {
        const lane = this.pickLane();
        if (!lane) return;
        await this.turn(lane);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.looping = false;
    }
  }

  /** Weighted round robin over lanes that have work. */
  private pickLane(): Lane | undefined {
    const busy = [...this.lanes.values()].filter((l) => l.running || l.waiting.length > 0);
    if (busy.length === 0) return undefined;
    for (const lane of busy) lane.credit += lane.weight;
    const chosen = busy.reduce((a, b) => (b.credit > a.credit ? b : a));
    chosen.credit -= busy.reduce((sum, l) => sum + l.weight, 0);
    return chosen;
  }

  private async turn(lane: Lane): Promise<void> {
    if (!lane.running) {
      const job = lane.waiting.shift()!;
      const controller = new AbortController();
      if (job.signal?.aborted) controller.abort();
      job.signal?.addEventListener('abort', () => controller.abort(), { once: true });
      try {
        lane.running = { job, controller, generator: job.start(controller.signal) };
      } catch (err) {
        job.reject(err);
        return;
      }
    }
    const running = lane.running;
    try {
      const next = await running.generator.next();
      if (next.done) {
        lane.running = null;
        running.job.resolve(next.value);
      } else {
        running.job.onDelta(next.value);
      }
    } catch (err) {
      lane.running = null;
      running.job.reject(isAbortError(err) ? new AbortError(running.controller.signal.aborted ? abortReason(running.controller.signal) : String(err), (err as AbortError).partial) : err);
    }
  }
}

/** Why a running job was stopped: the reason given to cancelAll (a reload, a shutdown), else "cancelled". */
function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof AbortError ? reason.message : 'cancelled';
}
