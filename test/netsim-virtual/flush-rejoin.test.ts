/**
 * A NAT flush that also resets a peer's TCP connections (its control channel
 * and the relay link, as conntrack -F does when the rendezvous sends first),
 * mid-transfer in xtcp, with the direct path dead at the same moment: the
 * visitor reconnects its control channel and must punch again on the new
 * connection, proving its side of the session with the session's ticket; no
 * relay carries anything meanwhile. In process, bounded in virtual time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIB, eventLine, virtualFlushScenario } from '../../netsim/virtual/scenarios/index.js';

test('provider NAT flushed and the visitor\'s control and relay connections reset mid-transfer: the visitor rejoins its session on a new control connection, punches again, and the transfer completes byte-exact', { timeout: 60_000 }, async (t) => {
  const r = await virtualFlushScenario({ sizeBytes: 16 * MIB, seed: 7, flush: 'provider', resetTcp: 'visitor' });
  t.diagnostic(`reset ${r.resetConnections} connection(s); rejoined ${r.rejoined}; lost after ${r.lostAfterMs} ms, back after ${r.backAfterMs} ms; transfer ${r.transferMs} ms`);
  for (const e of r.events) t.diagnostic(eventLine(e).slice(0, 200));
  assert.equal(r.error, undefined);
  assert.equal(r.leftSockets, 0, 'TCP sockets left');
  assert.equal(r.leftListeners, 0, 'listeners left');
  assert.equal(r.resetConnections, 2, 'the visitor\'s control channel and relay link');
  assert.ok(r.faultAt !== null && r.faultAt !== undefined);
  const after = (who: string, event: string) => r.events.filter((e) => e.fields.component === who && e.event === event && e.t >= (r.faultAt ?? Infinity));
  assert.equal(after('visitor', 'rendezvous-lost').length, 1);
  for (const who of ['visitor', 'provider']) {
    assert.equal(after(who, 'relay-lost').length, 1, `${who}: the relay went`);
    const lost = after(who, 'direct-lost')[0];
    assert.ok(lost, `${who}: direct-lost`);
    assert.equal(lost.fields.fallback, 'none', `${who}: nothing to fall back on`);
    assert.ok(after(who, 'direct-up').some((e) => e.t > lost.t), `${who}: direct-up again`);
    assert.equal(r.events.filter((e) => e.event === 'session-up' && e.fields.component === who).length, 1, `${who}: the same session all along`);
  }
  assert.ok(!r.events.some((e) => e.event === 'punch-failed'), 'the re-punch was brokered');
  assert.equal(r.rejoined, 1, 'the rendezvous let the visitor take its side back');
  assert.equal(r.transferError, undefined);
  assert.ok(r.upVerified && r.downVerified, 'byte-exact both ways');
});

test('the provider\'s control and relay connections reset with the direct path: the provider, back on a new control connection, speaks first with its ticket, and the visitor\'s re-punch reaches it', { timeout: 60_000 }, async (t) => {
  const r = await virtualFlushScenario({ sizeBytes: 16 * MIB, seed: 7, flush: 'provider', resetTcp: 'provider' });
  t.diagnostic(`reset ${r.resetConnections} connection(s); rejoined ${r.rejoined}; lost after ${r.lostAfterMs} ms, back after ${r.backAfterMs} ms; transfer ${r.transferMs} ms`);
  for (const e of r.events) t.diagnostic(eventLine(e).slice(0, 200));
  assert.equal(r.error, undefined);
  assert.equal(r.resetConnections, 2, 'the provider\'s control channel and relay link');
  const after = (who: string, event: string) => r.events.filter((e) => e.fields.component === who && e.event === event && e.t >= (r.faultAt ?? Infinity));
  assert.equal(after('provider', 'rendezvous-lost').length, 1);
  for (const who of ['visitor', 'provider']) {
    const lost = after(who, 'direct-lost')[0];
    assert.ok(lost, `${who}: direct-lost`);
    assert.ok(after(who, 'direct-up').some((e) => e.t > lost.t), `${who}: direct-up again`);
    assert.equal(r.events.filter((e) => e.event === 'session-up' && e.fields.component === who).length, 1, `${who}: the same session all along`);
  }
  assert.equal(r.rejoined, 1, 'the rendezvous let the provider take its side back');
  assert.equal(r.transferError, undefined);
  assert.ok(r.upVerified && r.downVerified, 'byte-exact both ways');
});
