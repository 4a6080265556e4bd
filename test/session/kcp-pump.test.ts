import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Scheduler } from '../../src/clock/scheduler.js';
import { KcpPump } from '../../src/session/kcp-pump.js';

/** A hand-cranked scheduler: timers and deferred calls run only when the test says so. */
function manual() {
  let now = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  const deferred: (() => void)[] = [];
  const scheduler: Scheduler = {
    now: () => now,
    at(at, fn) {
      const t = { at, fn, live: true };
      timers.push(t);
      return { cancel: () => void (t.live = false) };
    },
    defer: (fn) => void deferred.push(fn),
  };
  return {
    scheduler,
    advance(to: number) {
      now = to;
      for (const t of timers.splice(0)) {
        if (t.live && t.at <= now) t.fn();
        else if (t.live) timers.push(t);
      }
    },
    runDeferred() {
      for (const fn of deferred.splice(0)) fn();
    },
    pendingDeferred: () => deferred.length,
  };
}

describe('KcpPump', () => {
  it('runs a due timer after the I/O of its turn (deferred), so waiting ACKs are read first', () => {
    const calls: string[] = [];
    let due = 10;
    const core = {
      flush: () => void calls.push('flush'),
      update: () => void calls.push('update'),
      check: (now: number) => (now >= due ? now + 1000 : due),
    };
    const s = manual();
    const pump = new KcpPump(core, s.scheduler, () => calls.push('turn'));
    pump.kick();
    s.runDeferred();
    assert.deepEqual(calls, ['turn', 'flush']);
    calls.length = 0;
    s.advance(10);
    assert.deepEqual(calls, [], 'the timer itself does no protocol work');
    assert.equal(s.pendingDeferred(), 1);
    s.runDeferred();
    assert.deepEqual(calls, ['update', 'turn', 'flush']);
    pump.stop();
  });

  it('flushes again next turn, not on a timer, while check() says more is due now', () => {
    let bursts = 3;
    const core = {
      flush: () => void bursts--,
      update: () => {},
      check: (now: number) => (bursts > 0 ? now : now + 60_000),
    };
    const s = manual();
    const pump = new KcpPump(core, s.scheduler, () => {});
    pump.kick();
    for (let i = 0; i < 3; i++) s.runDeferred();
    assert.equal(bursts, 0);
    assert.equal(s.pendingDeferred(), 0);
    pump.stop();
  });
});
