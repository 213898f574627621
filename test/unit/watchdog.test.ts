/** Hang detection measures silence (engine/watchdog.ts), on a clock the test moves by hand. */
import * as assert from 'node:assert/strict';
import { Watchdog, type Clock } from '../../src/engine/watchdog';

class ManualClock implements Clock {
  time = 0;
  private timers: { at: number; callback: () => void }[] = [];
  now = () => this.time;
  setTimer = (callback: () => void, ms: number) => {
    const timer = { at: this.time + ms, callback };
    this.timers.push(timer);
    return timer;
  };
  clearTimer = (timer: unknown) => {
    this.timers = this.timers.filter((t) => t !== timer);
  };
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.callback();
    }
    this.time = end;
  }
}

describe('hang watchdog', () => {
  let clock: ManualClock;
  let hangs: number[];
  let dog: Watchdog;
  beforeEach(() => {
    clock = new ManualClock();
    hangs = [];
    dog = new Watchdog((ms) => hangs.push(ms), clock);
  });

  it('lets a request run as long as the engine keeps talking', () => {
    const done = dog.watch(1000);
    for (let i = 0; i < 50; i++) {
      clock.advance(900);
      dog.heard();
    }
    assert.deepEqual(hangs, [], '45 s of streaming is not a hang');
    done();
    clock.advance(10_000);
    assert.deepEqual(hangs, [], 'nothing is watched once the answer came');
  });

  it('does not count a request\'s wait in the queue while another request streams', () => {
    dog.watch(1000); // streaming
    dog.watch(1000); // queued behind it: silent itself, but the engine is not
    for (let i = 0; i < 10; i++) {
      clock.advance(500);
      dog.heard();
    }
    assert.deepEqual(hangs, []);
  });

  it('fires once when the engine falls silent, measured from the later of the request and the last message', () => {
    clock.advance(60_000); // an idle engine said nothing for a minute: not the new request's fault
    dog.watch(1000);
    clock.advance(999);
    assert.deepEqual(hangs, []);
    clock.advance(1);
    assert.deepEqual(hangs, [1000]);
    clock.advance(5000);
    assert.deepEqual(hangs, [1000], 'once');
  });

  it('a silent engine cannot hide behind newer requests', () => {
    dog.watch(1000);
    for (let i = 0; i < 4; i++) {
      clock.advance(400);
      dog.watch(1000); // typing sends new requests; the engine answers none
    }
    assert.deepEqual(hangs, [1000], 'the first request timed out on its own clock');
  });

  it('allows each request its own silence (a model load may be silent longer)', () => {
    dog.watch(1000);
    dog.watch(5000);
    clock.advance(1000);
    assert.deepEqual(hangs, [1000]);
  });
});
