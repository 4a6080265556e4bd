/**
 * The rendezvous's heartbeat policy (rendezvous/heartbeat.ts), simulated
 * against peers that ping on their own and peers that only answer: every
 * peer hears from the server well within its 20 s silence timeout, a silent
 * one is dropped, RTTs stay fresh, and a peer that pings costs the server
 * one ping a minute, not one per tick.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { heartbeatAction, heartbeatTimers, livenessAtLogin, type PeerLiveness } from '../../rendezvous/heartbeat.js';
import { DEFAULT_RENDEZVOUS_LIMITS } from '../../rendezvous/limits.js';

const T = heartbeatTimers(DEFAULT_RENDEZVOUS_LIMITS);
/** What peers give the server (peer/control-client.ts's default). */
const PEER_SILENCE_MS = 20_000;

interface Run {
  /** Gaps between consecutive messages the server sent the peer (pongs and pings), login included. */
  maxGapToPeer: number;
  serverPings: number;
  /** The oldest an RTT sample got (time since the ping that yields the latest one). */
  maxRttAge: number;
  droppedAt: number | null;
}

/**
 * Event-driven run of one peer for `durationMs`: ticks every tickMs plus
 * jitter; a pinging peer pings every `pingEveryMs` plus jitter (answered at
 * once with a pong); every peer answers our pings after `rttMs`, unless it
 * went silent at `silentFrom`.
 */
function simulate(opts: { pingEveryMs: number | null; rttMs: number; jitterMs: number; silentFrom?: number; durationMs: number; seed: number }): Run {
  let rng = opts.seed >>> 0 || 1;
  const jitter = () => {
    rng = (rng * 1103515245 + 12345) >>> 0;
    return (rng / 2 ** 32) * opts.jitterMs;
  };
  const p: PeerLiveness = livenessAtLogin(0);
  let lastToPeer = 0;
  let maxGap = 0;
  let pings = 0;
  let rttPingAt = 0;
  let maxRttAge = 0;
  const alive = (t: number) => opts.silentFrom === undefined || t < opts.silentFrom;
  // Pending events: [time, kind].
  const events: Array<[number, 'tick' | 'peer-ping' | 'pong-arrives', number?]> = [[T.tickMs + jitter(), 'tick'], [opts.rttMs, 'pong-arrives', 0]];
  if (opts.pingEveryMs !== null) events.push([opts.pingEveryMs + jitter(), 'peer-ping']);
  const toPeer = (t: number) => {
    maxGap = Math.max(maxGap, t - lastToPeer);
    lastToPeer = t;
  };
  for (let guard = 0; guard < 100_000 && events.length > 0; guard++) {
    events.sort((a, b) => a[0] - b[0]);
    const [now, kind, sentAt] = events.shift() ?? [Infinity, 'tick'];
    if (now > opts.durationMs) break;
    maxRttAge = Math.max(maxRttAge, now - rttPingAt);
    if (kind === 'tick') {
      const a = heartbeatAction(p, now, T);
      if (a === 'drop') return { maxGapToPeer: maxGap, serverPings: pings, maxRttAge, droppedAt: now };
      if (a === 'ping') {
        pings++;
        p.lastPing = now;
        toPeer(now);
        if (alive(now)) events.push([now + opts.rttMs, 'pong-arrives', now]);
      }
      events.push([now + T.tickMs + jitter(), 'tick']);
    } else if (kind === 'peer-ping') {
      if (!alive(now)) continue;
      p.lastSeen = now;
      p.lastPong = now;
      toPeer(now);
      events.push([now + (opts.pingEveryMs ?? 0) + jitter(), 'peer-ping']);
    } else {
      p.lastSeen = now;
      rttPingAt = sentAt ?? 0;
    }
  }
  return { maxGapToPeer: maxGap, serverPings: pings, maxRttAge, droppedAt: null };
}

describe('rendezvous heartbeat policy', () => {
  it('a peer that pings every 5 s gets one server ping a minute (the RTT refresh), not one per tick', () => {
    const r = simulate({ pingEveryMs: 5000, rttMs: 2, jitterMs: 30, durationMs: 600_000, seed: 7 });
    assert.equal(r.droppedAt, null);
    // Ten minutes: 10 refreshes (at most 11 with the tick's phase), where a ping every tick would be 60.
    assert.ok(r.serverPings >= 9 && r.serverPings <= 11, `${r.serverPings} server pings in 10 min`);
    assert.ok(r.maxRttAge <= T.rttRefreshMs + T.tickMs + 100, `RTT sample ${r.maxRttAge} ms old`);
    assert.ok(r.maxGapToPeer <= 5100, `the peer waited ${r.maxGapToPeer} ms for a message`);
  });

  it('a peer that never pings is pinged every tick, so its silence timer never fires', () => {
    const r = simulate({ pingEveryMs: null, rttMs: 2, jitterMs: 30, durationMs: 600_000, seed: 3 });
    assert.equal(r.droppedAt, null, 'its pongs keep it alive');
    assert.ok(r.serverPings >= 59, `${r.serverPings} server pings in 10 min`);
    assert.ok(r.maxGapToPeer < T.tickMs + 100, `the peer waited ${r.maxGapToPeer} ms`);
  });

  it('a peer gone silent is dropped after the timeout, not before', () => {
    const r = simulate({ pingEveryMs: 5000, rttMs: 2, jitterMs: 30, silentFrom: 100_000, durationMs: 600_000, seed: 11 });
    assert.ok(r.droppedAt !== null, 'dropped');
    assert.ok(r.droppedAt > 100_000 + T.timeoutMs - 5000 && r.droppedAt <= 100_000 + T.timeoutMs + T.tickMs + 100, `dropped at ${r.droppedAt}`);
  });

  it('any peer (pinging at any pace up to its silence timeout or not at all, any RTT, any jitter) hears from the server within its silence timeout and keeps a fresh RTT', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 200, max: 19_000 }), { nil: null }),
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 1, max: 2 ** 31 }),
        (pingEveryMs, rttMs, jitterMs, seed) => {
          const r = simulate({ pingEveryMs, rttMs, jitterMs, durationMs: 300_000, seed });
          assert.equal(r.droppedAt, null);
          assert.ok(r.maxGapToPeer < PEER_SILENCE_MS, `gap ${r.maxGapToPeer} ms`);
          assert.ok(r.maxGapToPeer <= T.tickMs + T.keepaliveAfterMs + 2 * jitterMs, `gap ${r.maxGapToPeer} ms`);
          assert.ok(r.maxRttAge <= T.rttRefreshMs + T.tickMs + jitterMs + rttMs, `RTT ${r.maxRttAge} ms old`);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the timers table follows the limits', () => {
    const t = heartbeatTimers({ ...DEFAULT_RENDEZVOUS_LIMITS, heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 3500, rttRefreshMs: 6000 });
    assert.deepEqual(t, { tickMs: 1000, timeoutMs: 3500, keepaliveAfterMs: 500, rttRefreshMs: 6000 });
    assert.equal(heartbeatAction(livenessAtLogin(0), 499, t), 'none');
    assert.equal(heartbeatAction(livenessAtLogin(0), 500, t), 'ping');
    assert.equal(heartbeatAction({ lastSeen: 5000, lastPong: 5500, lastPing: 0 }, 5900, t), 'none');
    assert.equal(heartbeatAction({ lastSeen: 5000, lastPong: 5500, lastPing: 0 }, 6000, t), 'ping');
    assert.equal(heartbeatAction({ lastSeen: 0, lastPong: 0, lastPing: 0 }, 3501, t), 'drop');
  });
});
