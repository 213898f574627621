/** The engine's scheduler with scripted generations: latest wins, first come first served, fair turns. */
import * as assert from 'node:assert/strict';
import { Scheduler, type Job } from '../../src/engine/scheduler';


/** A job whose generation yields `pieces` deltas named `${name}${i}`, recording each turn in `log`. */
function job(name: string, pieces: number, log: string[], signal?: AbortSignal): Job<string> & { result: Promise<string> } {
  let resolve!: (v: string) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  result.catch(() => undefined);
  return {
    signal,
    result,
    async *start(abort: AbortSignal) {
      for (let i = 0; i < pieces; i++) {
        if (abort.aborted) {
          const err = new Error('aborted');
          err.name = 'AbortError';
          throw err;
        }
        yield `${name}${i}`;
      }
      return `${name}:done`;
    },
    onDelta: (text) => log.push(text),
    resolve,
    reject,
  };
}

function lanes(): Scheduler {
  const s = new Scheduler();
  s.addLane('complete', 'latest-wins', 2);
  s.addLane('chat', 'fifo', 1);
  return s;
}

describe('engine scheduler', () => {
  it('a newer completion cancels the running and the waiting one (latest wins)', async () => {
    const s = lanes();
    const log: string[] = [];
    const a = job('a', 50, log);
    const b = job('b', 50, log);
    const c = job('c', 3, log);
    s.submit('complete', a);
    s.submit('complete', b);
    s.submit('complete', c);
    assert.equal(await c.result, 'c:done');
    await assert.rejects(a.result, (e: Error) => e.name === 'AbortError');
    await assert.rejects(b.result, /superseded/);
    assert.ok(!log.some((l) => l.startsWith('b')), 'the superseded waiting job never ran');
    assert.deepEqual(s.counts, { running: 0, waiting: 0 });
  });

  it('chat requests run in arrival order, one at a time', async () => {
    const s = lanes();
    const log: string[] = [];
    const jobs = ['x', 'y', 'z'].map((n) => job(n, 3, log));
    for (const j of jobs) s.submit('chat', j);
    await Promise.all(jobs.map((j) => j.result));
    assert.deepEqual(log, ['x0', 'x1', 'x2', 'y0', 'y1', 'y2', 'z0', 'z1', 'z2']);
  });

  it('interleaves lanes by weight, so neither starves', async () => {
    const s = lanes();
    const log: string[] = [];
    const chat = job('c', 6, log);
    const complete = job('i', 6, log);
    s.submit('chat', chat);
    s.submit('complete', complete);
    await Promise.all([chat.result, complete.result]);
    const firstChatDone = log.indexOf('c5');
    const firstInlineDone = log.indexOf('i5');
    assert.ok(firstInlineDone < firstChatDone, 'completions get more turns');
    assert.ok(log.indexOf('c1') < firstInlineDone, `chat progressed while completions ran: ${log.join(' ')}`);
  });

  it("cancels a waiting job when its caller's signal fires, without running it", async () => {
    const s = lanes();
    const log: string[] = [];
    const first = job('f', 5, log);
    const controller = new AbortController();
    const second = job('s', 5, log, controller.signal);
    s.submit('chat', first);
    s.submit('chat', second);
    controller.abort();
    await assert.rejects(second.result, (e: Error) => e.name === 'AbortError');
    assert.equal(await first.result, 'f:done');
    assert.ok(!log.some((l) => l.startsWith('s')));
  });

  it('cancelAll stops everything (model reload, shutdown)', async () => {
    const s = lanes();
    const log: string[] = [];
    const running = job('r', 1000, log);
    const waiting = job('w', 5, log);
    s.submit('chat', running);
    s.submit('chat', waiting);
    s.cancelAll('reloading');
    await assert.rejects(running.result);
    await assert.rejects(waiting.result, /reloading/);
  });
});

