/** The peer's side: what it reports, when, and only to a rendezvous that asked. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeControlFrame, MAX_CONTROL_FRAME, parseClientMessage, type ClientMessage, type RendezvousCapabilities, type SessionReport } from '../../src/control/index.js';
import { REPORT_TICK_MS, reportMessage, SessionReporter, sessionReport } from '../../peer/session-reporter.js';
import type { SessionView } from '../../peer/session-view.js';
import { VirtualScheduler } from '../../netsim/virtual/scheduler.js';

const CONN = 'c0ffee00' + '1'.repeat(24);

/** A session as the reporter reads it; `path` can change under it. */
function fakeView(state: { path: 'relay' | 'direct' }): SessionView {
  return {
    service: 'nas',
    session: {
      mux: { stats: { dataBytesOut: 1200, dataBytesIn: 3400 } },
      srttMs: 12.4,
      get currentPath() {
        return { kind: state.path, label: 'x' };
      },
    },
    setup: {
      connId: CONN,
      get directKind() {
        return state.path === 'direct' ? 'direct internet IPv6' : null;
      },
      direct: { status: 'punching' },
      punches: { direct: state.path === 'direct' ? 1 : 0, failed: 1 },
      lastFailure: { attempt: 0, reason: 'no answer', timeline: '+0ms probe-sent 203.0.113.7:4000 x3' },
    },
  } as unknown as SessionView;
}

function fakeControl(caps: RendezvousCapabilities) {
  const sent: ClientMessage[] = [];
  return { sent, control: { isUp: true, generation: 1, capabilities: caps, send: (m: ClientMessage) => (sent.push(m), true) } };
}

describe('SessionReporter', () => {
  it('sends nothing to a rendezvous that did not ask', async () => {
    const clock = new VirtualScheduler();
    const { sent, control } = fakeControl({ reportEveryMs: null });
    const r = new SessionReporter(control, () => [fakeView({ path: 'relay' })], clock);
    r.onUp();
    await clock.advance(20_000);
    assert.deepEqual(sent, []);
  });

  it('reports at once, every interval, and within a tick of a path change', async () => {
    const clock = new VirtualScheduler();
    const state: { path: 'relay' | 'direct' } = { path: 'relay' };
    const { sent, control } = fakeControl({ reportEveryMs: 5000 });
    const r = new SessionReporter(control, () => [fakeView(state)], clock);
    r.onUp();
    assert.equal(sent.length, 1);
    await clock.advance(2 * REPORT_TICK_MS);
    assert.equal(sent.length, 1, 'nothing new before the interval');
    state.path = 'direct';
    await clock.advance(REPORT_TICK_MS);
    assert.equal(sent.length, 2, 'the path change went out at the next tick');
    const last = sent[1];
    assert.equal(last?.type, 'report');
    assert.equal(last?.type === 'report' ? last.sessions[0]?.path : '', 'direct_internet');
    assert.equal(last?.type === 'report' ? last.sessions[0]?.family : '', 'ipv6');
    await clock.advance(5000);
    assert.equal(sent.length, 3, 'and again after the interval');
    r.stop();
    await clock.advance(20_000);
    assert.equal(sent.length, 3, 'nothing after stop');
  });

  it('builds a report the rendezvous accepts, from numbers and words only', () => {
    const rep = sessionReport(fakeView({ path: 'relay' }), 3.4);
    assert.deepEqual(rep, {
      connId: CONN,
      service: 'nas',
      path: 'relay',
      rttMs: 12,
      bytesSent: 1200,
      bytesReceived: 3400,
      ageSeconds: 3,
      punchesDirect: 0,
      punchesFailed: 1,
      direct: 'punching',
      failure: { attempt: 0, reason: 'no answer', timeline: '+0ms probe-sent 203.0.113.7:4000 x3' },
    });
    assert.equal(parseClientMessage(reportMessage([rep])).ok, true);
  });

  it('fits a control frame however many sessions and timelines: the newest first, older ones without their timelines, then none', () => {
    const big: SessionReport[] = Array.from({ length: 80 }, (_, i) => ({
      ...sessionReport(fakeView({ path: 'relay' }), i),
      connId: i.toString(16).padStart(32, '0'),
      failure: { attempt: 1, reason: 'r'.repeat(500), timeline: 't'.repeat(4000) },
    }));
    const m = reportMessage(big);
    assert.ok(encodeControlFrame(m).length <= MAX_CONTROL_FRAME);
    assert.equal(parseClientMessage(m).ok, true);
    assert.ok(m.sessions.length > 0 && m.sessions.length <= 64);
    assert.equal(m.sessions[0]?.ageSeconds, 0, 'the newest is kept');
    assert.equal(m.sessions[0]?.failure?.timeline, 't'.repeat(4000), 'the newest keeps its timeline');
    assert.equal(m.sessions.at(-1)?.failure?.timeline, '', 'older ones lose theirs first');
  });
});
