/**
 * The direct path's attempt lifecycle (src/direct/attempt-machine.ts) on a
 * fake clock: the machine gets events and `now`, and the test plays the I/O
 * shell — it does what drain() says and wakes the machine at nextDeadline().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttemptMachine, DIRECT_TIMERS, type AttemptAction } from '../../src/direct/index.js';

/** A machine plus a fake clock that fires its deadlines, recording every action with its time. */
class Driver {
  now = 0;
  readonly log: { at: number; a: AttemptAction }[] = [];
  constructor(readonly m: AttemptMachine) {}

  collect(): AttemptAction[] {
    const out = this.m.drain();
    for (const a of out) this.log.push({ at: this.now, a });
    return out;
  }

  /** Advances to `until`, ticking at each deadline on the way; returns the actions produced. */
  runTo(until: number): AttemptAction[] {
    const out: AttemptAction[] = [...this.collect()];
    for (let i = 0; i < 1000; i++) {
      const d = this.m.nextDeadline();
      if (d === null || d > until) break;
      this.now = Math.max(this.now, d);
      this.m.tick(this.now);
      out.push(...this.collect());
    }
    this.now = until;
    return out;
  }

  gathers(): { at: number; attempt: number }[] {
    return this.log.flatMap((e) => (e.a.type === 'gather' ? [{ at: e.at, attempt: e.a.attempt }] : []));
  }

  /** Attempt `n` gets its offer out and the punch starts. */
  punch(n: number): void {
    this.m.offered(n, true, this.now);
    this.m.punchStarted(n);
    this.collect();
  }

  fail(n: number, hopeless = false): void {
    this.m.punchFailed(n, 'no answer', hopeless, this.now);
    this.collect();
  }
}

function initiator(opts: { startDelayMs?: number; keepaliveMs?: number } = {}): Driver {
  return new Driver(new AttemptMachine({ role: 'initiator', ...opts }));
}

test('the timer table holds the values the direct path was designed with', () => {
  assert.deepEqual([...DIRECT_TIMERS.retryScheduleMs], [500, 2000, 10_000, 30_000, 60_000, 300_000]);
  assert.equal(DIRECT_TIMERS.hopelessRetryMs, 600_000);
  assert.equal(DIRECT_TIMERS.relayLostGiveUpMs, 20_000);
  assert.equal(DIRECT_TIMERS.keepaliveInitialMs, 15_000);
  assert.equal(DIRECT_TIMERS.keepaliveFloorMs, 1000);
  assert.equal(DIRECT_TIMERS.suspectAfterMs + DIRECT_TIMERS.deadAfterMs, 4500);
  assert.equal(DIRECT_TIMERS.lanGraceMs, 150);
  assert.equal(DIRECT_TIMERS.punchTimeoutMs, 3000);
});

test('failed attempts are retried with fresh sockets after 0.5, 2, 10, 30, 60 s, then every 5 min', () => {
  const d = initiator();
  d.m.start(d.now);
  const expectedGaps = [500, 2000, 10_000, 30_000, 60_000, 300_000, 300_000, 300_000];
  let n = 0;
  assert.deepEqual(d.collect(), [{ type: 'gather', attempt: 0 }]);
  assert.equal(d.m.phase, 'gathering');
  for (const gap of expectedGaps) {
    d.punch(n);
    assert.equal(d.m.phase, 'punching');
    d.now += 3000; // the punch times out
    d.fail(n);
    assert.equal(d.m.phase, 'waiting-retry');
    assert.equal(d.m.nextDeadline(), d.now + gap);
    // Nothing happens a millisecond early; the next attempt starts on time.
    assert.deepEqual(d.runTo(d.now + gap - 1).filter((a) => a.type === 'gather'), []);
    const next = d.runTo(d.now + 1).filter((a) => a.type === 'gather');
    n++;
    assert.deepEqual(next, [{ type: 'gather', attempt: n }]);
  }
  assert.equal(d.m.failedAttempts, expectedGaps.length);
  assert.match(d.m.status, /looking for a direct path/);
});

test('a hopeless pair (NATs that cannot be punched) waits 10 min, and a success resets the schedule', () => {
  const d = initiator();
  d.m.start(d.now);
  d.collect();
  d.m.offered(0, true, d.now);
  d.fail(0, true);
  assert.equal(d.m.phase, 'hopeless-wait');
  assert.equal(d.m.nextDeadline(), d.now + 600_000);
  assert.match(d.m.status, /^no direct path: no answer$/);
  assert.deepEqual(d.runTo(599_999).filter((a) => a.type === 'gather'), []);
  assert.deepEqual(d.runTo(600_000).filter((a) => a.type === 'gather'), [{ type: 'gather', attempt: 1 }]);
  // This time it locks; the failure count starts over.
  d.punch(1);
  assert.deepEqual(d.m.punchLocked(1), { previousDied: false });
  assert.equal(d.m.phase, 'locked');
  assert.equal(d.m.failedAttempts, 0);
  assert.equal(d.m.nextDeadline(), null);
});

test('an offer the control channel could not carry is retried after the first step', () => {
  const d = initiator();
  d.m.start(d.now);
  d.collect();
  d.m.offered(0, false, d.now);
  const arm = d.collect();
  assert.deepEqual(arm, [{ type: 'arm', timer: 'retry', at: 500, reason: 'the control channel is down' }]);
  assert.deepEqual(d.runTo(500).filter((a) => a.type === 'gather'), [{ type: 'gather', attempt: 1 }]);
});

test('the responder never retries or re-punches on its own: it answers punch-requests, newest only', () => {
  const d = new Driver(new AttemptMachine({ role: 'responder' }));
  d.m.punchRequest(3);
  assert.deepEqual(d.collect(), [{ type: 'gather', attempt: 3 }]);
  d.m.punchRequest(2); // stale
  d.m.punchRequest(3); // duplicate
  assert.deepEqual(d.collect(), []);
  d.punch(3);
  d.fail(3);
  assert.equal(d.m.nextDeadline(), null);
  d.m.punchRequest(4);
  assert.deepEqual(d.collect(), [{ type: 'gather', attempt: 4 }]);
  d.punch(4);
  d.m.punchLocked(4);
  d.m.pathDied(null, d.now);
  assert.deepEqual(d.collect(), [{ type: 'fall-back', reason: 'no answer on the direct path (NAT mapping changed or the peer went away)' }]);
});

test('a responder whose control connection came back speaks first: an attempt of its own, at once or when its locked path dies', () => {
  // No path: it gathers at once (its offer carries the ticket that rejoins it at the rendezvous).
  const away = new Driver(new AttemptMachine({ role: 'responder' }));
  away.m.punchRequest(2);
  away.punch(2);
  away.fail(2);
  away.m.controlReconnected();
  assert.deepEqual(away.collect(), [{ type: 'gather', attempt: 3 }]);
  assert.equal(away.m.nextDeadline(), null, 'and still no retries of its own');

  // On a locked path: nothing now; when the path dies, it gathers instead of waiting for a request that cannot reach it.
  const locked = new Driver(new AttemptMachine({ role: 'responder' }));
  locked.m.punchRequest(0);
  locked.punch(0);
  locked.m.punchLocked(0);
  locked.m.controlReconnected();
  assert.deepEqual(locked.collect(), []);
  locked.m.pathDied(null, locked.now);
  assert.deepEqual(locked.collect(), [
    { type: 'fall-back', reason: 'no answer on the direct path (NAT mapping changed or the peer went away)' },
    { type: 'gather', attempt: 1 },
  ]);
  // Once: a later death (after a new lock) waits for the visitor again.
  locked.punch(1);
  locked.m.punchLocked(1);
  locked.m.pathDied(null, locked.now);
  assert.deepEqual(locked.collect().map((a) => a.type), ['fall-back']);

  // The initiator drives its own attempts: a reconnect changes nothing for it.
  const visitor = initiator();
  visitor.m.controlReconnected();
  assert.deepEqual(visitor.collect(), []);
});

test('the first attempt waits for the start delay; a punch-request before it still starts at once', () => {
  const d = initiator({ startDelayMs: 5000 });
  d.m.start(0);
  assert.deepEqual(d.collect(), [{ type: 'arm', timer: 'start-delay', at: 5000 }]);
  assert.equal(d.m.phase, 'waiting-start');
  assert.deepEqual(d.runTo(5000).filter((a) => a.type === 'gather'), [{ type: 'gather', attempt: 0 }]);
});

test('relay lost without a direct path: punch at once, give up 20 s later', () => {
  const d = initiator();
  d.m.start(d.now);
  d.punch(0);
  d.now = 1000;
  d.fail(0);
  assert.equal(d.m.phase, 'waiting-retry');
  d.now = 1100;
  assert.equal(d.m.relayLost(d.now), 'waiting');
  // The back-off is cut short: attempt 1 starts now, and the give-up is armed.
  assert.deepEqual(d.collect(), [
    { type: 'cancel', timer: 'retry' },
    { type: 'gather', attempt: 1 },
    { type: 'arm', timer: 'relay-lost-give-up', at: 21_100 },
  ]);
  d.punch(1);
  d.now = 4100;
  d.fail(1);
  const until = d.runTo(21_100);
  const giveUps = until.filter((a) => a.type === 'give-up');
  assert.deepEqual(giveUps, [{ type: 'give-up', reason: 'no path to the peer for 20 s (relay closed, no direct path)' }]);
  assert.equal(d.log.find((e) => e.a.type === 'give-up')?.at, 21_100);
  assert.equal(d.m.phase, 'gave-up');
});

test('relay lost, then a lock in time: no give-up, and the lock resends what was in flight', () => {
  const d = initiator();
  d.m.start(0);
  d.punch(0);
  d.m.relayLost(100);
  d.collect();
  d.now = 19_000;
  assert.deepEqual(d.m.punchLocked(0), { previousDied: true });
  assert.deepEqual(d.collect(), [{ type: 'cancel', timer: 'relay-lost-give-up' }]);
  assert.deepEqual(d.runTo(60_000).filter((a) => a.type === 'give-up'), []);
});

test('the relay closed while direct, then the path dies: the session has no path at all, so the 20 s give-up is armed', () => {
  const d = initiator();
  d.m.start(0);
  d.punch(0);
  d.m.punchLocked(0);
  d.m.relayLost(10);
  d.collect();
  d.now = 30_000;
  d.m.pathDied(null, d.now);
  assert.deepEqual(d.collect(), [
    { type: 'fall-back', reason: 'no answer on the direct path (NAT mapping changed or the peer went away)' },
    { type: 'arm', timer: 'relay-lost-give-up', at: 50_000 },
    { type: 'gather', attempt: 1 },
  ]);
  d.punch(1);
  d.now = 33_000;
  d.fail(1);
  const giveUps = d.runTo(50_000).filter((a) => a.type === 'give-up');
  assert.equal(giveUps.length, 1);
});

test('relay lost while on the direct path changes nothing', () => {
  const d = initiator();
  d.m.start(0);
  d.punch(0);
  d.m.punchLocked(0);
  d.collect();
  assert.equal(d.m.relayLost(10), 'direct');
  assert.deepEqual(d.collect(), []);
  assert.equal(d.m.nextDeadline(), null);
});

test('the path dies during a punch of the next attempt: a late result of the old attempt is ignored', () => {
  const d = initiator();
  d.m.start(0);
  d.punch(0);
  d.m.punchLocked(0);
  d.m.pathDied(null, 100);
  assert.deepEqual(d.collect().map((a) => a.type), ['fall-back', 'gather']);
  // Attempt 1 punches; the lost path dies again meanwhile (a stale report): nothing happens.
  d.punch(1);
  d.m.pathDied(null, 200);
  assert.deepEqual(d.collect(), []);
  // Attempt 0's runner reports late: superseded.
  assert.equal(d.m.punchFailed(0, 'late', false, 300), false);
  assert.equal(d.m.punchLocked(0), null);
  assert.equal(d.m.phase, 'punching');
  // A relay loss during the punch does not start another attempt on top of it.
  d.m.relayLost(400);
  assert.deepEqual(d.collect(), [{ type: 'arm', timer: 'relay-lost-give-up', at: 20_400 }]);
  assert.deepEqual(d.m.punchLocked(1), { previousDied: true });
});

test('the path dies after lock: fall back to the relay and re-punch at once with fresh sockets', () => {
  const d = initiator();
  d.m.start(0);
  d.punch(0);
  assert.deepEqual(d.m.punchLocked(0), { previousDied: false });
  d.now = 50_000;
  d.m.pathDied(200, d.now);
  const acts = d.collect();
  assert.deepEqual(acts, [
    { type: 'fall-back', reason: 'no answer on the direct path (NAT mapping changed or the peer went away)' },
    { type: 'gather', attempt: 1 },
  ]);
  assert.equal(d.m.status, 'looking for a direct path');
  d.punch(1);
  // What was in flight died with the old path: the new lock resends it.
  assert.deepEqual(d.m.punchLocked(1), { previousDied: true });
  assert.equal(d.m.status, 'direct path up');
});

test('keepalive adapts: a path that dies after idling halves the interval toward the idle time, never below 1 s', () => {
  const d = initiator();
  d.m.start(0);
  const idleDeaths = [
    { idle: 40_000, to: 7500 }, // half the interval (15 s → 7.5 s), the idle time was longer
    { idle: 6000, to: 3000 }, // half the idle time
    { idle: 500, to: null }, // busy, not idle: says nothing about mapping lifetimes
    { idle: 2500, to: 1250 },
    { idle: 1200, to: 1000 }, // floor
    { idle: 1500, to: null }, // already at the floor
  ];
  let n = 0;
  for (const { idle, to } of idleDeaths) {
    const from = d.m.keepaliveMs;
    d.punch(n);
    d.m.punchLocked(n);
    d.m.pathDied(idle, d.now);
    const acts = d.collect();
    const ka = acts.filter((a) => a.type === 'keepalive');
    if (to === null) {
      assert.deepEqual(ka, []);
      assert.equal(d.m.keepaliveMs, from);
    } else {
      assert.deepEqual(ka, [{ type: 'keepalive', fromMs: from, toMs: to, idleBeforeLossMs: idle }]);
      assert.equal(d.m.keepaliveMs, to);
    }
    n++;
  }
  assert.equal(d.m.keepaliveMs, DIRECT_TIMERS.keepaliveFloorMs);
});

test('a failed socket on the locked path falls back and re-punches without touching the keepalive', () => {
  const d = initiator();
  d.m.start(0);
  d.punch(0);
  d.m.punchLocked(0);
  d.m.pathFailed('socket gone', 10);
  assert.deepEqual(d.collect(), [{ type: 'fall-back', reason: 'socket gone' }, { type: 'gather', attempt: 1 }]);
  assert.equal(d.m.keepaliveMs, 15_000);
});

test('close stops everything: no actions, no deadlines, later events ignored', () => {
  const d = initiator();
  d.m.start(0);
  d.punch(0);
  d.fail(0);
  d.m.relayLost(10);
  d.m.close();
  assert.deepEqual(d.m.drain(), []);
  assert.equal(d.m.nextDeadline(), null);
  d.m.start(20);
  d.m.punchRequest(9);
  d.m.tick(1_000_000);
  assert.deepEqual(d.m.drain(), []);
  assert.equal(d.m.phase, 'closed');
});
