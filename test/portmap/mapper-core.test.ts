import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortMapperCore, epochSaysRestarted, type PortMapAction, type PortMapProtocol } from '../../src/portmap/mapper-core.js';
import { PORTMAP_TIMERS } from '../../src/portmap/timers.js';

const ALL = new Set<PortMapProtocol>(['pcp', 'natpmp', 'upnp']);
const kinds = (a: PortMapAction[]) => a.map((x) => (x.kind === 'event' ? `event:${x.event.type}` : x.kind === 'probe' ? 'probe' : `${x.kind}:${x.protocol}`));

function started(opts: ConstructorParameters<typeof PortMapperCore>[0] = { internalPort: 40000 }): PortMapperCore {
  const core = new PortMapperCore(opts);
  core.start(0);
  assert.deepEqual(kinds(core.takeActions()), ['probe']);
  return core;
}

const grant = (o: Partial<Parameters<PortMapperCore['mapSucceeded']>[0]> = {}) => ({
  protocol: 'pcp' as PortMapProtocol,
  externalAddress: '11.0.0.1',
  externalPort: 40000,
  lifetimeSeconds: 7200,
  epoch: 100,
  ...o,
});

test('prefers PCP, then NAT-PMP, then UPnP among the protocols that answered the probe', () => {
  const core = started();
  core.probed(ALL, 10);
  assert.deepEqual(core.takeActions(), [{ kind: 'map', protocol: 'pcp', suggestedExternalPort: 40000, refresh: false }]);
  const restricted = started({ internalPort: 40000, protocols: ['upnp', 'natpmp'] });
  restricted.probed(ALL, 10);
  assert.deepEqual(kinds(restricted.takeActions()), ['map:natpmp']);
});

test('a refused protocol falls through to the next; when all fail, one failed event and a retry later', () => {
  const core = started();
  core.probed(new Set(['natpmp', 'upnp']), 0);
  assert.deepEqual(kinds(core.takeActions()), ['map:natpmp']);
  core.mapFailed('natpmp', 'refused: not authorized', 5);
  assert.deepEqual(kinds(core.takeActions()), ['map:upnp']);
  core.mapFailed('upnp', '718 ConflictInMappingEntry', 9);
  const [failed] = core.takeActions();
  assert.equal(failed?.kind === 'event' && failed.event.type === 'failed' && failed.event.kind, 'refused');
  assert.match(JSON.stringify(failed), /NAT-PMP: refused: not authorized; UPnP IGD: 718/);
  assert.equal(core.nextDeadline(), 9 + PORTMAP_TIMERS.retryAfterFailureMs);
  core.poll(9 + PORTMAP_TIMERS.retryAfterFailureMs);
  assert.deepEqual(kinds(core.takeActions()), ['probe']);
});

test('nothing answered: failed no-service', () => {
  const core = started();
  core.probed(new Set(), 250);
  const [e] = core.takeActions();
  assert.ok(e?.kind === 'event' && e.event.type === 'failed' && e.event.kind === 'no-service');
});

test('mapped: one event, refresh at half the granted lifetime (or the cap), quiet when nothing changed', () => {
  const core = started();
  core.probed(ALL, 0);
  core.takeActions();
  core.mapSucceeded(grant({ lifetimeSeconds: 120 }), 1000);
  assert.deepEqual(core.takeActions(), [
    { kind: 'event', event: { type: 'mapped', protocol: 'pcp', externalAddress: '11.0.0.1', externalPort: 40000, lifetimeSeconds: 120 } },
  ]);
  assert.equal(core.nextDeadline(), 1000 + 60_000);
  core.poll(60_999);
  assert.deepEqual(core.takeActions(), []);
  core.poll(61_000);
  assert.deepEqual(core.takeActions(), [{ kind: 'map', protocol: 'pcp', suggestedExternalPort: 40000, refresh: true }]);
  core.mapSucceeded(grant({ lifetimeSeconds: 120, epoch: 160 }), 61_050);
  assert.deepEqual(core.takeActions(), [], 'a plain refresh says nothing');
  const capped = started({ internalPort: 1, maxRefreshIntervalMs: 2000 });
  capped.probed(ALL, 0);
  capped.takeActions();
  capped.mapSucceeded(grant(), 0);
  assert.equal(capped.nextDeadline(), 2000);
});

test('an epoch that went back on refresh means the router restarted: lost, then mapped again', () => {
  const core = started();
  core.probed(new Set(['natpmp']), 0);
  core.takeActions();
  core.mapSucceeded(grant({ protocol: 'natpmp', epoch: 500, lifetimeSeconds: 60 }), 0);
  core.takeActions();
  core.poll(30_000);
  core.takeActions();
  core.mapSucceeded(grant({ protocol: 'natpmp', epoch: 3, lifetimeSeconds: 60 }), 30_000);
  const events = core.takeActions();
  assert.deepEqual(kinds(events), ['event:lost', 'event:mapped']);
  assert.match(JSON.stringify(events[0]), /restarted \(epoch 500 s went to 3 s\)/);
});

test('UPnP: the router no longer had the mapping on refresh: lost, then mapped again', () => {
  const core = started({ internalPort: 5, protocols: ['upnp'] });
  core.probed(ALL, 0);
  core.takeActions();
  core.mapSucceeded({ protocol: 'upnp', externalAddress: '11.0.0.1', externalPort: 40000, lifetimeSeconds: 7200 }, 0);
  core.takeActions();
  core.poll(core.nextDeadline()!);
  core.takeActions();
  core.mapSucceeded({ protocol: 'upnp', externalAddress: '11.0.0.1', externalPort: 40000, lifetimeSeconds: 7200, previousMissing: true }, 3_600_000);
  assert.deepEqual(kinds(core.takeActions()), ['event:lost', 'event:mapped']);
});

test('a private, shared, loopback or unspecified external address is not advertised: unmapped, failed with the reason', () => {
  for (const [addr, kind] of [['100.64.3.4', 'behind-nat'], ['10.1.2.3', 'behind-nat'], ['192.168.0.1', 'behind-nat'], ['172.20.0.1', 'behind-nat'], ['0.0.0.0', 'no-address'], ['127.0.0.1', 'no-address']] as const) {
    const core = started();
    core.probed(ALL, 0);
    core.takeActions();
    core.mapSucceeded(grant({ externalAddress: addr }), 100);
    const actions = core.takeActions();
    assert.deepEqual(kinds(actions), ['unmap:pcp', 'event:failed'], addr);
    const ev = actions[1];
    assert.ok(ev?.kind === 'event' && ev.event.type === 'failed');
    assert.equal(ev.event.kind, kind, addr);
    assert.equal(ev.event.externalAddress, addr, 'the failed event names the address (burrow nat reports it)');
    if (kind === 'behind-nat') assert.match(ev.event.reason, /another NAT sits above the router: the mapping is not advertised/);
    assert.equal(core.mapping, null);
    assert.equal(core.nextDeadline(), 100 + PORTMAP_TIMERS.retryAfterUnusableAddressMs);
  }
});

test('a refusal that names a shared external address reports behind-nat', () => {
  const core = started({ internalPort: 1, protocols: ['pcp'] });
  core.probed(ALL, 0);
  core.takeActions();
  core.mapFailed('pcp', 'refused: NO_RESOURCES', 10, '100.64.0.1');
  const [e] = core.takeActions();
  assert.ok(e?.kind === 'event' && e.event.type === 'failed' && e.event.kind === 'behind-nat', JSON.stringify(e));
  assert.equal(e.event.externalAddress, '100.64.0.1');
});

test('failed refreshes are retried until the mapping would expire, then lost and a new probe', () => {
  const core = started();
  core.probed(ALL, 0);
  core.takeActions();
  core.mapSucceeded(grant({ lifetimeSeconds: 20 }), 0);
  core.takeActions();
  let now = core.nextDeadline()!;
  assert.equal(now, 10_000);
  core.poll(now);
  core.takeActions();
  core.mapFailed('pcp', 'no answer', now);
  assert.equal(core.nextDeadline(), now + PORTMAP_TIMERS.refreshRetryMs);
  for (let i = 0; i < 10 && core.nextDeadline() !== null; i++) {
    now = core.nextDeadline()!;
    core.poll(now);
    const a = core.takeActions();
    if (kinds(a).includes('event:lost')) {
      assert.deepEqual(kinds(a), ['event:lost', 'probe']);
      assert.ok(now >= 20_000);
      return;
    }
    core.mapFailed('pcp', 'no answer', now);
  }
  assert.fail('never expired');
});

test('close asks to delete the live mapping and stops all timers', () => {
  const core = started();
  core.probed(ALL, 0);
  core.takeActions();
  core.mapSucceeded(grant({ externalPort: 40123 }), 0);
  core.takeActions();
  core.close();
  assert.deepEqual(core.takeActions(), [{ kind: 'unmap', protocol: 'pcp', externalPort: 40123 }]);
  assert.equal(core.nextDeadline(), null);
  core.close();
  assert.deepEqual(core.takeActions(), []);
});

test('epoch rules: NAT-PMP allows 7/8 of elapsed time minus 2 s; PCP checks both directions', () => {
  assert.equal(epochSaysRestarted('natpmp', 100, 0, 108, 10_000), false);
  assert.equal(epochSaysRestarted('natpmp', 100, 0, 106, 10_000), true);
  assert.equal(epochSaysRestarted('pcp', 100, 0, 110, 10_000), false);
  assert.equal(epochSaysRestarted('pcp', 100, 0, 99, 10_000), true);
  assert.equal(epochSaysRestarted('pcp', 100, 0, 500, 10_000), true, 'the server jumped far ahead of the client');
});
